import Foundation
import Offramp
import Testing

/// Whole-model gradient checks: a tiny 2-layer BERT with every head kind and
/// both tasks, under each training stage's loss, against central finite
/// differences of that loss.
@Suite struct TrainingGradientTests {
    static func batch(task: ExitTask) -> ExampleBatch {
        // Three sequences of lengths 6, 4, 7: [CLS] ... [SEP].
        let seqs: [[Int32]] = [[2, 7, 9, 11, 5, 3], [2, 20, 8, 3], [2, 33, 12, 12, 6, 30, 3]]
        return ExampleBatch(seqs.enumerated().map { i, ids in
            switch task {
            case .classify:
                return EncodedExample(ids: ids, typeIds: ids.map { _ in 0 }, queryPositions: [0], labels: [Int32(i % 3)])
            case .label:
                let positions = Array(1..<(ids.count - 1)).filter { $0 != 2 }  // piece 2 continues a word
                return EncodedExample(ids: ids, typeIds: ids.map { _ in 0 }, queryPositions: positions,
                                      labels: positions.map { Int32(($0 + i) % 3) })
            }
        })
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let head: HeadKind, pooling: HeadPooling, task: ExitTask
        var testDescription: String { "\(head.rawValue)/\(pooling.rawValue)/\(task.rawValue)" }
    }

    static let cases: [Case] = [
        Case(head: .linear, pooling: .cls, task: .classify), Case(head: .linear, pooling: .mean, task: .classify),
        Case(head: .fastbert, pooling: .cls, task: .classify), Case(head: .linear, pooling: .cls, task: .label),
        Case(head: .fastbert, pooling: .cls, task: .label),
    ]

    @Test(arguments: cases, TrainingStage.allCases)
    func wholeModelGradientMatchesFiniteDifferences(_ c: Case, stage: TrainingStage) throws {
        let dir = try TestModels.tinyPretrained()
        defer { try? FileManager.default.removeItem(at: dir) }
        var settings = ExitSettings(task: c.task, labels: ["a", "b", "c"], head: c.head, pooling: c.pooling, exits: [1, 2])
        settings.fastbertWidth = 8
        try Self.check(c.testDescription, pretrained: dir, settings: settings, stage: stage)
    }

    /// The other families' differences train too: RoBERTa's positions, DistilBERT without
    /// token types and with a ReLU head, ELECTRA's embedding projection and GELU head.
    @Test(arguments: [ModelFamily.roberta, .distilbert, .electra], [ExitTask.classify, .label])
    func familyGradientsMatchFiniteDifferences(_ family: ModelFamily, task: ExitTask) throws {
        let dir = try TestModels.tinyPretrained(family: family)
        defer { try? FileManager.default.removeItem(at: dir) }
        let settings = ExitSettings(task: task, labels: ["a", "b", "c"], exits: [1, 2])
        try Self.check("\(family.rawValue)/\(task.rawValue)", pretrained: dir, settings: settings, stage: .joint)
    }

    /// The analytic gradient of `stage`'s loss on a model made from `dir` against finite differences.
    static func check(_ name: String, pretrained dir: URL, settings: ExitSettings, stage: TrainingStage,
                      sourceLocation: SourceLocation = #_sourceLocation) throws {
        let model = try MultiExitModel.create(pretrained: dir, settings: settings, seed: 3)
        TestModels.enlargeHeadWeights(model)
        let trainer = Trainer(model: model, options: TrainingOptions())
        let batch = Self.batch(task: settings.task)
        _ = try trainer.lossAndGradients(batch, stage: stage, pass: .deterministic())
        let analytic = trainer.grads.storage.array
        let count = model.store.storage.count
        var params = model.store.storage.array
        // Sample elements of every entry the stage trains (a few per entry).
        // The last exit is the teacher in distillation and frozen with the
        // backbone in the heads-only stages: not a trained parameter there.
        var indices: [Int] = []
        let lastExit = "exits.\(model.heads.last!.layer)."
        for e in model.store.entries where e.name.hasPrefix("exits.") || stage.trainsBackbone {
            if e.name.hasPrefix("pooler.") { continue }
            if !stage.trainsBackbone && e.name.hasPrefix(lastExit) { continue }
            for k in 0..<min(e.count, 4) { indices.append(e.offset + (k * 7919) % e.count) }
        }
        let storage = model.store.storage.pointer
        checkGradient("\(name) \(stage.rawValue)", parameters: &params, analytic: analytic, h: 1e-2,
                      tolerance: 2e-2, absoluteFloor: 1e-3, indices: indices, sourceLocation: sourceLocation) { p in
            p.withUnsafeBufferPointer { storage.update(from: $0.baseAddress!, count: count) }
            return (try? trainer.lossAndGradients(batch, stage: stage, pass: .deterministic())) ?? .nan
        }
        // Parameters a stage does not train get no gradient.
        for e in model.store.entries where !stage.trainsBackbone && !e.name.hasPrefix("exits.") {
            #expect((0..<e.count).allSatisfy { analytic[e.offset + $0] == 0 }, "\(e.name) got a gradient in \(stage.rawValue)",
                    sourceLocation: sourceLocation)
        }
    }
}
