import ArgumentParser
import Foundation
import Offramp

// MARK: - offramp bench gemm

/// The small-M kernel and the packed-weight fp32 kernel against OpenBLAS at
/// the products of a MiniLM layer, with the int8 and bf16 kernels beside them
/// and the int8 peak of a core.
struct BenchGemmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "GFLOP/s (int8: GOP/s) of out = inp · Wᵀ by OpenBLAS, the small-M and packed fp32 kernels and the int8 and bf16 kernels, at MiniLM's shapes.")

    @Option(help: "Seconds per measurement.") var seconds: Double = 0.3
    @Option(help: "Row counts (comma-separated).") var rows: String = "1,4,8,16,32,48,64,96,128"
    @Option(help: "Shapes in→out (comma-separated; default MiniLM's: 384x1152,384x384,384x1536,1536x384).")
    var shapes: String = "384x1152,384x384,384x1536,1536x384"

    func validate() throws {
        try requireNumber(seconds, "--seconds", "in (0, 600]") { $0 > 0 && $0 <= 600 }
        _ = try rowCounts
    }

    /// --rows, each checked.
    var rowCounts: [Int] { get throws { try parseList(rows, option: "--rows", valid: { (1...4096).contains($0) }, range: "a row count in 1...4096") } }

    func run() throws {
        guard smallMatmulAvailable else { throw OfframpError("this CPU has no AVX-512: only OpenBLAS runs here") }
        let shapes = try self.shapes.split(separator: ",").map { s -> (Int, Int) in
            let parts = s.split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2, parts.allSatisfy({ $0 > 0 }) else { throw ValidationError("--shapes: \(s) is not IN x OUT, e.g. 384x1536") }
            return (parts[0], parts[1])
        }
        let ms = try rowCounts
        // fp32 here: the weight packed once (the encoder's inference layout).
        let precisions = Precision.allCases.filter { $0.isAvailable }
        print("CPU: \(cpuDescription()), \(Threads.count) threads")
        if int8KernelsAvailable {
            let iterations = 1 << 21
            let t = BenchCommand.fastest(seconds: seconds) { _ = int8PeakSpin(iterations) }
            print(String(format: "int8 peak (vpdpbusd, one thread): %.0f GOP/s", 24 * 64 * 2 * Double(iterations) / t / 1e9))
        }
        let heads = ["BLAS", "small"] + precisions.map { $0 == .fp32 ? "packed" : $0.rawValue }
        print("| rows | " + shapes.map { s in heads.map { "\(s.0)→\(s.1) \($0)" }.joined(separator: " | ") }.joined(separator: " | ") + " |")
        print("|---:|" + shapes.map { _ in heads.map { _ in "---:" }.joined(separator: "|") }.joined(separator: "|") + "|")
        for m in ms {
            var cells: [String] = []
            for (k, n) in shapes {
                let (a, w, c) = BenchCommand.matmulOperands(rows: m, inDim: k, outDim: n)
                func rate(_ body: () -> Void) -> Double { 2 * Double(m * k * n) / BenchCommand.fastest(seconds: seconds, body) / 1e9 }
                var cell = [rate { blasMatmulTransposedB(c.pointer, a.pointer, w.pointer, rows: m, inDim: k, outDim: n) },
                            rate { smallMatmulTransposedB(c.pointer, a.pointer, w.pointer, rows: m, inDim: k, outDim: n) }]
                for p in precisions {
                    // The timed call quantizes (int8) or rounds (bf16) its input, as in the encoder.
                    let packed = PackedWeights(w.pointer, outDim: n, inDim: k, precision: p, scratch: PrecisionScratch())
                    cell.append(rate { packed.product(c.pointer, a.pointer, rows: m, columns: 0 ..< n) })
                }
                cells.append(cell.map { String(format: "%.0f", $0) }.joined(separator: " | "))
            }
            print("| \(m) | " + cells.joined(separator: " | ") + " |")
        }
    }
}
