import Foundation
import Offramp
import Testing

/// What a finished training run leaves: the best dev epoch (by the final
/// exit) or the last, the model without optimizer state unless asked, and
/// no resume state once it is done.
@Suite struct CheckpointKeepingTests {
    static func options(keep: CheckpointChoice) -> TrainingOptions {
        var o = TrainingOptions()
        // A large rate, so dev accuracy moves from epoch to epoch and the best is not always the last.
        o.mode = .joint; o.epochs = 8; o.batchSize = 4; o.learningRate = 3e-2; o.seed = 5; o.showProgress = false
        o.keep = keep
        return o
    }

    static func model(_ pretrained: URL) throws -> MultiExitModel {
        try MultiExitModel.create(pretrained: pretrained, settings: ExitSettings(task: .classify, labels: ["neg", "pos"],
                                                                                 pooling: .mean, exits: [1, 2]), seed: 3)
    }

    @Test func keepsTheBestDevEpochByTheFinalExit() throws {
        let pretrained = try TestModels.tinyPretrained()
        let work = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: pretrained); try? FileManager.default.removeItem(at: work) }
        let data = TestModels.classificationExamples(), dev = Array(data.prefix(12))
        let out = work.appendingPathComponent("best")
        let trainer = Trainer(model: try Self.model(pretrained), options: Self.options(keep: .best))
        try trainer.run(train: data, dev: dev, out: out, log: { _ in })
        let finals = trainer.reports.map { $0.devAccuracy.last! }
        let kept = try MultiExitModel.load(directory: out)
        #expect(try kept.exitScores(dev).accuracy.last == finals.max(), "dev accuracy of the final exit per epoch: \(finals)")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("trainer_state.safetensors").path))
        #expect(!FileManager.default.fileExists(atPath: Trainer.resumeDirectory(for: out).path), "a finished run leaves no resume state")
    }

    @Test func keepLastWithOptimizerStateHoldsTheFinalWeightsAndState() throws {
        let pretrained = try TestModels.tinyPretrained()
        let work = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: pretrained); try? FileManager.default.removeItem(at: work) }
        let data = TestModels.classificationExamples()
        var o = Self.options(keep: .last)
        o.keepOptimizerState = true
        let out = work.appendingPathComponent("last")
        let trainer = Trainer(model: try Self.model(pretrained), options: o)
        try trainer.run(train: data, dev: Array(data.prefix(12)), out: out, log: { _ in })
        #expect(try MultiExitModel.load(directory: out).store.storage.array == trainer.model.store.storage.array)
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("trainer_state.safetensors").path))
    }

    /// A directory replaced while readers look: every look sees a whole
    /// version (the crash test in CommandLineTrainingTests kills the writer).
    @Test func replacedDirectoryIsNeverMissing() throws {
        let work = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let dir = work.appendingPathComponent("d")
        try replaceDirectoryAtomically(dir) { try Data("0".utf8).write(to: $0.appendingPathComponent("v")) }
        for i in 1...50 {
            try replaceDirectoryAtomically(dir) { try Data("\(i)".utf8).write(to: $0.appendingPathComponent("v")) }
            #expect(try String(contentsOf: dir.appendingPathComponent("v"), encoding: .utf8) == "\(i)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: work.path) == ["d"], "no temporary directories left")
    }
}
