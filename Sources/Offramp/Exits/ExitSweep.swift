import Foundation

// MARK: - Accuracy against speed-up over policies and their settings

/// One setting's outcome on a labeled set.
public struct SweepPoint: Sendable, Equatable {
    public let policy: String
    public let setting: String
    public let accuracy: Double
    public let averageExitLayer: Double
    public let flopsSpeedup: Double
    public let wallSpeedup: Double
    public let exitPolicy: ExitPolicy

    public init(policy: String, setting: String, accuracy: Double, averageExitLayer: Double, flopsSpeedup: Double,
                wallSpeedup: Double, exitPolicy: ExitPolicy) {
        self.policy = policy; self.setting = setting; self.accuracy = accuracy; self.averageExitLayer = averageExitLayer
        self.flopsSpeedup = flopsSpeedup; self.wallSpeedup = wallSpeedup; self.exitPolicy = exitPolicy
    }

    /// The JSON line `offramp sweep --json` prints.
    public var json: String {
        String(format: "{\"policy\":\"%@\",\"setting\":\"%@\",\"accuracy\":%.4f,\"avg_exit_layer\":%.4f,\"flops_speedup\":%.4f,\"wall_speedup\":%.4f}",
               policy, setting, accuracy, averageExitLayer, flopsSpeedup, wallSpeedup)
    }
}

public enum ExitSweep {
    /// The settings swept by default for each policy name.
    public static func policies(_ names: [String], layers: Int) -> [ExitPolicy] {
        names.flatMap { name -> [ExitPolicy] in
            switch name {
            case "entropy": return [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.96].map { .entropy($0) }
            case "confidence": return [0.99, 0.98, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55].map { .confidence($0) }
            case "patience": return (1..<layers).map { .patience($0) }
            case "budget": return (1...layers).map { .budget(layer: $0) }
            case "patience-confidence": return [0.1, 0.2, 0.3, 0.5].flatMap { t in [1, 2].map { .patienceConfidence(patience: $0, tau: t) } }
            default: return []
            }
        }
    }

    /// Runs the full-depth baseline and every policy on `examples`, timing
    /// each against the full-depth run in the same process at the same batch
    /// size (the baseline is the median of three full runs after a full warm-up pass).
    public static func run(_ runner: EarlyExitRunner, examples: [EncodedExample], policies: [ExitPolicy],
                           batchSize: Int, continuous: Bool = false, progress: (String) -> Void = { _ in }) throws -> [SweepPoint] {
        func accuracy(_ run: ExitRun) -> Double {
            let labeled = zip(run.results, examples).filter { $0.1.labels[0] >= 0 }
            return labeled.isEmpty ? 0 : Double(labeled.filter { $0.0.label == Int($0.1.labels[0]) }.count) / Double(labeled.count)
        }
        // Warm-up over every input (pages, caches, thread wake-ups, clock ramp),
        // so the baseline is not the run that pays for them.
        _ = try runner.run(examples, policy: .full, batchSize: batchSize)
        var fullRuns = try (0..<3).map { _ in try runner.run(examples, policy: .full, batchSize: batchSize) }
        fullRuns.sort { $0.seconds < $1.seconds }
        let full = fullRuns[1]
        var points = [SweepPoint(policy: "full", setting: "-", accuracy: accuracy(full), averageExitLayer: full.averageExitLayer,
                                 flopsSpeedup: full.flopsSpeedup, wallSpeedup: 1, exitPolicy: .full)]
        for policy in policies {
            let r = try runner.run(examples, policy: policy, batchSize: batchSize, continuous: continuous)
            let p = SweepPoint(policy: policy.name, setting: policy.setting, accuracy: accuracy(r), averageExitLayer: r.averageExitLayer,
                               flopsSpeedup: r.flopsSpeedup, wallSpeedup: full.seconds / r.seconds, exitPolicy: policy)
            progress(String(format: "  %@ %@: accuracy %.2f, exit layer %.2f, %.2fx FLOPs, %.2fx wall",
                            p.policy, p.setting, 100 * p.accuracy, p.averageExitLayer, p.flopsSpeedup, p.wallSpeedup))
            points.append(p)
        }
        return points
    }

    /// A markdown table of the points.
    public static func table(_ points: [SweepPoint]) -> String {
        var lines = ["| policy | setting | accuracy | avg exit layer | FLOPs speed-up | wall speed-up |", "|---|---:|---:|---:|---:|---:|"]
        for p in points {
            lines.append(String(format: "| %@ | %@ | %.2f | %.2f | %.2fx | %.2fx |", p.policy, p.setting, 100 * p.accuracy,
                                p.averageExitLayer, p.flopsSpeedup, p.wallSpeedup))
        }
        return lines.joined(separator: "\n")
    }

    /// The fastest point (by FLOPs speed-up, which does not depend on machine
    /// noise) whose accuracy is at most `maxDrop` points below full depth.
    public static func calibrate(_ points: [SweepPoint], maxDrop: Double) -> SweepPoint? {
        guard let full = points.first(where: { $0.policy == "full" }) else { return nil }
        return points.filter { $0.accuracy >= full.accuracy - maxDrop / 100 }
            .max { ($0.flopsSpeedup, -$0.averageExitLayer) < ($1.flopsSpeedup, -$1.averageExitLayer) }
    }

    /// The plot: accuracy against FLOPs speed-up (left) and wall-clock
    /// speed-up (right), one curve per policy, full depth as a point.
    public static func plot(_ points: [SweepPoint], title: String) -> String {
        var plot = SVGPlot(title: title, panels: ["speed-up in FLOPs", "speed-up in wall-clock time"], yLabel: "accuracy (%)")
        let names = points.map(\.policy).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        for name in names {
            let ps = points.filter { $0.policy == name }
            plot.add(series: name, panel: 0, points: ps.map { ($0.flopsSpeedup, 100 * $0.accuracy) })
            plot.add(series: name, panel: 1, points: ps.map { ($0.wallSpeedup, 100 * $0.accuracy) })
        }
        return plot.render()
    }
}
