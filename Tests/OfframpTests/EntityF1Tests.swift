import Foundation
import Offramp
import Testing

/// Entity-level F1 against hand-computed cases, broken BIO sequences included
/// (conlleval semantics: an I- after O or after another type starts an entity).
@Suite struct EntityF1Tests {
    @Test func spansFollowConlleval() {
        #expect(EntityF1.spans(["B-PER", "I-PER", "O", "B-LOC"]) ==
                [EntitySpan(type: "PER", start: 0, end: 2), EntitySpan(type: "LOC", start: 3, end: 4)])
        // Broken: I- without B- starts an entity; a type change ends one.
        #expect(EntityF1.spans(["O", "I-ORG", "I-ORG", "I-PER", "B-PER", "I-PER"]) ==
                [EntitySpan(type: "ORG", start: 1, end: 3), EntitySpan(type: "PER", start: 3, end: 4),
                 EntitySpan(type: "PER", start: 4, end: 6)])
        #expect(EntityF1.spans(["O", "O"]).isEmpty)
        #expect(EntityF1.spans(["B-X"]) == [EntitySpan(type: "X", start: 0, end: 1)])
    }

    @Test func strictPrecisionRecallF1ByHand() {
        let gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-PER"]]
        // Sentence 1: PER right, LOC missed; sentence 2: ORG span wrong (too long), PER right, one extra LOC.
        let pred = [["B-PER", "I-PER", "O", "O"], ["B-ORG", "I-ORG", "B-PER"]]
        let r = EntityF1.score(gold: gold, predicted: pred)
        #expect(r.overall == EntityCounts(correct: 2, predicted: 3, gold: 4))
        #expect(abs(r.overall.precision - 2.0 / 3) < 1e-12 && abs(r.overall.recall - 0.5) < 1e-12)
        #expect(abs(r.overall.f1 - 4.0 / 7) < 1e-12)
        #expect(r.byType["PER"] == EntityCounts(correct: 2, predicted: 2, gold: 2))
        #expect(r.byType["LOC"] == EntityCounts(correct: 0, predicted: 0, gold: 1))
        #expect(r.byType["ORG"]!.f1 == 0)
        #expect(EntityF1.table(r).contains("| **all** | 66.67 | 50.00 | 57.14 | 4 |"))
    }

    @Test func bioDetection() {
        #expect(EntityF1.isBIO(["O", "B-PER", "I-PER"]))
        #expect(!EntityF1.isBIO(["NN", "VB", "DT"]))
    }
}

/// The per-exit F1 of a labeling model agrees with scoring its own predictions.
@Suite struct ExitEntityF1Tests {
    @Test func exitF1IsTheScoreOfTheExitPredictions() throws {
        let dir = try TestModels.tinyPretrained()
        defer { try? FileManager.default.removeItem(at: dir) }
        let labels = ["O", "B-X", "I-X"]
        let model = try MultiExitModel.create(pretrained: dir, settings: ExitSettings(task: .label, labels: labels, exits: [1, 2]), seed: 9)
        let examples = (0..<6).map { i -> EncodedExample in
            let ids: [Int32] = [2] + (0..<5).map { Int32(5 + ($0 * 3 + i) % 30) } + [3]
            return EncodedExample(ids: ids, typeIds: ids.map { _ in 0 }, queryPositions: [1, 2, 3, 4, 5],
                                  labels: [0, 1, 2, 0, 1].map { Int32(($0 + i) % 3) })
        }
        let scores = try model.exitScores(examples)
        let f1 = try #require(scores.entityF1)
        let predicted = try model.exitPredictions(examples)
        let gold = examples.map { $0.labels.map { labels[Int($0)] } }
        for e in 0..<2 {
            let want = EntityF1.score(gold: gold, predicted: predicted[e].map { $0.map { labels[$0] } }).overall
            #expect(f1[e] == want)
            #expect(want.gold == 12)  // the six rotated tag rows hold 12 entities (counted by conlleval rules)
        }
        #expect(scores.accuracy.count == 2)
    }
}
