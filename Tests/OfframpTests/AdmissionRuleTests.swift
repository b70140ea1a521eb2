import Foundation
import Offramp
import Testing

/// `ExitStream.shouldAdmit`: the one admission rule of continuous batching
/// (the runner's and the server's batcher's).
struct AdmissionRuleTests {
    @Test func admitsWhenEmptyAQuarterIsFreeOrAllThatWaitFit() throws {
        let dir = try TestModels.tinyPretrained(layers: 4)
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try MultiExitModel.create(pretrained: dir, settings: ExitSettings(
            task: .classify, labels: ["neg", "pos"], head: .linear, pooling: .mean, exits: [1, 2, 3, 4]), seed: 3)
        let examples = TestModels.classificationExamples()
        func stream(holding count: Int) throws -> ExitStream {
            let s = try ExitStream(runner: try EarlyExitRunner(model: model), batchSize: 8)
            s.admit((0..<count).map { ExitStream.Item(tag: $0, example: examples[$0], policy: .full) })
            return s
        }
        let empty = try stream(holding: 0)
        #expect(!empty.shouldAdmit(waiting: 0))
        #expect(empty.shouldAdmit(waiting: 1) && empty.shouldAdmit(waiting: 100))
        let oneFree = try stream(holding: 7)  // 1 free < a quarter of 8
        #expect(oneFree.shouldAdmit(waiting: 1))
        #expect(!oneFree.shouldAdmit(waiting: 2))
        let quarterFree = try stream(holding: 6)
        #expect(quarterFree.shouldAdmit(waiting: 100))
        #expect(!(try stream(holding: 8)).shouldAdmit(waiting: 1))
    }
}
