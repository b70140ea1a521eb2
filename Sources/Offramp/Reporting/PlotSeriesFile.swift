import Foundation

// MARK: - Curves, markers and a reference line from a JSON file

/// What `offramp plot --series FILE.json` draws, read strictly so that a
/// misspelt key or a malformed point is an error naming the file and field
/// rather than a plot with something missing:
///
/// ```json
/// {"curves": [{"name": "entropy", "points": [[1.0, 82.5], [2.1, 81.0]], "envelope": true}],
///  "markers": [{"name": "elimination alone", "points": [[1.8, 81.9]]}],
///  "hline": {"y": 81.5, "label": "base - 1 point"}}
/// ```
///
/// `curves` is required and not empty; `envelope: true` draws a curve's
/// upper envelope (at each x, the best y at that x or more) instead of its
/// points; `markers` are single points; `hline` a dashed reference line.
public struct PlotSeriesFile: Sendable, Equatable {
    public struct Series: Sendable, Equatable {
        public var name: String
        public var points: [PlotPoint]
        public var envelope = false
        public init(name: String, points: [PlotPoint], envelope: Bool = false) {
            self.name = name; self.points = points; self.envelope = envelope
        }
    }

    public struct ReferenceLine: Sendable, Equatable {
        public var y: Double
        public var label: String
        public init(y: Double, label: String) { self.y = y; self.label = label }
    }

    public var curves: [Series]
    public var markers: [Series] = []
    public var hline: ReferenceLine?

    public init(curves: [Series], markers: [Series] = [], hline: ReferenceLine? = nil) {
        self.curves = curves; self.markers = markers; self.hline = hline
    }

    /// Reads `url`; errors start with its path.
    public static func load(_ url: URL) throws -> PlotSeriesFile {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw OfframpError("\(url.path): cannot be read (\(error.localizedDescription))")
        }
        do {
            return try parse(data)
        } catch let e as OfframpError {
            throw OfframpError("\(url.path): \(e.message)")
        }
    }

    /// Parses the JSON text; errors name the field ("curves[1].points[0]: ...").
    public static func parse(_ data: Data) throws -> PlotSeriesFile {
        let root: JSONValue
        do { root = try JSONValue.parse(data) } catch let e as OfframpError {
            throw OfframpError("not valid JSON: \(e.message)")
        }
        let fields = try object(root, "the file", known: ["curves", "markers", "hline"])
        guard let curves = fields["curves"] else { throw OfframpError("missing field \"curves\" (an array of {\"name\", \"points\"})") }
        var file = PlotSeriesFile(curves: try seriesList(curves, "curves", envelopeAllowed: true))
        guard !file.curves.isEmpty else { throw OfframpError("curves: empty (give at least one curve)") }
        if let markers = fields["markers"] { file.markers = try seriesList(markers, "markers", envelopeAllowed: false) }
        if let hline = fields["hline"] {
            let h = try object(hline, "hline", known: ["y", "label"])
            guard let y = h["y"]?.doubleValue else { throw OfframpError("hline.y: missing or not a number") }
            guard let label = h["label"]?.stringValue else { throw OfframpError("hline.label: missing or not a string") }
            file.hline = ReferenceLine(y: y, label: label)
        }
        return file
    }

    /// The plot: one panel, curves then markers, then the reference line.
    public func plot(title: String, xLabel: String, yLabel: String, maxYSpan: Double? = nil) -> SVGPlot {
        var plot = SVGPlot(title: title, panels: [xLabel], yLabel: yLabel)
        plot.maxYSpan = maxYSpan
        // Legend names here are long ("elimination + early exit, λ=1e-3"): about 7 px a character.
        let longest = (curves + markers).map(\.name.count).max() ?? 0
        plot.legendWidth = max(plot.legendWidth, 40 + 7 * Double(longest))
        for c in curves {
            let points = c.points.map { ($0.x, $0.y) }
            plot.add(series: c.name, panel: 0, points: c.envelope ? SVGPlot.upperEnvelope(points) : points)
        }
        for m in markers { plot.add(markers: m.name, panel: 0, points: m.points.map { ($0.x, $0.y) }) }
        if let hline { plot.addReferenceLine(y: hline.y, label: hline.label) }
        return plot
    }

    // MARK: Reading

    private static func object(_ v: JSONValue, _ field: String, known: Set<String>) throws -> [String: JSONValue] {
        guard let o = v.objectValue else { throw OfframpError("\(field): must be an object") }
        let unknown = Set(o.keys).subtracting(known).sorted()
        guard unknown.isEmpty else {
            throw OfframpError("\(field): unknown field \(unknown.map { "\"\($0)\"" }.joined(separator: ", ")) (fields: \(known.sorted().joined(separator: ", ")))")
        }
        return o
    }

    private static func seriesList(_ v: JSONValue, _ field: String, envelopeAllowed: Bool) throws -> [Series] {
        guard let items = v.arrayValue else { throw OfframpError("\(field): must be an array of {\"name\", \"points\"}") }
        return try items.enumerated().map { i, item in
            let at = "\(field)[\(i)]"
            let o = try object(item, at, known: envelopeAllowed ? ["name", "points", "envelope"] : ["name", "points"])
            guard let name = o["name"]?.stringValue else { throw OfframpError("\(at).name: missing or not a string") }
            guard let rawPoints = o["points"]?.arrayValue else { throw OfframpError("\(at).points: missing or not an array of [x, y]") }
            let points = try rawPoints.enumerated().map { j, p -> PlotPoint in
                guard let xy = p.arrayValue, xy.count == 2, let x = xy[0].doubleValue, let y = xy[1].doubleValue else {
                    throw OfframpError("\(at).points[\(j)]: must be [x, y], two numbers")
                }
                return PlotPoint(x: x, y: y)
            }
            var envelope = false
            if let e = o["envelope"] {
                guard let b = e.boolValue else { throw OfframpError("\(at).envelope: must be true or false") }
                envelope = b
            }
            return Series(name: name, points: points, envelope: envelope)
        }
    }
}

/// One (x, y) point of a plot file.
public struct PlotPoint: Sendable, Equatable {
    public var x: Double, y: Double
    public init(x: Double, y: Double) { self.x = x; self.y = y }
}
