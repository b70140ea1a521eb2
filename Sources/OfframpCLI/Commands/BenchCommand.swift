import ArgumentParser
import Foundation
import Offramp

// MARK: - offramp bench

/// `offramp bench ...`: speed and memory figures, kept out of the unit tests.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks (printed as tables; --json for JSON lines).",
        subcommands: [BenchCalibrationCommand.self, BenchEncodeCommand.self, BenchGemmCommand.self, BenchMemoryCommand.self, BenchTokenizeCommand.self])

    // MARK: - Inputs and timing shared by the benchmarks

    /// bench/peers.py's synthetic inputs: [CLS] x..x [SEP], x = 1000 + (131 b + 71 j) mod 28000.
    static func syntheticBatch(batch: Int, length: Int) -> PackedBatch {
        PackedBatch(ids: (0..<batch).map { b in
            (0..<length).map { j in j == 0 ? 101 : j == length - 1 ? 102 : Int32(1000 + (b * 131 + j * 71) % 28000) }
        })
    }

    /// The operands of out = inp · Wᵀ at one shape, filled with small fixed values.
    static func matmulOperands(rows: Int, inDim: Int, outDim: Int) -> (a: FloatBuffer, w: FloatBuffer, c: FloatBuffer) {
        let a = FloatBuffer(count: rows * inDim), w = FloatBuffer(count: outDim * inDim), c = FloatBuffer(count: rows * outDim)
        for i in 0..<a.count { a[i] = Float(i % 7) * 0.01 }
        for i in 0..<w.count { w[i] = Float(i % 5) * 0.01 }
        return (a, w, c)
    }

    /// The fastest of repeated runs of `body` over `seconds`, after one warm-up run.
    static func fastest(seconds: Double, _ body: () -> Void) -> Double {
        body()
        var best = Double.infinity
        let start = Date()
        repeat {
            let t0 = Date()
            body()
            best = min(best, Date().timeIntervalSince(t0))
        } while Date().timeIntervalSince(start) < seconds
        return best
    }
}
