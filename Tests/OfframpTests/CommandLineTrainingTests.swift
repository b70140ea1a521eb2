import Foundation
import Offramp
import Testing

/// `offramp train` in every mode, `power search` then `retrain`, and a run
/// killed with SIGKILL then resumed, through the built executable on the
/// tiny model and data of `CommandLineFixtures`.
@Suite("offramp: training commands") struct CommandLineTrainingTests {
    typealias F = CommandLineFixtures

    struct Mode: CustomTestStringConvertible, Sendable {
        let mode: String
        /// "pretrained", "classifier" or "tagger": where training starts.
        let from: String
        let arguments: [String]
        var testDescription: String { mode }
    }

    static let modes: [Mode] = [
        Mode(mode: "finetune", from: "pretrained", arguments: ["--train", "{train.tsv}", "--dev", "{dev.tsv}"]),
        Mode(mode: "joint", from: "pretrained", arguments: ["--train", "{train.tsv}", "--dev", "{dev.tsv}", "--head", "fastbert"]),
        Mode(mode: "two-stage", from: "pretrained", arguments: ["--train", "{train.tsv}", "--dev", "{dev.tsv}", "--pooling", "mean"]),
        // FastBERT self-distillation needs no labels: unlabeled text trains it.
        Mode(mode: "distill", from: "classifier", arguments: ["--train", "{unlabeled.txt}", "--dev", "{dev.tsv}"]),
        Mode(mode: "tokee-random", from: "tagger", arguments: ["--task", "label", "--train", "{train.conll}", "--dev", "{dev.conll}"]),
        Mode(mode: "tokee-self", from: "tagger", arguments: ["--task", "label", "--train", "{train.conll}", "--dev", "{dev.conll}"]),
    ]

    static func model(_ name: String) throws -> URL {
        switch name {
        case "classifier": try F.classifier.get()
        case "tagger": try F.tagger.get()
        default: try F.pretrained.get()
        }
    }

    static func resolve(_ arguments: [String]) throws -> [String] {
        try arguments.map { $0.hasPrefix("{") ? try F.data(String($0.dropFirst().dropLast())) : $0 }
    }

