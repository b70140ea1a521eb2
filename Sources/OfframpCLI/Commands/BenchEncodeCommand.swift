import ArgumentParser
import Foundation
import Offramp

// MARK: - offramp bench encode

/// Full-depth encoder throughput on the inputs bench/peers.py gives ONNX
/// Runtime and PyTorch, so bench/compare.py can put them side by side.
struct BenchEncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Encoder throughput at batch 1 and 32, lengths 16/64/128, real MR batches, and BERT-base shapes against sgemm.")

    @OptionGroup var encoderModel: BenchModelOptions
    @OptionGroup var precisionOptions: PrecisionOptions
    @Option(help: "MR corpus file (movieReviewSnippets_GroundTruth.txt); default: the setup cache.") var mr: String?
    @Option(help: "Seconds to repeat each case.") var seconds: Double = 2
    @Option(help: "Cases to run (comma-separated; default all): b1-L16,b1-L64,b1-L128,b32-L16,b32-L64,b32-L128,mr-b32,base-b32-L128")
    var cases: String?
    @Flag(help: "Print JSON lines instead of a table.") var json = false
    @Option(help: "JSON lines of bench/peers.py (ONNX Runtime, PyTorch) measured just before: adds their columns and the ratios.")
    var peers: String?

    static let all = ["b1-L16", "b1-L64", "b1-L128", "b32-L16", "b32-L64", "b32-L128", "mr-b32", "base-b32-L128"]

    func validate() throws {
        try requireNumber(seconds, "--seconds", "in (0, 600]") { $0 > 0 && $0 <= 600 }
        for c in chosen where !Self.all.contains(c) { throw ValidationError("--cases: unknown case \(c); known: \(Self.all.joined(separator: ","))") }
    }

    var chosen: [String] { cases.map { $0.split(separator: ",").map(String.init) } ?? Self.all }

    func run() throws {
        let peerRates = try peers.map { try Self.readPeers($0) } ?? [:]
        let text = try TextEncoder.load(directory: encoderModel.directory)
        let saved = text.encoder.savedQuantization
        let precisions = try precisionOptions.list(saved: saved?.precision)
        try text.setMaxLength(128)
        let calibration = try precisionOptions.calibration(text.tokenizer, maxLength: text.maxLength, saved: saved)
        var rows: [BenchRow] = []
        if !json { print("CPU: \(cpuDescription())") }
        // Precisions alternate case by case, so a drift in the machine's speed
        // during the run does not favour one of them.
        for c in chosen {
          for precision in precisions {
            try PrecisionOptions.prepare(text.encoder, precision, smoothQuantOn: precision == .int8 ? calibration : [])
            var row: BenchRow
            switch c {
            case "mr-b32":
                let url = mr.map { URL(fileURLWithPath: $0) } ?? offrampHome().appendingPathComponent("corpora/mr/movieReviewSnippets_GroundTruth.txt")
                let sentences = try MovieReviews.load(url).prefix(1024).map(\.text)
                try text.setMaxLength(128)
                let batches = try stride(from: 0, to: sentences.count, by: 32).map {
                    PackedBatch(encodings: try text.tokenize(Array(sentences[$0 ..< min($0 + 32, sentences.count)])))
                }
                row = measure(case: c, encoder: text.encoder, batches: batches, seqLen: "var")
            case "base-b32-L128":
                var config = BertConfig()  // HF defaults: BERT-base, 12 x 768
                config.vocabSize = 30522
                let base = try BertEncoder(randomWeights: config, seed: 1)
                try PrecisionOptions.prepare(base, precision)
                let batch = BenchCommand.syntheticBatch(batch: 32, length: 128)
                var r = measure(case: c, encoder: base, batches: [batch], seqLen: "128")
                r.sgemmGflops = sgemmRate(rows: 32 * 128, inDim: 768, outDim: 3072)
                row = r
            default:
                let parts = c.dropFirst().split(separator: "-L")
                let b = Int(parts[0])!, l = Int(parts[1])!
                row = measure(case: c, encoder: text.encoder, batches: [BenchCommand.syntheticBatch(batch: b, length: l)], seqLen: String(l))
            }
            row.precision = text.encoder.precision
            rows.append(row)
            if json { print(row.json) } else { printError("  \(row.name) \(row.precision): \(String(format: "%.1f", row.sentencesPerSecond)) sentences/s") }
          }
        }
        if !json { printTable(rows, peers: peerRates) }
        if saved != nil {
            printError("note: the model is saved quantized (no fp32 weights): no cosine to fp32; bench the fp32 model with --precision for it")
        } else if precisions.contains(where: { $0 != .fp32 }) {
            try printCosines(text, precisions: precisions, calibration: calibration)
        }
    }

    /// What each precision costs in accuracy: the mean-pooled embeddings'
    /// cosine to fp32, per sentence, over the 1,024 MR sentences of mr-b32 (the
    /// comparison bench/peers.py makes for ONNX Runtime's int8).
    func printCosines(_ text: TextEncoder, precisions: [Precision], calibration: [PackedBatch]) throws {
        let url = mr.map { URL(fileURLWithPath: $0) } ?? offrampHome().appendingPathComponent("corpora/mr/movieReviewSnippets_GroundTruth.txt")
        let sentences = try MovieReviews.load(url).prefix(1024).map(\.text)
        try text.setMaxLength(128)
        try text.encoder.prepare(precision: .fp32)
        let reference = try text.embed(sentences)
        for precision in precisions where precision != .fp32 {
            try PrecisionOptions.prepare(text.encoder, precision, smoothQuantOn: precision == .int8 ? calibration : [])
            let got = try text.embed(sentences)
            let c = zip(reference, got).map { a, b -> Double in
                let ab = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                let aa = a.reduce(0.0) { $0 + Double($1) * Double($1) }, bb = b.reduce(0.0) { $0 + Double($1) * Double($1) }
                return ab / (aa * bb).squareRoot()
            }
            let ran = text.encoder.precision.rawValue + (text.encoder.smoothed ? " with SmoothQuant on \(precisionOptions.smoothQuant ?? "")" : "")
            let line = String(format: "mean-pooled cosine to fp32 over %d MR sentences, %@ (ran %@): mean %.5f, min %.5f",
                              c.count, precision.rawValue, ran, c.reduce(0, +) / Double(c.count), c.min() ?? 0)
            if json {
                print("{\"engine\":\"offramp\",\"precision\":\"\(text.encoder.precision)\",\"smooth_quant\":\(text.encoder.smoothed),\"cosine_mean\":\(c.reduce(0, +) / Double(c.count)),\"cosine_min\":\(c.min() ?? 0)}")
            } else {
                print(line)
            }
        }
    }

    /// sentences/s by (case, engine) from peers.py's JSON lines.
    static func readPeers(_ path: String) throws -> [String: [String: Double]] {
        var out: [String: [String: Double]] = [:]
        for (number, line) in try readTextLines(URL(fileURLWithPath: path)) where !line.allSatisfy(\.isWhitespace) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let engine = object["engine"] as? String, let c = object["case"] as? String,
                  let rate = (object["sentences_per_s"] as? NSNumber)?.doubleValue else {
                throw OfframpError("\(path):\(number): not a peers.py result line (engine, case, sentences_per_s)")
            }
            out[c, default: [:]][engine] = rate
        }
        return out
    }

    func measure(case name: String, encoder: BertEncoder, batches: [PackedBatch], seqLen: String) -> BenchRow {
        _ = try? encoder(batches[0])  // warm-up: workspace, pages, BLAS threads
        var times: [Double] = []
        let start = Date()
        repeat {
            let t0 = Date()
            for b in batches { _ = try? encoder(b) }
            times.append(Date().timeIntervalSince(t0))
        } while Date().timeIntervalSince(start) < seconds || times.count < 3
        times.sort()
        let median = times[times.count / 2]
        let sentences = batches.reduce(0) { $0 + $1.sequenceCount }
        let tokens = batches.reduce(0) { $0 + $1.tokenCount }
        let flops = batches.reduce(0.0) { $0 + encoder.layerFlops(lengths: $1.lengths) } * Double(encoder.config.numHiddenLayers)
        return BenchRow(name: name, batch: batches[0].sequenceCount, seqLen: seqLen,
                        sentencesPerSecond: Double(sentences) / median, tokensPerSecond: Double(tokens) / median,
                        msPerBatch: median * 1000 / Double(batches.count), gflops: flops / median / 1e9)
    }

    /// The OpenBLAS sgemm rate at the feed-forward shape, measured now.
    func sgemmRate(rows: Int, inDim: Int, outDim: Int) -> Double {
        let (a, w, c) = BenchCommand.matmulOperands(rows: rows, inDim: inDim, outDim: outDim)
        let best = BenchCommand.fastest(seconds: seconds) {
            matmulTransposedB(c.pointer, a.pointer, w.pointer, rows: rows, inDim: inDim, outDim: outDim)
        }
        return 2 * Double(rows * inDim * outDim) / best / 1e9
    }

    func printTable(_ rows: [BenchRow], peers: [String: [String: Double]]) {
        let engines = ["onnxruntime", "pytorch"].filter { e in peers.values.contains { $0[e] != nil } }
        let peerHeads = engines.map { " \($0) sent/s | offramp/\($0) |" }.joined()
        print("| case | precision | batch | length | sentences/s | tokens/s | ms/batch | GFLOP/s |" + peerHeads)
        print("|---|---|---:|---:|---:|---:|---:|---:|" + String(repeating: "---:|---:|", count: engines.count))
        for r in rows {
            let peerCells = engines.map { e -> String in
                guard let v = peers[r.name]?[e] else { return " – | – |" }
                return String(format: " %.1f | %.2f× |", v, r.sentencesPerSecond / v)
            }.joined()
            print(String(format: "| %@ | %@ | %d | %@ | %.1f | %.0f | %.2f | %.1f |", r.name, r.precision.rawValue, r.batch, r.seqLen,
                         r.sentencesPerSecond, r.tokensPerSecond, r.msPerBatch, r.gflops) + peerCells)
            if let s = r.sgemmGflops {
                print(String(format: "| sgemm (%d x 768 x 3072) | | | | | | | %.1f (encoder at %.0f%%) |", 32 * 128, s, 100 * r.gflops / s))
            }
        }
    }
}
