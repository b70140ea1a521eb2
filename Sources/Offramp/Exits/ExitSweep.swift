import Foundation

// MARK: - Accuracy against speed-up over policies and their settings

/// One setting's outcome on a labeled set.
public struct SweepPoint: Sendable, Equatable {
    public let policy: String
    public let setting: String
    /// Accuracy: per input (classification) or per word (labeling).
    public let accuracy: Double
    /// Strict entity F1, for labeling with BIO tags.
    public let f1: Double?
    public let averageExitLayer: Double
    public let flopsSpeedup: Double
    public let wallSpeedup: Double
    public let exitPolicy: ExitPolicy
    /// On the full-depth point: how far two identical full-depth timings of
    /// the run differed (relative), what a wall speed-up can be trusted to.
    public let wallNoise: Double?

    public init(policy: String, setting: String, accuracy: Double, f1: Double? = nil, averageExitLayer: Double,
                flopsSpeedup: Double, wallSpeedup: Double, exitPolicy: ExitPolicy, wallNoise: Double? = nil) {
        self.policy = policy; self.setting = setting; self.accuracy = accuracy; self.f1 = f1; self.wallNoise = wallNoise
        self.averageExitLayer = averageExitLayer
        self.flopsSpeedup = flopsSpeedup; self.wallSpeedup = wallSpeedup; self.exitPolicy = exitPolicy
    }

    /// The score that matters: F1 for BIO tag sets, else accuracy.
    public var score: Double { f1 ?? accuracy }

    /// The JSON line `offramp sweep --json` prints ("f1" only for BIO tag sets).
    public var json: String {
        let f = f1.map { String(format: ",\"f1\":%.4f", $0) } ?? ""
        let noise = wallNoise.map { String(format: ",\"wall_noise\":%.4f", $0) } ?? ""
        return String(format: "{\"policy\":\"%@\",\"setting\":\"%@\",\"accuracy\":%.4f%@,\"avg_exit_layer\":%.4f,\"flops_speedup\":%.4f,\"wall_speedup\":%.4f%@}",
                      policy, setting, accuracy, f, averageExitLayer, flopsSpeedup, wallSpeedup, noise)
    }
}

public enum ExitSweep {
    /// The settings swept for each policy name (`ExitPolicy.Kind.sweep`):
    /// the defaults, or `thresholds` (entropy, confidence, SENTEE, TOKEE) and
    /// `windows` (TOKEE) when given. Unknown names sweep nothing.
    public static func policies(_ names: [String], layers: Int, thresholds: [Double]? = nil,
                                windows: [Int]? = nil) -> [ExitPolicy] {
        names.compactMap(ExitPolicy.Kind.init(rawValue:)).flatMap { $0.sweep(layers: layers, thresholds: thresholds, windows: windows) }
    }

    /// Runs the full-depth baseline and every policy on `examples`, timing
    /// each against the full-depth run in the same process at the same batch
    /// size: after a full warm-up pass, `repeats` interleaved rounds (see
    /// `interleaved`), each timing the median of its rounds. The full point
    /// carries the noise of two identical full-depth timings (`wallNoise`).
    ///
    /// With word-vector elimination (`retention`, PoWER-BERT; default: the
    /// model's saved configuration), the baseline stays the full model
    /// without elimination; a "power" point (elimination alone) follows it,
    /// and every policy runs with elimination.
    public static func run(_ runner: EarlyExitRunner, examples: [EncodedExample], policies: [ExitPolicy],
                           batchSize: Int, continuous: Bool = false, retention: WordVectorRetention = .saved,
                           repeats: Int = 3, progress: (String) -> Void = { _ in }) throws -> [SweepPoint] {
        precondition(repeats >= 1, "at least one round")
        let elimination = try runner.model.resolve(retention)
        let model = runner.model
        let bio = model.settings.task == .label && EntityF1.isBIO(model.labels)
        func score(_ run: ExitRun) -> (accuracy: Double, f1: Double?) {
            var correct = 0, total = 0
            for (r, e) in zip(run.results, examples) {
                for (guess, gold) in zip(r.labels, e.labels) where gold >= 0 {
                    total += 1
                    if guess == Int(gold) { correct += 1 }
                }
            }
            let accuracy = total == 0 ? 0 : Double(correct) / Double(total)
            guard bio else { return (accuracy, nil) }
            let gold = examples.map { $0.labels.map { $0 >= 0 ? model.labels[Int($0)] : "O" } }
            let predicted = run.results.map { $0.labels.map { model.labels[$0] } }
            return (accuracy, EntityF1.score(gold: gold, predicted: predicted).overall.f1)
        }
        // Warm-up over every input (pages, caches, thread wake-ups, clock ramp),
        // so the baseline is not the run that pays for them.
        _ = try runner.run(examples, policy: .full, batchSize: batchSize, retention: .all)
        let withElimination = elimination.map { WordVectorRetention.configuration($0) } ?? .all
        var runs: [(ExitPolicy, String?)] = policies.map { ($0, nil) }
        if elimination != nil { runs.insert((.full, "power"), at: 0) }
        // Every setting is timed the same way, in interleaved rounds: full depth
        // at the start and at the end of each round, every setting once in
        // between, each timing the median of its rounds. A drift of the
        // machine's speed then moves the baseline and the settings alike, and
        // the two full-depth timings of a round, identical work, show how far
        // the wall column can be trusted (the noise).
        let timing = try interleaved(rounds: repeats, seconds: \.seconds, [
            { try runner.run(examples, policy: .full, batchSize: batchSize, retention: .all) },
        ] + runs.map { policy, _ in
            { try runner.run(examples, policy: policy, batchSize: batchSize, continuous: continuous, retention: withElimination) }
        })
        let full = timing.first[0], fullSeconds = timing.seconds[0]
        let fullScore = score(full)
        var points = [SweepPoint(policy: "full", setting: "-", accuracy: fullScore.accuracy, f1: fullScore.f1,
                                 averageExitLayer: full.averageExitLayer, flopsSpeedup: full.flopsSpeedup, wallSpeedup: 1,
                                 exitPolicy: .full, wallNoise: timing.noise)]
        progress(String(format: "  full depth: %.3f s a pass; two identical full-depth timings differ by %.1f%% (the wall column's noise)",
                        fullSeconds, 100 * timing.noise))
        for (i, (policy, label)) in runs.enumerated() {
            let r = timing.first[i + 1]
            let s = score(r)
            let p = SweepPoint(policy: label ?? policy.name, setting: label == nil ? policy.setting : elimination!.description,
                               accuracy: s.accuracy, f1: s.f1,
                               averageExitLayer: r.averageExitLayer, flopsSpeedup: r.flopsSpeedup,
                               wallSpeedup: fullSeconds / timing.seconds[i + 1], exitPolicy: policy)
            progress(String(format: "  %@ %@: accuracy %.2f%@, exit layer %.2f, %.2fx FLOPs, %.2fx wall",
                            p.policy, p.setting, 100 * p.accuracy, p.f1.map { String(format: ", F1 %.2f", 100 * $0) } ?? "",
                            p.averageExitLayer, p.flopsSpeedup, p.wallSpeedup))
            points.append(p)
        }
        return points
    }

