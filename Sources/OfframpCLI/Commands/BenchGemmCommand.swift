import ArgumentParser
import Foundation
import Offramp

// MARK: - offramp bench gemm

/// The small-M kernel against OpenBLAS at the products of a MiniLM layer.
struct BenchGemmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "GFLOP/s of out = inp · Wᵀ by OpenBLAS and by the small-M kernel, for row counts 1-128 at MiniLM's shapes.")

    @Option(help: "Seconds per measurement.") var seconds: Double = 0.3
    @Option(help: "Row counts (comma-separated).") var rows: String = "1,4,8,16,32,48,64,96,128"

    func validate() throws {
        try requireNumber(seconds, "--seconds", "in (0, 600]") { $0 > 0 && $0 <= 600 }
        _ = try rowCounts
    }

    /// --rows, each checked.
    var rowCounts: [Int] { get throws { try parseList(rows, option: "--rows", valid: { (1...4096).contains($0) }, range: "a row count in 1...4096") } }

    func run() throws {
        guard smallMatmulAvailable else { throw OfframpError("this CPU has no AVX-512: only OpenBLAS runs here") }
        let shapes = [(384, 1152), (384, 384), (384, 1536), (1536, 384)]  // (in, out): QKV, output, FFN up, FFN down
        let ms = try rowCounts
        print("| rows | " + shapes.map { "\($0.0)→\($0.1) BLAS | small" }.joined(separator: " | ") + " |")
        print("|---:|" + shapes.map { _ in "---:|---:" }.joined(separator: "|") + "|")
        for m in ms {
            var cells: [String] = []
            for (k, n) in shapes {
                let (a, w, c) = BenchCommand.matmulOperands(rows: m, inDim: k, outDim: n)
                func rate(_ body: () -> Void) -> Double { 2 * Double(m * k * n) / BenchCommand.fastest(seconds: seconds, body) / 1e9 }
                let blas = rate { blasMatmulTransposedB(c.pointer, a.pointer, w.pointer, rows: m, inDim: k, outDim: n) }
                let small = rate { smallMatmulTransposedB(c.pointer, a.pointer, w.pointer, rows: m, inDim: k, outDim: n) }
                cells.append(String(format: "%.0f | %.0f", blas, small))
            }
            print("| \(m) | " + cells.joined(separator: " | ") + " |")
        }
    }
}
