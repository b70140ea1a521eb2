import Foundation
import Offramp
import Testing

/// `offramp plot`'s input: curves, markers and a reference line as JSON,
/// read strictly (errors name the file and the field), and how they draw.
struct PlotSeriesFileTests {
    static let good = """
        {"curves": [{"name": "entropy", "points": [[1, 80], [2, 82], [3, 70]], "envelope": true},
                    {"name": "confidence", "points": [[1.5, 79.5]]}],
         "markers": [{"name": "elimination alone", "points": [[1.8, 81]]}],
         "hline": {"y": 79, "label": "base - 1 point"}}
        """

    @Test func readsCurvesMarkersAndTheReferenceLine() throws {
        let file = try PlotSeriesFile.parse(Data(Self.good.utf8))
        #expect(file.curves.map(\.name) == ["entropy", "confidence"])
        #expect(file.curves[0].envelope && !file.curves[1].envelope)
        #expect(file.curves[0].points == [PlotPoint(x: 1, y: 80), PlotPoint(x: 2, y: 82), PlotPoint(x: 3, y: 70)])
        #expect(file.markers.map(\.name) == ["elimination alone"])
        #expect(file.hline == PlotSeriesFile.ReferenceLine(y: 79, label: "base - 1 point"))
    }

    @Test func badFilesAreErrorsNamingTheFileAndField() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func error(_ text: String) throws -> String {
            let url = dir.appendingPathComponent("series.json")
            try Data(text.utf8).write(to: url)
            let e = #expect(throws: OfframpError.self) { try PlotSeriesFile.load(url) }
            return e?.message.replacingOccurrences(of: url.path, with: "FILE") ?? ""
        }
        #expect(try error("{\"curves\": [") .hasPrefix("FILE: not valid JSON: "))
        #expect(try error("[]") == "FILE: the file: must be an object")
        #expect(try error("{}") == "FILE: missing field \"curves\" (an array of {\"name\", \"points\"})")
        #expect(try error("{\"curves\": []}") == "FILE: curves: empty (give at least one curve)")
        #expect(try error("{\"curves\": [{\"name\": \"a\", \"points\": []}], \"hlin\": 1}")
                == "FILE: the file: unknown field \"hlin\" (fields: curves, hline, markers)")
        #expect(try error("{\"curves\": [{\"name\": \"a\", \"points\": [[1, 2]]}, {\"name\": \"b\", \"points\": [[1, 2], [3]]}]}")
                == "FILE: curves[1].points[1]: must be [x, y], two numbers")
        #expect(try error("{\"curves\": [{\"points\": [[1, 2]]}]}") == "FILE: curves[0].name: missing or not a string")
        #expect(try error("{\"curves\": [{\"name\": \"a\", \"points\": [[1, 2]], \"envelope\": 1}]}")
                == "FILE: curves[0].envelope: must be true or false")
        #expect(try error("{\"curves\": [{\"name\": \"a\", \"points\": [[1, 2]]}], \"markers\": [{\"name\": \"m\", \"points\": [[1, 2]], \"envelope\": true}]}")
                == "FILE: markers[0]: unknown field \"envelope\" (fields: name, points)")
        #expect(try error("{\"curves\": [{\"name\": \"a\", \"points\": [[1, 2]]}], \"hline\": {\"label\": \"x\"}}")
                == "FILE: hline.y: missing or not a number")
        let missing = dir.appendingPathComponent("nope.json")
        let e = #expect(throws: OfframpError.self) { try PlotSeriesFile.load(missing) }
        #expect(e?.message.hasPrefix("\(missing.path): cannot be read") == true)
    }

    @Test func drawsTheEnvelopeMarkersAndADashedLine() throws {
        #expect(SVGPlot.upperEnvelope([(3, 70), (1, 80), (2, 82), (2, 75)]).map { [$0.0, $0.1] }
                == [[1, 82], [2, 82], [2, 82], [3, 70]])
        let svg = try PlotSeriesFile.parse(Data(Self.good.utf8)).plot(title: "t", xLabel: "x", yLabel: "y").render()
        #expect(svg.contains("stroke-dasharray=\"5,4\""))
        #expect(svg.contains(">base - 1 point</text>"))
        #expect(svg.contains("r=\"5\""))  // the marker
        #expect(svg.components(separatedBy: "<polyline").count == 2)  // one curve with more than one point
        // --y-span: points more than the span below the top are left out.
        let cut = try PlotSeriesFile.parse(Data(Self.good.utf8)).plot(title: "t", xLabel: "x", yLabel: "y", maxYSpan: 5).render()
        #expect(cut.components(separatedBy: "<circle").count == svg.components(separatedBy: "<circle").count - 1)
    }
}