    /// Times `bodies` (body 0 the baseline) in interleaved rounds: each round
    /// runs the baseline, every other body once, then the baseline again. At
    /// least `rounds` rounds, and more (up to 9) until the baseline's runs add
    /// up to a second, so a small set is not timed by one noisy run. Returns
    /// each body's first result (results are the same every time), its median
    /// seconds (the baseline's over both of its runs a round), and the noise:
    /// |median of the rounds' first baseline runs / median of their last − 1|.
    package static func interleaved<Run>(rounds: Int, seconds: (Run) -> Double,
                                         _ bodies: [() throws -> Run]) throws -> (first: [Run], seconds: [Double], noise: Double) {
        var first: [Run] = [], times = [[Double]](repeating: [], count: bodies.count)
        var opening: [Double] = [], closing: [Double] = []
        func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2 }
        var round = 0
        while round < rounds || (opening.reduce(0, +) + closing.reduce(0, +) < 1 && round < 9) {
            for (i, body) in bodies.enumerated() {
                let r = try body()
                if round == 0 { first.append(r) }
                times[i].append(seconds(r))
                if i == 0 { opening.append(seconds(r)) }
            }
            let again = seconds(try bodies[0]())
            times[0].append(again)
            closing.append(again)
            round += 1
        }
        let noise = abs(median(opening) / max(median(closing), 1e-12) - 1)
        return (first, times.map(median), noise)
    }

    /// A markdown table of the points.
    public static func table(_ points: [SweepPoint]) -> String {
        let hasF1 = points.contains { $0.f1 != nil }
        var lines = ["| policy | setting | accuracy |\(hasF1 ? " F1 |" : "") avg exit layer | FLOPs speed-up | wall speed-up |",
                     "|---|---:|---:|\(hasF1 ? "---:|" : "")---:|---:|---:|"]
        for p in points {
            let f1 = hasF1 ? String(format: " %.2f |", 100 * (p.f1 ?? 0)) : ""
            lines.append(String(format: "| %@ | %@ | %.2f |%@ %.2f | %.2fx | %.2fx |", p.policy, p.setting, 100 * p.accuracy,
                                f1, p.averageExitLayer, p.flopsSpeedup, p.wallSpeedup))
        }
        if let noise = points.first(where: { $0.policy == "full" })?.wallNoise {
            lines += ["", String(format: "Wall noise: two identical full-depth timings in this run differ by %.1f%%; "
                + "wall speed-ups closer than that to 1 are not a difference.", 100 * noise)]
        }
        return lines.joined(separator: "\n")
    }

    /// The fastest point (by FLOPs speed-up, which does not depend on machine
    /// noise) whose accuracy is at most `maxDrop` points below full depth.
    public static func calibrate(_ points: [SweepPoint], maxDrop: Double) -> SweepPoint? {
        guard let full = points.first(where: { $0.policy == "full" }) else { return nil }
        return points.filter { $0.score >= full.score - maxDrop / 100 }
            .max { ($0.flopsSpeedup, -$0.averageExitLayer) < ($1.flopsSpeedup, -$1.averageExitLayer) }
    }

    /// The plot: accuracy against FLOPs speed-up (left) and wall-clock
    /// speed-up (right), one curve per policy, full depth as a point.
    public static func plot(_ points: [SweepPoint], title: String) -> String {
        let f1 = points.contains { $0.f1 != nil }
        var plot = SVGPlot(title: title, panels: ["speed-up in FLOPs", "speed-up in wall-clock time"],
                           yLabel: f1 ? "entity F1 (%)" : "accuracy (%)")
        // One curve per policy; TOKEE gets one per window.
        func series(_ p: SweepPoint) -> String {
            if case .tokee(let k, _, _) = p.exitPolicy { return "\(p.policy) k=\(k)" }
            return p.policy
        }
        let names = points.map(series).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        for name in names {
            let ps = points.filter { series($0) == name }
            plot.add(series: name, panel: 0, points: ps.map { ($0.flopsSpeedup, 100 * $0.score) })
            plot.add(series: name, panel: 1, points: ps.map { ($0.wallSpeedup, 100 * $0.score) })
        }
        return plot.render()
    }
}
