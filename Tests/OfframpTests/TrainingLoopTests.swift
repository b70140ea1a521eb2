import Foundation
import Offramp
import Testing

/// The training loop on a tiny model: it learns, it is reproducible, and a
/// run killed mid-epoch and resumed ends exactly where an uninterrupted run does.
@Suite struct TrainingLoopTests {
    static func model(_ dir: URL, head: HeadKind = .linear) throws -> MultiExitModel {
        try MultiExitModel.create(pretrained: dir, settings: ExitSettings(task: .classify, labels: ["neg", "pos"], head: head,
                                                                          pooling: .mean, exits: [1, 2]), seed: 3)
    }

    static func options(epochs: Int = 2, lr: Float = 1e-3) -> TrainingOptions {
        var o = TrainingOptions()
        o.mode = .joint; o.epochs = epochs; o.batchSize = 5; o.learningRate = lr; o.seed = 5; o.showProgress = false
        return o
    }

    @Test func sameSeedSameLossCurveAndResumeMatchesUninterrupted() throws {
        let pretrained = try TestModels.tinyPretrained()
        let work = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: pretrained); try? FileManager.default.removeItem(at: work) }
        let data = TestModels.classificationExamples()

        let a = Trainer(model: try Self.model(pretrained), options: Self.options())
        try a.run(train: data, dev: [], out: work.appendingPathComponent("a"), log: { _ in })
        let b = Trainer(model: try Self.model(pretrained), options: Self.options())
        try b.run(train: data, dev: [], out: work.appendingPathComponent("b"), log: { _ in })
        #expect(a.reports.map(\.meanLoss) == b.reports.map(\.meanLoss), "same seed, same loss curve")
        #expect(a.model.store.storage.array == b.model.store.storage.array)

        // Killed in the middle of epoch 2 (5 steps per epoch): only epoch 1's checkpoint exists.
        var killed = Self.options()
        killed.stopAfterSteps = 7
        let c = Trainer(model: try Self.model(pretrained), options: killed)
        let outC = work.appendingPathComponent("c")
        try c.run(train: data, dev: [], out: outC, log: { _ in })
        #expect(c.globalStep == 7)
        let resumed = Trainer(model: try MultiExitModel.load(directory: outC), options: Self.options())
        try resumed.run(train: data, dev: [], out: outC, resume: true, log: { _ in })
        #expect(resumed.globalStep == 10)
        #expect(resumed.lastLoss == a.lastLoss, "final loss \(resumed.lastLoss) vs \(a.lastLoss)")
        #expect(resumed.model.store.storage.array == a.model.store.storage.array, "final weights differ")
        // And what is on disk loads back bit-exactly.
        let reloaded = try MultiExitModel.load(directory: outC)
        #expect(reloaded.store.storage.array == a.model.store.storage.array)
    }

    @Test(arguments: [HeadKind.linear, .fastbert])
    func jointTrainingLearnsEveryExit(head: HeadKind) throws {
        let pretrained = try TestModels.tinyPretrained()
        let work = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: pretrained); try? FileManager.default.removeItem(at: work) }
        let data = TestModels.classificationExamples()
        let trainer = Trainer(model: try Self.model(pretrained, head: head), options: Self.options(epochs: 25, lr: 5e-3))
        try trainer.run(train: data, dev: data, out: work.appendingPathComponent("m"), log: { _ in })
        #expect(trainer.reports.last!.meanLoss < trainer.reports.first!.meanLoss * 0.5, "\(trainer.reports.map(\.meanLoss))")
        #expect(trainer.reports.last!.devAccuracy.allSatisfy { $0 >= 0.9 }, "\(trainer.reports.last!.devAccuracy)")
    }

    @Test func resumeWithAnotherModeIsRefused() throws {
        let pretrained = try TestModels.tinyPretrained()
        let work = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: pretrained); try? FileManager.default.removeItem(at: work) }
        var o = Self.options(epochs: 2)
        o.stopAfterSteps = 7  // unfinished: its state stays in m.resume
        let out = work.appendingPathComponent("m")
        try Trainer(model: try Self.model(pretrained), options: o).run(train: TestModels.classificationExamples(), dev: [], out: out, log: { _ in })
        o.stopAfterSteps = nil
        o.mode = .finetune
        let t = Trainer(model: try MultiExitModel.load(directory: out), options: o)
        let error = #expect(throws: OfframpError.self) { try t.run(train: TestModels.classificationExamples(), dev: [], out: out, resume: true, log: { _ in }) }
        #expect(error?.message.contains("--mode joint") == true)
    }
}