    @Test(arguments: modes)
    func trainsInEveryMode(_ m: Mode) throws {
        let out = try TestSupport.temporaryDirectory().appendingPathComponent("model")
        defer { try? FileManager.default.removeItem(at: out.deletingLastPathComponent()) }
        let arguments = ["train", "--model", try Self.model(m.from).path, "--mode", m.mode, "--epochs", "2", "--max-length", F.maxLength,
                         "--batch-size", "6", "--lr", "5e-3", "--out", out.path] + (try Self.resolve(m.arguments))
        let r = try OfframpProcess.run(arguments)
        try #require(r.status == 0, "\(r.transcript)")
        #expect(r.stderr.contains("mode \(m.mode)"), "\(r.transcript)")
        #expect(r.stderr.contains("dev after"), "a dev table after each epoch: \(r.transcript)")
        #expect(r.stderr.contains("settings: epochs 2, batch 6, max length \(F.maxLength), lr 0.005"), "the settings used: \(r.transcript)")
        // New heads beside the backbone learn at 10x --lr by default (said); distill and two-stage keep --lr.
        let scaled = try #require(TrainingMode(rawValue: m.mode).map(TrainingDefaults.scalesHeadLearningRate))
        #expect(r.stderr.contains(scaled ? "lr 0.005, head lr 0.05, " : "lr 0.005, head lr 0.005, "), "\(r.transcript)")
        #expect(r.stderr.contains("head lr 0.05 (10x --lr") == scaled, "\(r.transcript)")
        let settings = try F.settings(out)
        #expect(settings.trainingMode == m.mode)
        #expect(settings.exits == [1, 2, 3, 4])
        if m.mode == "joint" { #expect(settings.head == .fastbert) }
        if m.mode == "two-stage" { #expect(settings.pooling == .mean) }
        #expect(try MultiExitModel.load(directory: out).layerCount == 4)
    }

    /// FastBERT's recipe on a classifier fine-tuned with HF: `train --mode
    /// distill` on unlabeled text adds FastBERT students by default (said on
    /// the defaults line), the HF head stays the final exit computing what it
    /// computed, and the result exports back to HF.
    @Test func distillOntoAHFClassifierAddsFastBERTStudents() throws {
        let work = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let hf = TestSupport.fixture("hf-heads/seq"), out = work.appendingPathComponent("distilled")
        let r = try F.succeed(["train", "--model", hf.path, "--mode", "distill", "--epochs", "2", "--max-length", F.maxLength,
                               "--batch-size", "6", "--train", try F.data("unlabeled.txt"), "--out", out.path])
        #expect(r.stderr.contains("defaults taken: head fastbert below the HF classifier's head"), "\(r.transcript)")
        #expect(r.stderr.contains("fastbert/cls heads below the HF classifier's head (linear on [CLS])"), "\(r.transcript)")
        let settings = try F.settings(out)
        #expect(settings.head == .fastbert && settings.huggingFaceFinalExit == true && settings.exits == [1, 2])
        let original = try MultiExitModel.load(directory: hf), distilled = try MultiExitModel.load(directory: out)
        let examples = try ["w1 w2 w3", "w4", "w5 w6 w7 w8"].map {
            let e = try original.tokenizer.encode($0, pair: nil, maxLength: 16)
            return EncodedExample(ids: e.ids, typeIds: e.typeIds, queryPositions: [0], labels: [-1])
        }
        let want = try original.allExitLogits(ExampleBatch(examples))[0], got = try distilled.allExitLogits(ExampleBatch(examples))
        #expect(zip(got[1], want).allSatisfy { abs($0 - $1) <= 1e-5 }, "the teacher is frozen: \(got[1]) vs \(want)")
        try F.succeed(["export", "hf", "--model", out.path, "--out", work.appendingPathComponent("exported").path])
        #expect(try MultiExitModel.load(directory: work.appendingPathComponent("exported")).allExitLogits(ExampleBatch(examples)) == got)
    }

    /// Killed with SIGKILL once it has saved an epoch, then --resume: the
    /// same weights, byte for byte, as a run that was never interrupted.
    @Test func resumeAfterKillMatchesUninterrupted() throws {
        let work = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        func arguments(_ out: URL) throws -> [String] {
            try F.trainArguments(["--mode", "joint", "--epochs", "12", "--batch-size", "4", "--seed", "9",
                                  "--train", F.data("train.tsv"), "--out", out.path])
        }
        let whole = work.appendingPathComponent("whole"), killed = work.appendingPathComponent("killed")
        try F.succeed(try arguments(whole))

        let run = try OfframpProcess(try arguments(killed))
        let state = Trainer.resumeDirectory(for: killed).appendingPathComponent("trainer_state.safetensors")
        let deadline = Date(timeIntervalSinceNow: 60)
        while !FileManager.default.fileExists(atPath: state.path) && run.process.isRunning && Date() < deadline { usleep(1_000) }
        kill(run.process.processIdentifier, SIGKILL)
        let first = try run.wait()
        try #require(first.status == SIGKILL && run.process.terminationReason == .uncaughtSignal,
                     "the run must be killed mid-way (make it longer if it finished first): \(first.transcript)")
        let resumed = try OfframpProcess.run(try arguments(killed) + ["--resume"])
        try #require(resumed.status == 0, "\(resumed.transcript)")
        let a = try Data(contentsOf: whole.appendingPathComponent("model.safetensors"))
        let b = try Data(contentsOf: killed.appendingPathComponent("model.safetensors"))
        #expect(a == b, "resumed weights differ from the uninterrupted run's")
    }

    /// power search saves a configuration; retrain re-trains at it with the
    /// selection the search saved; eval runs with it.
    @Test func powerSearchThenRetrain() throws {
        let work = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let search = work.appendingPathComponent("search"), retrain = work.appendingPathComponent("retrain")
        let common = ["--train", try F.data("train.tsv"), "--dev", try F.data("dev.tsv"), "--epochs", "1", "--batch-size", "6", "--lr", "5e-3"]
        let s = try F.succeed(["power", "search", "--model", try F.classifier.get().path, "--out", search.path,
                               "--lambda", "1e-2", "--selection", "head"] + common)
        #expect(s.stderr.contains("retention configuration"), "\(s.transcript)")
        let found = try F.settings(search)
        let lengths = try #require(found.retention)
        #expect(lengths.count == 4 && lengths == lengths.sorted(by: >))
        #expect(found.extractSelection == .head)

        try F.succeed(["power", "retrain", "--model", search.path, "--out", retrain.path, "--test", try F.data("dev.tsv")] + common)
        let kept = try F.settings(retrain)
        #expect(kept.retention == lengths)
        #expect(kept.extractSelection == .head, "retrain keeps the selection the search saved")
        let e = try F.succeed(["eval", "--model", retrain.path, "--data", try F.data("dev.tsv"), "--json"])
        #expect(e.stdoutLines.count == 4, "\(e.transcript)")
    }

    /// The same seed gives the same search and re-training bit for bit on 1
    /// and on 2 worker threads: the retention parameters r (in the optimizer
    /// state kept beside the model), the weights and the configuration. On
    /// MiniLM-L6, so the products are large enough to be split across the
    /// workers (the weight gradients, ~140M multiply-adds each, go to OpenBLAS
    /// in one share per worker) and attention runs in several task runs.
    @Test func powerSearchAndRetrainAreThreadCountIndependent() throws {
        let work = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let data = ["--train", try F.data("calibration.tsv"), "--dev", try F.data("dev.tsv"), "--batch-size", "30", "--max-length", "16"]
        let base = work.appendingPathComponent("base")
        try F.succeed(["train", "--model", TestSupport.cached("models/minilm-l6").path, "--mode", "joint", "--pooling", "mean",
                       "--epochs", "1", "--out", base.path] + data)
        func run(threads: Int) throws -> (search: URL, retrain: URL) {
            let search = work.appendingPathComponent("search-\(threads)"), retrain = work.appendingPathComponent("retrain-\(threads)")
            let env = ["OFFRAMP_THREADS": "\(threads)"]
            try F.succeed(["power", "search", "--model", base.path, "--out", search.path, "--lambda", "1e-2", "--retention-lr", "3e-2",
                           "--epochs", "2", "--keep", "last", "--keep-optimizer-state"] + data, environment: env)
            try F.succeed(["power", "retrain", "--model", search.path, "--out", retrain.path, "--epochs", "1", "--keep", "last"] + data,
                          environment: env)
            return (search, retrain)
        }
        let one = try run(threads: 1), two = try run(threads: 2)
        func bytes(_ dir: URL, _ name: String) throws -> Data { try Data(contentsOf: dir.appendingPathComponent(name)) }
        let state = try SafeTensorsFile(url: one.search.appendingPathComponent("trainer_state.safetensors"))
        #expect(state.tensors["retention.r"] != nil, "the kept optimizer state holds r")
        #expect(try bytes(one.search, "trainer_state.safetensors") == bytes(two.search, "trainer_state.safetensors"),
                "r or the optimizer state differ between 1 and 2 threads")
        #expect(try bytes(one.search, "model.safetensors") == bytes(two.search, "model.safetensors"))
        #expect(try F.settings(one.search).retention == F.settings(two.search).retention)
        #expect(try bytes(one.retrain, "model.safetensors") == bytes(two.retrain, "model.safetensors"),
                "re-trained weights differ between 1 and 2 threads")
    }

    /// Crash consistency: a training run (writing the deliverable and the
    /// resume state after every one-step epoch, so it is writing most of the
    /// time) is killed with SIGKILL after a random delay, 24 times, resumed
    /// each time. After every kill both directories load as whole
    /// checkpoints, and the resume state is of one epoch: its weights'
    /// step is the optimizer state's.
    @Test func killedWriterAlwaysLeavesALoadableCheckpoint() throws {
        let work = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let out = work.appendingPathComponent("m"), resumeDir = Trainer.resumeDirectory(for: out)
        let arguments = try F.trainArguments(["--mode", "joint", "--epochs", "10000", "--batch-size", "24", "--train", F.data("train.tsv"),
                                              "--out", out.path])
        var rng = SeededRandom(seed: 2026)
        // How long start-up takes here, up to the first save: kills land from
        // then on, at random points of the writes that follow.
        let first = try OfframpProcess(arguments), start = Date()
        while !FileManager.default.fileExists(atPath: resumeDir.path) && first.process.isRunning && Date() < start + 60 { usleep(1_000) }
        let startUp = Date().timeIntervalSince(start)
        kill(first.process.processIdentifier, SIGKILL)
        _ = try first.wait()
        var midWrite = 0, trials = 0
        while trials < 24 {
            let run = try OfframpProcess(arguments + ["--resume"])
            usleep(UInt32(startUp * 1e6) + UInt32(rng.next() % 300_000))
            kill(run.process.processIdentifier, SIGKILL)
            let r = try run.wait()
            try #require(run.process.terminationReason == .uncaughtSignal, "the run ended by itself: \(r.transcript)")
            trials += 1
            let names = try FileManager.default.contentsOfDirectory(atPath: work.path)
            if names.contains(where: { $0.hasPrefix(".m.") }) { midWrite += 1 }  // a temporary directory: killed mid-write
            _ = try MultiExitModel.load(directory: out)
            _ = try MultiExitModel.load(directory: resumeDir)
            let weights = try SafeTensorsFile(url: resumeDir.appendingPathComponent("model.safetensors"))
            let state = try SafeTensorsFile(url: resumeDir.appendingPathComponent("trainer_state.safetensors"))
            #expect(weights.metadata["offramp_step"] == state.metadata["global_step"], "trial \(trials): a mixture of two epochs")
        }
        print("crash consistency: \(trials) kills after the first save, \(midWrite) of them inside a directory write")
        #expect(midWrite > 0, "no kill landed inside a write in \(trials) trials")
        // The next successful write clears what the killed writers left.
        try F.succeed(try F.trainArguments(["--mode", "joint", "--epochs", "1", "--train", F.data("train.tsv"), "--out", out.path]))
        #expect(try FileManager.default.contentsOfDirectory(atPath: work.path) == ["m"])
    }
}
