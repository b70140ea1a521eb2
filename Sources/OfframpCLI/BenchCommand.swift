import ArgumentParser
import Foundation
import Offramp

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks (printed as tables; --json for JSON lines).",
        subcommands: [BenchEncodeCommand.self, BenchGemmCommand.self, BenchMemoryCommand.self, BenchTokenizeCommand.self])
}

/// Peak memory of inference: load the model, run full-depth batches of
/// 32 x 128, report the process's peak resident set against the weights' size.
struct BenchMemoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Peak resident memory of full-depth inference at batch 32 x 128 against the model's size (run it alone: the peak is per process).")

    @Option(help: "Model directory (default: MiniLM-L6 in the setup cache).") var model: String?
    @Option var batch: Int = 32
    @Option var length: Int = 128

    func run() throws {
        let url = model.map { URL(fileURLWithPath: $0) } ?? offrampHome().appendingPathComponent("models/minilm-l6")
        let before = peakResidentBytes()
        let encoder = try BertEncoder.load(directory: url)
        let loaded = peakResidentBytes()
        let weights = Double(encoder.parameters.storage.count * 4)
        let batch = PackedBatch(ids: (0..<self.batch).map { b in
            (0..<length).map { j in j == 0 ? 101 : j == length - 1 ? 102 : Int32(1000 + (b * 131 + j * 71) % 28000) }
        })
        for _ in 0..<3 { _ = try encoder(batch) }
        let peak = peakResidentBytes()
        func mb(_ x: Double) -> String { String(format: "%.1f MB", x / 1e6) }
        print("| measure | value |\n|---|---:|")
        print("| weights (fp32) | \(mb(weights)) |")
        print("| peak RSS before loading | \(mb(before)) |")
        print("| peak RSS after loading | \(mb(loaded)) |")
        print("| peak RSS after \(self.batch) x \(length) inference | \(mb(peak)) |")
        print(String(format: "| inference peak above the process before loading, / weights | %.2f |", (peak - before) / weights))
    }

    func peakResidentBytes() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) * 1024  // Linux reports KiB
    }
}

/// The small-M kernel against OpenBLAS at the products of a MiniLM layer.
struct BenchGemmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "GFLOP/s of out = inp · Wᵀ by OpenBLAS and by the small-M kernel, for row counts 1-128 at MiniLM's shapes.")

    @Option(help: "Seconds per measurement.") var seconds: Double = 0.3
    @Option(help: "Row counts (comma-separated).") var rows: String = "1,4,8,16,32,48,64,96,128"

    func run() throws {
        guard smallMatmulAvailable else { throw OfframpError("this CPU has no AVX-512: only OpenBLAS runs here") }
        let shapes = [(384, 1152), (384, 384), (384, 1536), (1536, 384)]  // (in, out): QKV, output, FFN up, FFN down
        let ms = try rows.split(separator: ",").map { s -> Int in
            guard let m = Int(s), m > 0 else { throw ValidationError("--rows: \(s) is not a positive count") }
            return m
        }
        print("| rows | " + shapes.map { "\($0.0)→\($0.1) BLAS | small" }.joined(separator: " | ") + " |")
        print("|---:|" + shapes.map { _ in "---:|---:" }.joined(separator: "|") + "|")
        for m in ms {
            var cells: [String] = []
            for (k, n) in shapes {
                let a = FloatBuffer(count: m * k), w = FloatBuffer(count: n * k), c = FloatBuffer(count: m * n)
                for i in 0..<a.count { a[i] = Float(i % 7) * 0.01 }
                for i in 0..<w.count { w[i] = Float(i % 5) * 0.01 }
                func rate(_ body: () -> Void) -> Double {
                    body()
                    var best = Double.infinity
                    let start = Date()
                    repeat {
                        let t0 = Date()
                        body()
                        best = min(best, Date().timeIntervalSince(t0))
                    } while Date().timeIntervalSince(start) < seconds
                    return 2 * Double(m * k * n) / best / 1e9
                }
                let blas = rate { blasMatmulTransposedB(c.pointer, a.pointer, w.pointer, rows: m, inDim: k, outDim: n) }
                let small = rate { smallMatmulTransposedB(c.pointer, a.pointer, w.pointer, rows: m, inDim: k, outDim: n) }
                cells.append(String(format: "%.0f | %.0f", blas, small))
            }
            print("| \(m) | " + cells.joined(separator: " | ") + " |")
        }
    }
}

