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
    @Option(help: "Write the plot here.") var plot: String = "sweep.svg"
    @OptionGroup var retentionOptions: RetentionOptions
    @Flag(help: "One JSON object per setting instead of the table.") var json = false

    func run() throws {
        let m = try checkpoint.load()
        let names = (policies ?? defaultSweepPolicies(m)).split(separator: ",").map(String.init)
        let known = ExitPolicy.names(for: m.settings.task).filter { $0 != "full" }
        for n in names where !known.contains(n) {
            throw OfframpError("policy \"\(n)\" in --policies does not apply to this model (\(m.settings.task.rawValue); known: \(known.joined(separator: ", ")))")
        }
        let ts: [Double]? = try thresholds.map { try parseList($0, option: "--thresholds", valid: { (0...1).contains($0) }, range: "a number in [0, 1]") }
        let ks: [Int]? = try windows.map { try parseList($0, option: "--windows", valid: { $0 >= 0 }, range: "a window half-width (0 or more)") }
        let grid = ExitSweep.policies(names, layers: m.layerCount, thresholds: ts, windows: ks)
        let examples = try labeled.examples(for: m)
        let points = try ExitSweep.run(try EarlyExitRunner(model: m), examples: examples, policies: grid, batchSize: batch.batchSize,
                                       continuous: continuous, retention: try retentionOptions.resolve(m), progress: printError)
        if json { points.forEach { print($0.json) } } else { print(ExitSweep.table(points)) }
        let metric = points.first?.f1 != nil ? "entity F1" : "accuracy"
        let title = "\(URL(fileURLWithPath: labeled.data).lastPathComponent): \(metric) vs speed-up (batch \(batch.batchSize))"
        try writeAtomically(Data(ExitSweep.plot(points, title: title).utf8), to: URL(fileURLWithPath: plot))
        printError("plot written to \(plot)")
    }
}
