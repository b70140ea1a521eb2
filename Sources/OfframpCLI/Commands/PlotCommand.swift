import ArgumentParser
import Foundation
import Offramp

// MARK: - offramp plot

/// `offramp plot`: the bench summaries' plots (bench/summarize_*.py write
/// the points as JSON and call this), drawn by the same SVGPlot as `sweep`.
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Draw curves, markers and a reference line from a JSON file as an SVG plot.",
        discussion: """
            The file: {"curves": [{"name": "...", "points": [[x, y], ...], "envelope": true}], \
            "markers": [{"name": "...", "points": [[x, y]]}], "hline": {"y": 81.5, "label": "..."}}. \
            "curves" is required; "envelope": true draws a curve's upper envelope (at each x, the best y \
            at that x or more); "markers" and "hline" are optional. Unknown fields are errors.
            """)

    @Option(help: ArgumentHelp("The curves, markers and reference line (JSON).", valueName: "file.json")) var series: String
    @Option(help: ArgumentHelp("The SVG file to write.", valueName: "file.svg")) var out: String
    @Option(help: "Title above the plot.") var title: String = ""
    @Option(help: "Label of the x axis.") var xLabel: String = "speed-up"
    @Option(help: "Label of the y axis.") var yLabel: String = "score"
    @Option(help: "Show at most this much of the y axis below the highest point (lower points are left out).")
    var ySpan: Double?

    func validate() throws {
        if let ySpan { try requireNumber(ySpan, "--y-span", "above 0") { $0 > 0 } }
    }

    func run() throws {
        let file = try PlotSeriesFile.load(URL(fileURLWithPath: series))
        let svg = file.plot(title: title, xLabel: xLabel, yLabel: yLabel, maxYSpan: ySpan).render()
        try writeAtomically(Data(svg.utf8), to: URL(fileURLWithPath: out))
        printError("plot written to \(out)")
    }
}