/// Full-depth encoder throughput on the inputs bench/peers.py gives ONNX
/// Runtime and PyTorch, so bench/compare.py can put them side by side.
struct BenchEncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Encoder throughput at batch 1 and 32, lengths 16/64/128, real MR batches, and BERT-base shapes against sgemm.")

    @Option(help: "Model directory (default: MiniLM-L6 in the setup cache).") var model: String?
    @Option(help: "MR corpus file (movieReviewSnippets_GroundTruth.txt); default: the setup cache.") var mr: String?
    @Option(help: "Seconds to repeat each case.") var seconds: Double = 2
    @Option(help: "Cases to run (comma-separated; default all): b1-L16,b1-L64,b1-L128,b32-L16,b32-L64,b32-L128,mr-b32,base-b32-L128")
    var cases: String?
    @Flag(help: "Print JSON lines instead of a table.") var json = false
    @Option(help: "JSON lines of bench/peers.py (ONNX Runtime, PyTorch) measured just before: adds their columns and the ratios.")
    var peers: String?

    func run() throws {
        let peerRates = try peers.map { try Self.readPeers($0) } ?? [:]
        let all = ["b1-L16", "b1-L64", "b1-L128", "b32-L16", "b32-L64", "b32-L128", "mr-b32", "base-b32-L128"]
        let chosen = cases.map { $0.split(separator: ",").map(String.init) } ?? all
        for c in chosen where !all.contains(c) { throw ValidationError("unknown case \(c); known: \(all.joined(separator: ","))") }
        let modelURL = model.map { URL(fileURLWithPath: $0) } ?? offrampHome().appendingPathComponent("models/minilm-l6")
        let text = try TextEncoder.load(directory: modelURL)
        var rows: [BenchRow] = []
        for c in chosen {
            let row: BenchRow
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
                let batch = syntheticBatch(batch: 32, length: 128)
                var r = measure(case: c, encoder: base, batches: [batch], seqLen: "128")
                r.sgemmGflops = sgemmRate(rows: 32 * 128, inDim: 768, outDim: 3072)
                row = r
            default:
                let parts = c.dropFirst().split(separator: "-L")
                let b = Int(parts[0])!, l = Int(parts[1])!
                row = measure(case: c, encoder: text.encoder, batches: [syntheticBatch(batch: b, length: l)], seqLen: String(l))
            }
            rows.append(row)
            if json { print(row.json) } else { printError("  \(row.name): \(String(format: "%.1f", row.sentencesPerSecond)) sentences/s") }
        }
        if !json { printTable(rows, peers: peerRates) }
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

    /// bench/peers.py's synthetic inputs: [CLS] x..x [SEP], x = 1000 + (131 b + 71 j) mod 28000.
    func syntheticBatch(batch: Int, length: Int) -> PackedBatch {
        PackedBatch(ids: (0..<batch).map { b in
            (0..<length).map { j in j == 0 ? 101 : j == length - 1 ? 102 : Int32(1000 + (b * 131 + j * 71) % 28000) }
        })
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
        let a = FloatBuffer(count: rows * inDim), w = FloatBuffer(count: outDim * inDim), c = FloatBuffer(count: rows * outDim)
        for i in 0..<a.count { a[i] = Float(i % 7) * 0.01 }
        for i in 0..<w.count { w[i] = Float(i % 5) * 0.01 }
        matmulTransposedB(c.pointer, a.pointer, w.pointer, rows: rows, inDim: inDim, outDim: outDim)
        var best = Double.infinity
        let start = Date()
        repeat {
            let t0 = Date()
            matmulTransposedB(c.pointer, a.pointer, w.pointer, rows: rows, inDim: inDim, outDim: outDim)
            best = min(best, Date().timeIntervalSince(t0))
        } while Date().timeIntervalSince(start) < seconds
        return 2 * Double(rows * inDim * outDim) / best / 1e9
    }

    func printTable(_ rows: [BenchRow], peers: [String: [String: Double]]) {
        let engines = ["onnxruntime", "pytorch"].filter { e in peers.values.contains { $0[e] != nil } }
        let peerHeads = engines.map { " \($0) sent/s | offramp/\($0) |" }.joined()
        print("| case | batch | length | sentences/s | tokens/s | ms/batch | GFLOP/s |" + peerHeads)
        print("|---|---:|---:|---:|---:|---:|---:|" + String(repeating: "---:|---:|", count: engines.count))
        for r in rows {
            let peerCells = engines.map { e -> String in
                guard let v = peers[r.name]?[e] else { return " – | – |" }
                return String(format: " %.1f | %.2f× |", v, r.sentencesPerSecond / v)
            }.joined()
            print(String(format: "| %@ | %d | %@ | %.1f | %.0f | %.2f | %.1f |", r.name, r.batch, r.seqLen,
                         r.sentencesPerSecond, r.tokensPerSecond, r.msPerBatch, r.gflops) + peerCells)
            if let s = r.sgemmGflops {
                print(String(format: "| sgemm (%d x 768 x 3072) | | | | | | %.1f (encoder at %.0f%%) |", 32 * 128, s, 100 * r.gflops / s))
            }
        }
    }
}

