import ArgumentParser
import Foundation
import Offramp

// MARK: - offramp sweep

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Accuracy against FLOPs and wall-clock speed-up over exit policies and settings: a table, an SVG plot, --json lines.")

    @OptionGroup var checkpoint: ModelOptions
    @OptionGroup var labeled: LabeledDataOptions
    @Option(help: ArgumentHelp("Policies to sweep, comma-separated (\(defaultSweepPoliciesHelp))."))
    var policies: String?
    @Option(help: "Thresholds instead of the defaults, comma-separated (entropy, confidence, sentee, tokee).") var thresholds: String?
    @Option(help: "TOKEE window half-widths, comma-separated (default 0,1,2,4).") var windows: String?
    @OptionGroup var batch: BatchOptions
    @Flag(help: "Continuous batching across depth.") var continuous = false
    @Option(help: "Timing rounds: full depth and every setting once a round, interleaved; each wall figure is the median of its rounds (more rounds on a set that runs in under a second).")
    var repeats: Int = 3
    // No default file: a command writes only where it is told.
    @Option(help: "Also draw the points as an SVG plot in this file.") var plot: String?
    @OptionGroup var retentionOptions: RetentionOptions
    @Flag(help: "One JSON object per setting instead of the table.") var json = false

    /// The --thresholds and --windows values, each checked.
    var ts: [Double]? { get throws { try thresholds.map { try parseList($0, option: "--thresholds", valid: { (0...1).contains($0) }, range: "a number in [0, 1]") } } }
    var ks: [Int]? { get throws { try windows.map { try parseList($0, option: "--windows", valid: { (0...1024).contains($0) }, range: "a window half-width in 0...1024") } } }

    func validate() throws {
        try require((1...50).contains(repeats), "--repeats must be in 1...50, got \(repeats)")
        _ = try ts
        _ = try ks
    }

    func run() throws {
        let m = try checkpoint.load()
        let kinds = try sweepPolicyKinds(policies, for: m)
        if thresholds != nil && !kinds.contains(where: { $0.settings.contains(.threshold) && $0 != .patienceConfidence }) {
            throw UsageError("--thresholds applies to entropy, confidence, sentee and tokee policies; --policies has none")
        }
        if windows != nil && !kinds.contains(where: { $0.settings.contains(.window) }) {
            throw UsageError("--windows applies to the tokee policies; --policies has none")
        }
        let grid = ExitSweep.policies(kinds.map(\.name), layers: m.layerCount, thresholds: try ts, windows: try ks)
        let examples = try labeled.examples(for: m)
        let points = try ExitSweep.run(try EarlyExitRunner(model: m), examples: examples, policies: grid, batchSize: batch.batchSize,
                                       continuous: continuous, retention: try retentionOptions.resolve(m), repeats: repeats,
                                       progress: printError)
        if json { points.forEach { print($0.json) } } else { print(ExitSweep.table(points)) }
        guard let plot else { return }
        let metric = points.first?.f1 != nil ? "entity F1" : "accuracy"
        let title = "\(URL(fileURLWithPath: labeled.data).lastPathComponent): \(metric) vs speed-up (batch \(batch.batchSize))"
        try writeAtomically(Data(ExitSweep.plot(points, title: title).utf8), to: URL(fileURLWithPath: plot))
        printError("plot written to \(plot)")
    }
}
