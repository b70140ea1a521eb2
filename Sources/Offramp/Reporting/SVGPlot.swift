import Foundation

// MARK: - A small SVG line plot (no dependencies)

/// Side-by-side panels sharing a y axis, each with one polyline per series,
/// plus single-point markers and dashed reference lines (the bench summaries'
/// plots: `offramp plot`).
public struct SVGPlot {
    public let title: String
    public let panels: [String]
    public let yLabel: String
    /// The most of the y axis shown below the highest point: lower points
    /// are left out, so a collapse at high speed-ups does not flatten the
    /// interesting top of the curves. nil: everything is shown.
    public var maxYSpan: Double?
    /// Room for the legend, right of the panels.
    public var legendWidth = 150.0
    /// What follows each x tick: "x" for speed-ups (whose axis always shows 1x), "" for other quantities.
    public var xSuffix = "x"
    var series: [(name: String, panel: Int, points: [(Double, Double)], markers: Bool)] = []
    var referenceLines: [(y: Double, label: String)] = []

    public init(title: String, panels: [String], yLabel: String) {
        self.title = title; self.panels = panels; self.yLabel = yLabel
    }

    /// A curve: a polyline through the points (sorted by x), each point a dot.
    public mutating func add(series name: String, panel: Int, points: [(Double, Double)]) {
        series.append((name, panel, points.sorted { $0.0 < $1.0 }, false))
    }

    /// Points drawn as large dots without a line (one configuration each, say).
    public mutating func add(markers name: String, panel: Int, points: [(Double, Double)]) {
        series.append((name, panel, points.sorted { $0.0 < $1.0 }, true))
    }

    /// A dashed grey line at `y` across every panel, labelled at its right
    /// end; drawn only if `y` is within the axis the points give.
    public mutating func addReferenceLine(y: Double, label: String) {
        referenceLines.append((y, label))
    }

    /// The upper envelope of `points`: for each point, the best y among the
    /// points at its x or more ("the best score at this speed-up or more"),
    /// sorted by x.
    public static func upperEnvelope(_ points: [(Double, Double)]) -> [(Double, Double)] {
        let sorted = points.sorted { $0.0 < $1.0 }
        return sorted.map { p in (p.0, sorted.filter { $0.0 >= p.0 }.map(\.1).max()!) }
    }

    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
                         "#bcbd22", "#7f7f7f", "#393b79", "#637939"]

    /// "Nice" tick values covering lo...hi.
    static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        let span = max(hi - lo, 1e-9)
        let raw = span / Double(count)
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? raw
        var t = (lo / step).rounded(.down) * step
        var out: [Double] = []
        while t <= hi + step * 1e-6 { if t >= lo - step * 1e-6 { out.append(t) }; t += step }
        return out
    }

    public func render() -> String {
        let panelW = 420.0, panelH = 320.0, left = 70.0, top = 50.0, gap = 60.0, bottom = 60.0
        let width = left + Double(panels.count) * panelW + Double(panels.count - 1) * gap + legendWidth
        let height = top + panelH + bottom
        let ys = series.flatMap { $0.points.map(\.1) }
        var yLo = (ys.min() ?? 0), yHi = (ys.max() ?? 1)
        if let maxYSpan { yLo = max(yLo, yHi - maxYSpan) }
        let pad = max((yHi - yLo) * 0.08, 0.5)
        yLo -= pad; yHi += pad
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        svg += "<text x=\"\(width / 2)\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(Self.escape(title))</text>\n"
        let names = series.map(\.name).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        for (pi, panelTitle) in panels.enumerated() {
            let x0 = left + Double(pi) * (panelW + gap)
            let xs = series.filter { $0.panel == pi }.flatMap { $0.points.map(\.0) }
            let speedups = xSuffix == "x"
            let xLo = (speedups ? min(1, xs.min() ?? 1) : xs.min() ?? 0) * 0.95
            let xHi = (speedups ? max(xs.max() ?? 2, 1.1) : max(xs.max() ?? 1, xLo + 1e-9)) * 1.03
            func px(_ x: Double) -> Double { x0 + (x - xLo) / (xHi - xLo) * panelW }
            func py(_ y: Double) -> Double { top + panelH - (y - yLo) / (yHi - yLo) * panelH }
            svg += "<rect x=\"\(x0)\" y=\"\(top)\" width=\"\(panelW)\" height=\"\(panelH)\" fill=\"none\" stroke=\"#333\"/>\n"
            for t in Self.ticks(xLo, xHi) {
                svg += "<line x1=\"\(px(t))\" y1=\"\(top)\" x2=\"\(px(t))\" y2=\"\(top + panelH)\" stroke=\"#eee\"/>"
                svg += "<text x=\"\(px(t))\" y=\"\(top + panelH + 16)\" text-anchor=\"middle\">\(Self.label(t))\(xSuffix)</text>\n"
            }
            for t in Self.ticks(yLo, yHi) {
                svg += "<line x1=\"\(x0)\" y1=\"\(py(t))\" x2=\"\(x0 + panelW)\" y2=\"\(py(t))\" stroke=\"#eee\"/>"
                svg += "<text x=\"\(x0 - 6)\" y=\"\(py(t) + 4)\" text-anchor=\"end\">\(Self.label(t))</text>\n"
            }
            svg += "<text x=\"\(x0 + panelW / 2)\" y=\"\(top + panelH + 40)\" text-anchor=\"middle\">\(Self.escape(panelTitle))</text>\n"
            for s in series where s.panel == pi {
                let color = Self.colors[(names.firstIndex(of: s.name) ?? 0) % Self.colors.count]
                let points = s.points.filter { $0.1 >= yLo }  // all of them unless maxYSpan cut the axis
                let path = points.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
                if points.count > 1 && !s.markers {
                    svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
                }
                for p in points {
                    svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%@\" fill=\"%@\"/>\n", px(p.0), py(p.1), s.markers ? "5" : "3.5", color)
                }
            }
            for line in referenceLines where (yLo...yHi).contains(line.y) {
                svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"gray\" stroke-dasharray=\"5,4\"/>", x0, py(line.y), x0 + panelW, py(line.y))
                svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"gray\">", x0 + panelW - 4, py(line.y) - 4) + Self.escape(line.label) + "</text>\n"
            }
        }
        svg += "<text transform=\"translate(18,\(top + panelH / 2)) rotate(-90)\" text-anchor=\"middle\">\(Self.escape(yLabel))</text>\n"
        let lx = left + Double(panels.count) * (panelW + gap) - gap + 20
        for (i, name) in names.enumerated() {
            let color = Self.colors[i % Self.colors.count], y = top + 16 + Double(i) * 20
            if series.contains(where: { $0.name == name && $0.markers }) {
                svg += "<circle cx=\"\(lx + 11)\" cy=\"\(y - 4)\" r=\"5\" fill=\"\(color)\"/>"
            } else {
                svg += "<line x1=\"\(lx)\" y1=\"\(y - 4)\" x2=\"\(lx + 22)\" y2=\"\(y - 4)\" stroke=\"\(color)\" stroke-width=\"2\"/>"
            }
            svg += "<text x=\"\(lx + 28)\" y=\"\(y)\">\(Self.escape(name))</text>\n"
        }
        return svg + "</svg>\n"
    }

    static func label(_ v: Double) -> String {
        abs(v - v.rounded()) < 1e-9 ? String(Int(v.rounded())) : String(format: "%.1f", v)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