struct BenchRow {
    let name: String, batch: Int, seqLen: String
    let sentencesPerSecond: Double, tokensPerSecond: Double, msPerBatch: Double, gflops: Double
    var sgemmGflops: Double? = nil

    var json: String {
        var s = "{\"engine\":\"offramp\",\"case\":\"\(name)\",\"batch\":\(batch),\"seq_len\":\(seqLen == "var" ? "\"var\"" : seqLen),"
        s += String(format: "\"sentences_per_s\":%.3f,\"tokens_per_s\":%.1f,\"ms_per_batch\":%.4f,\"gflops\":%.2f", sentencesPerSecond, tokensPerSecond, msPerBatch, gflops)
        if let g = sgemmGflops { s += String(format: ",\"sgemm_gflops\":%.2f", g) }
        return s + "}"
    }
}

/// $OFFRAMP_HOME, default ~/.cache/offramp (where scripts/setup puts things).
func offrampHome() -> URL { CorpusPreparation.defaultHome }

/// Tokenizer throughput on real text (a speed figure, kept out of the unit tests).
struct BenchTokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Sentences/s and tokens/s of a model's tokenizer (WordPiece or Unigram) over a text file.")

    @Option(help: "Model directory (its tokenizer.json or vocab.txt).") var model: String
    @Option(help: "Texts: a classification file (.tsv/.csv/.jsonl/.txt).") var data: String
    @Option(help: "Passes over the file (the median is reported).") var passes = 5

    func run() throws {
        let tokenizer = try Tokenizers.load(directory: URL(fileURLWithPath: model))
        let texts = try ClassificationData.load(URL(fileURLWithPath: data), requireLabels: false).map(\.text)
        guard !texts.isEmpty, passes > 0 else { throw OfframpError("\(data): no texts (or --passes < 1)") }
        var times: [Double] = [], tokens = 0
        for _ in 0..<passes {
            let start = Date()
            tokens = 0
            for text in texts { tokens += try tokenizer.encode(text).count }
            times.append(Date().timeIntervalSince(start))
        }
        let t = times.sorted()[times.count / 2]
        print(String(format: "%@: %d texts, %d tokens in %.3f s (median of %d): %.0f texts/s, %.0f tokens/s",
                     String(describing: type(of: tokenizer)), texts.count, tokens, t, passes, Double(texts.count) / t, Double(tokens) / t))
    }
}
