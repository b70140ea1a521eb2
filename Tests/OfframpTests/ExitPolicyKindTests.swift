import Offramp
import Testing

/// The policy table (`ExitPolicy.Kind`): names, tasks, default sweeps, and
/// the spellings saved in config.json, which old checkpoints hold.
struct ExitPolicyKindTests {
    @Test func encodedFormsStayThoseOldCheckpointsHold() throws {
        let cases: [(policy: ExitPolicy, encoded: String, setting: String)] = [
            (.full, "full", "-"),
            (.budget(layer: 3), "budget:3", "3"),
            (.entropy(0.3), "entropy:0.3", "0.3"),
            (.confidence(0.75), "confidence:0.75", "0.75"),
            (.patience(2), "patience:2", "2"),
            (.patienceConfidence(patience: 2, tau: 0.1), "patience-confidence:2:0.1", "2@0.1"),
            (.sentee(0.2, .entropy), "sentee:0.2", "0.2"),
            (.sentee(0.95, .confidence), "sentee-confidence:0.95", "0.95"),
            (.tokee(window: 1, tau: 0.25, .entropy), "tokee:1:0.25", "1@0.25"),
            (.tokee(window: 2, tau: 0.9, .confidence), "tokee-confidence:2:0.9", "2@0.9"),
        ]
        #expect(cases.map(\.policy.kind) == ExitPolicy.Kind.allCases)
        for c in cases {
            #expect(c.policy.encoded == c.encoded)
            #expect(c.policy.setting == c.setting)
            #expect(try ExitPolicy(encoded: c.encoded, layers: 6) == c.policy)
        }
        // A setting missing from a saved string is an error naming it.
        #expect(throws: OfframpError("policy tokee needs threshold T")) { try ExitPolicy(encoded: "tokee:2", layers: 6) }
    }

    @Test func tasksAndDefaultSweepsComeFromTheTable() {
        #expect(ExitPolicy.names(for: .classify) == ["full", "budget", "entropy", "confidence", "patience", "patience-confidence"])
        #expect(ExitPolicy.names(for: .label) == ["full", "budget", "sentee", "sentee-confidence", "tokee", "tokee-confidence"])
        #expect(ExitPolicy.Kind.sweptByDefault(for: .classify) == [.entropy, .confidence, .patience])
        #expect(ExitPolicy.Kind.sweptByDefault(for: .label) == [.sentee, .tokee])
        #expect(ExitSweep.policies(["entropy"], layers: 6).count == 13)
        #expect(ExitSweep.policies(["patience", "budget"], layers: 6).count == 5 + 6)
        #expect(ExitSweep.policies(["tokee"], layers: 6).count == 4 * 12)
        #expect(ExitSweep.policies(["tokee-confidence"], layers: 6, thresholds: [0.9], windows: [1]) == [.tokee(window: 1, tau: 0.9, .confidence)])
        #expect(ExitSweep.policies(["full", "nonsense"], layers: 6).isEmpty)
    }
}
