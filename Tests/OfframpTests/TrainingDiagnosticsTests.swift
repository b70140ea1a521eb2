import Foundation
import Offramp
import Testing

/// The majority-class check that warns when training learned little.
@Suite struct TrainingDiagnosticsTests {
    static func example(_ labels: [Int32]) -> EncodedExample {
        EncodedExample(ids: [1, 2], typeIds: [0, 0], queryPositions: Array(0..<labels.count), labels: labels)
    }

    @Test func majorityBaselineCountsQueriesAndBreaksTiesByIndex() throws {
        let dev = [Self.example([1]), Self.example([0]), Self.example([1]), Self.example([-1])]
        let base = try #require(TrainingDiagnostics.majorityBaseline(dev))
        #expect(base.label == 1 && abs(base.accuracy - 2.0 / 3) < 1e-12, "unlabeled queries are left out")
        let words = [Self.example([2, 2, 0]), Self.example([0, -1])]
        #expect(TrainingDiagnostics.majorityBaseline(words)?.label == 0, "a tie (two each) goes to the smaller index")
        #expect(TrainingDiagnostics.majorityBaseline([Self.example([-1])]) == nil)
    }

    @Test func warnsOnlyNearTheBaseline() throws {
        let dev = (0..<10).map { Self.example([$0 < 7 ? 0 : 1]) }  // always "neg": 70%
        let labels = ["neg", "pos"]
        let weak = try #require(TrainingDiagnostics.weakModelWarning(dev: dev, finalExitAccuracies: [0.60, 0.71], labels: labels))
        #expect(weak.contains("71.00") && weak.contains("\"neg\" (70.00)"))
        #expect(TrainingDiagnostics.weakModelWarning(dev: dev, finalExitAccuracies: [0.65, 0.72], labels: labels) == nil,
                "the best epoch counts, and 72 is 2 points above")
        #expect(TrainingDiagnostics.weakModelWarning(dev: [], finalExitAccuracies: [0.5], labels: labels) == nil)
    }
}

/// The defaults `offramp train` takes when none are given.
@Suite struct TrainingDefaultsTests {
    /// About 800 steps, within 3-30 epochs: MR (8,454 at batch 32) keeps the
    /// main job's 3 epochs, WSJ POS's 850 sentences get 30, a large set 3.
    @Test func epochsAimAtTheStepTarget() {
        #expect(TrainingDefaults.epochs(examples: 8_454, batchSize: 32) == 3)
        #expect(TrainingDefaults.epochs(examples: 850, batchSize: 32) == 30)
        #expect(TrainingDefaults.epochs(examples: 3_200, batchSize: 32) == 8)
        #expect(TrainingDefaults.epochs(examples: 1_000_000, batchSize: 32) == 3)
        #expect(TrainingDefaults.epochs(examples: 0, batchSize: 0) == 30)
    }

    /// A sentence-transformers checkpoint's 1_Pooling/config.json chooses the
    /// pooling (MiniLM-L6's says mean); a directory without one says nothing;
    /// a malformed one is an error naming the file.
    @Test func poolingComesFromTheCheckpoint() throws {
        #expect(try TrainingDefaults.pooling(ofCheckpoint: TestSupport.cached("models/minilm-l6"))?.pooling == .mean)
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try TrainingDefaults.pooling(ofCheckpoint: dir) == nil)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("1_Pooling"), withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("1_Pooling/config.json")
        try #"{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#.write(to: file, atomically: true, encoding: .utf8)
        #expect(try TrainingDefaults.pooling(ofCheckpoint: dir)?.pooling == .cls)
        try #"{"pooling_mode_max_tokens": true}"#.write(to: file, atomically: true, encoding: .utf8)
        #expect(try TrainingDefaults.pooling(ofCheckpoint: dir) == nil)
        try "not json".write(to: file, atomically: true, encoding: .utf8)
        let error = #expect(throws: OfframpError.self) { try TrainingDefaults.pooling(ofCheckpoint: dir) }
        #expect(error?.description.contains("1_Pooling/config.json") == true)
    }
}
