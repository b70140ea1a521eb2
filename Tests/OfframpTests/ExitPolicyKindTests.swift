import Foundation
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

/// The sweep's timing: every setting in interleaved rounds, the baseline at
/// both ends of each, and the noise from those two identical timings.
@Suite struct SweepTimingTests {
    @Test func interleavedRoundsTimeEverySettingAlikeAndMeasureTheNoise() throws {
        var log: [String] = []
        // The baseline takes 1.0 s at a round's start and 1.1 s at its end (a
        // machine slowing down within each round); the setting 0.5 s, then 0.7.
        var baselineCalls = 0, settingCalls = 0
        let t = try ExitSweep.interleaved(rounds: 3, seconds: { (x: Double) in x }, [
            { log.append("full"); baselineCalls += 1; return baselineCalls % 2 == 1 ? 1.0 : 1.1 },
            { log.append("s"); settingCalls += 1; return settingCalls == 1 ? 0.5 : 0.7 },
        ])
        #expect(log == ["full", "s", "full", "full", "s", "full", "full", "s", "full"])
        #expect(t.first == [1.0, 0.5])
        #expect(abs(t.seconds[0] - 1.05) < 1e-12 && abs(t.seconds[1] - 0.7) < 1e-12)
        #expect(abs(t.noise - (1.1 / 1.0 - 1) / 1.1) < 1e-9)  // |1.0/1.1 - 1|
        // A set that runs in well under a second gets more rounds, at most 9.
        var quick = 0
        _ = try ExitSweep.interleaved(rounds: 3, seconds: { (x: Double) in x }, [{ quick += 1; return 0.001 }])
        #expect(quick == 18)
    }

    @Test func theSweepReportsItsWallNoise() throws {
        let (model, dir) = try PowerBertTests.model()
        defer { try? FileManager.default.removeItem(at: dir) }
        let points = try ExitSweep.run(try EarlyExitRunner(model: model), examples: PowerBertTests.examples(), policies: [.entropy(0)],
                                       batchSize: 4, repeats: 2)
        let noise = try #require(points[0].wallNoise)
        #expect(noise.isFinite && noise >= 0 && points[1].wallNoise == nil)
        #expect(points[0].json.contains("\"wall_noise\":") && !points[1].json.contains("wall_noise"))
        #expect(ExitSweep.table(points).contains("Wall noise: two identical full-depth timings"))
    }
}
