import Foundation
import Offramp
import Testing

/// Each SIMD kernel against a plain Double-precision reference.
@Suite struct KernelTests {
    static func randomArray(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var rng = SeededRandom(seed: seed)
        return (0..<n).map { _ in rng.nextNormal() * scale }
    }

    @Test func expMatchesLibm() {
        var worst: Double = 0
        var x: Float = -87
        while x < 88 {
            let got = Double(expScalar(x)), want = exp(Double(x))
            worst = max(worst, abs(got - want) / want)
            x += 0.0137
        }
        #expect(worst < 3e-7, "max relative error \(worst)")
        #expect(expScalar(-200) < 1e-37)
    }

    @Test func erfAndGeluMatchLibm() {
        var worstErf: Double = 0, worstGelu: Double = 0
        var x: Float = -8
        while x < 8 {
            let v = Vec8(repeating: x)
            worstErf = max(worstErf, abs(Double(erf8(v)[0]) - erf(Double(x))))
            let g = 0.5 * Double(x) * (1 + erf(Double(x) / 2.0.squareRoot()))
            worstGelu = max(worstGelu, abs(Double(gelu8(v)[0]) - g) / max(1, abs(g)))
            x += 0.00731
        }
        #expect(worstErf < 5e-7, "erf max abs error \(worstErf)")
        #expect(worstGelu < 1e-6, "gelu max error \(worstGelu)")
    }

    @Test func tanhMatchesLibm() {
        var worst: Double = 0
        var x: Float = -12
        while x < 12 {
            worst = max(worst, abs(Double(tanh8(Vec8(repeating: x))[0]) - tanh(Double(x))))
            x += 0.0091
        }
        #expect(worst < 5e-7, "tanh max abs error \(worst)")
    }

    @Test func biasActivationCoversTails() {
        // 13 columns: one full vector and a 5-lane tail, both must be GELU.
        let rows = 3, cols = 13
        var x = Self.randomArray(rows * cols, seed: 1, scale: 2)
        let bias = Self.randomArray(cols, seed: 2)
        let original = x
        x.withUnsafeMutableBufferPointer { xp in
            bias.withUnsafeBufferPointer { biasActivation(xp.baseAddress!, bias: $0.baseAddress!, rows: rows, cols: cols, activation: .gelu) }
        }
        for r in 0..<rows {
            for c in 0..<cols {
                let v = Double(original[r * cols + c] + bias[c])
                let want = 0.5 * v * (1 + erf(v / 2.0.squareRoot()))
                #expect(abs(Double(x[r * cols + c]) - want) < 1e-5)
            }
        }
    }

    @Test func residualLayerNormMatchesReference() {
        let rows = 5, cols = 37
        let x = Self.randomArray(rows * cols, seed: 3, scale: 3)
        let res = Self.randomArray(rows * cols, seed: 4)
        let bias = Self.randomArray(cols, seed: 5)
        let gamma = Self.randomArray(cols, seed: 6), beta = Self.randomArray(cols, seed: 7)
        var out = [Float](repeating: 0, count: rows * cols)
        out.withUnsafeMutableBufferPointer { o in
            residualLayerNorm(out: o.baseAddress!, x: x, bias: bias, residual: res, gamma: gamma, beta: beta,
                              rows: rows, cols: cols, eps: 1e-12)
        }
        for r in 0..<rows {
            let v = (0..<cols).map { Double(x[r * cols + $0] + bias[$0] + res[r * cols + $0]) }
            let mean = v.reduce(0, +) / Double(cols)
            let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(cols)
            for c in 0..<cols {
                let want = (v[c] - mean) / (variance + 1e-12).squareRoot() * Double(gamma[c]) + Double(beta[c])
                #expect(abs(Double(out[r * cols + c]) - want) < 2e-5)
            }
        }
    }

    /// The AVX-512 small-M kernel against a naive product, over every
    /// row/column tail (1-4 rows and columns left over, k not a multiple of
    /// 16), strides, accumulation and alpha.
    @Test(.enabled(if: smallMatmulAvailable), arguments: [(1, 5, 3), (4, 16, 8), (7, 33, 13), (13, 384, 50), (48, 70, 129)])
    func smallMatmulMatchesNaive(rows: Int, k: Int, n: Int) {
        let ldi = k + 3, ldw = k + 1, ldo = n + 2
        var rng = SeededRandom(seed: UInt64(rows * 1000 + k))
        let a = (0..<(rows * ldi)).map { _ in rng.nextNormal() }
        let w = (0..<(n * ldw)).map { _ in rng.nextNormal() }
        let start = (0..<(rows * ldo)).map { _ in rng.nextNormal() }
        for accumulate in [false, true] {
            var out = start
            out.withUnsafeMutableBufferPointer { o in
                smallMatmulTransposedB(o.baseAddress!, a, w, rows: rows, inDim: k, outDim: n, ldInp: ldi, ldOut: ldo,
                                       ldWeight: ldw, accumulate: accumulate, alpha: 0.5)
            }
            for r in 0..<rows {
                for c in 0..<ldo {
                    guard c < n else { #expect(out[r * ldo + c] == start[r * ldo + c], "padding untouched"); continue }
                    var sum = 0.0
                    for p in 0..<k { sum += Double(a[r * ldi + p]) * Double(w[c * ldw + p]) }
                    let want = 0.5 * sum + (accumulate ? Double(start[r * ldo + c]) : 0)
                    #expect(abs(Double(out[r * ldo + c]) - want) < 1e-4 * max(1, abs(want)), "row \(r) col \(c)")
                }
            }
        }
    }

    /// gemm splits big products across the workers by rows or by columns
    /// (each worker running single-threaded OpenBLAS on its share): every
    /// transpose combination, with strides, accumulation and alpha, against a naive product.
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)], [(70, 90, 200), (300, 40, 120)])
    func splitGemmMatchesNaive(transpose: (Bool, Bool), shape: (Int, Int, Int)) {
        let (ta, tb) = transpose, (m, n, k) = shape
        #expect(m * n * k >= 1 << 20, "large enough to be split")
        let lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 5
        var rng = SeededRandom(seed: UInt64(m + n + k))
        let a = (0..<((ta ? k : m) * lda)).map { _ in rng.nextNormal() }
        let b = (0..<((tb ? n : k) * ldb)).map { _ in rng.nextNormal() }
        let start = (0..<(m * ldc)).map { _ in rng.nextNormal() }
        var c = start
        c.withUnsafeMutableBufferPointer { cp in
            gemm(cp.baseAddress!, a, b, m: m, n: n, k: k, transposeA: ta, transposeB: tb, lda: lda, ldb: ldb, ldc: ldc,
                 accumulate: true, alpha: 0.5)
        }
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<ldc {
                guard j < n else { #expect(c[i * ldc + j] == start[i * ldc + j]); continue }
                var sum = 0.0
                for p in 0..<k { sum += Double(ta ? a[p * lda + i] : a[i * lda + p]) * Double(tb ? b[j * ldb + p] : b[p * ldb + j]) }
                worst = max(worst, abs(Double(c[i * ldc + j]) - (0.5 * sum + Double(start[i * ldc + j]))))
            }
        }
        #expect(worst < 1e-3, "worst error \(worst)")
    }

    @Test func matmulTransposedBMatchesNaive() {
        let rows = 7, inDim = 19, outDim = 5
        let a = Self.randomArray(rows * inDim, seed: 9), w = Self.randomArray(outDim * inDim, seed: 10)
        var out = [Float](repeating: 0, count: rows * outDim)
        out.withUnsafeMutableBufferPointer { matmulTransposedB($0.baseAddress!, a, w, rows: rows, inDim: inDim, outDim: outDim) }
        for r in 0..<rows {
            for o in 0..<outDim {
                let want = (0..<inDim).reduce(0.0) { $0 + Double(a[r * inDim + $1]) * Double(w[o * inDim + $1]) }
                #expect(abs(Double(out[r * outDim + o]) - want) < 1e-4)
            }
        }
    }

    /// Naive attention of one sequence and head: queries `qi`, keys/values `kv` rows.
    static func naiveAttention(q: [Float], k: [Float], v: [Float], ld: Int, head: Int, d: Int,
                               queries: [Int], keys: [Int]) -> (out: [[Double]], probs: [[Double]]) {
        var outs: [[Double]] = [], probs: [[Double]] = []
        for i in queries {
            let scores = keys.map { j in
                (0..<d).reduce(0.0) { $0 + Double(q[i * ld + head * d + $1]) * Double(k[j * ld + head * d + $1]) } / Double(d).squareRoot()
            }
            let m = scores.max()!
            let e = scores.map { exp($0 - m) }
            let z = e.reduce(0, +)
            let p = e.map { $0 / z }
            probs.append(p)
            outs.append((0..<d).map { c in zip(p, keys).reduce(0.0) { $0 + $1.0 * Double(v[$1.1 * ld + head * d + c]) } })
        }
        return (outs, probs)
    }

    @Test(arguments: [false, true])
    func attentionMatchesNaive(querySubset: Bool) {
        // Three sequences of lengths 5, 12 (crosses a vector), 1; 3 heads of width 8 + tail width 4 not allowed:
        // use d = 12 to exercise the scalar tail of the P·V product.
        let heads = 3, d = 12, h = heads * d
        let lengths = [5, 12, 1], starts = [0, 5, 17], total = 18
        let q = Self.randomArray(total * h, seed: 11), k = Self.randomArray(total * h, seed: 12), v = Self.randomArray(total * h, seed: 13)
        // Queries: all rows, or every other row of each sequence (row 0 always).
        let queryRows: [[Int]] = starts.indices.map { s in
            (starts[s] ..< starts[s] + lengths[s]).filter { !querySubset || ($0 - starts[s]) % 2 == 0 }
        }
        let flatQueries = queryRows.flatMap { $0 }
        var qGathered = [Float]()
        for r in flatQueries { qGathered += q[r * h ..< (r + 1) * h] }
        var qStart: [Int] = [], acc = 0
        for rows in queryRows { qStart.append(acc); acc += rows.count }
        let segments = AttentionSegments(queryStart: qStart, queryCount: queryRows.map(\.count), keyStart: starts, keyCount: lengths)
        var offsets: [Int] = [], ptotal = 0
        for s in 0..<3 { offsets.append(ptotal); ptotal += heads * queryRows[s].count * lengths[s] }
        var out = [Float](repeating: 0, count: flatQueries.count * h)
        var probs = [Float](repeating: 0, count: ptotal)
        let ws = Workspace()
        out.withUnsafeMutableBufferPointer { o in
            probs.withUnsafeMutableBufferPointer { p in
                multiHeadAttention(out: o.baseAddress!, ldOut: h, q: qGathered, ldq: h, k: k, ldk: h, v: v, ldv: h,
                                   segments: segments, heads: heads, headDim: d,
                                   probabilities: p.baseAddress!, probabilityOffsets: offsets, workspace: ws)
            }
        }
        for s in 0..<3 {
            for hd in 0..<heads {
                let keys = Array(starts[s] ..< starts[s] + lengths[s])
                let ref = Self.naiveAttention(q: q, k: k, v: v, ld: h, head: hd, d: d, queries: queryRows[s], keys: keys)
                for (qi, _) in queryRows[s].enumerated() {
                    for c in 0..<d {
                        #expect(abs(Double(out[(qStart[s] + qi) * h + hd * d + c]) - ref.out[qi][c]) < 1e-5)
                    }
                    for j in 0..<lengths[s] {
                        let got = probs[offsets[s] + (hd * queryRows[s].count + qi) * lengths[s] + j]
                        #expect(abs(Double(got) - ref.probs[qi][j]) < 1e-6)
                    }
                }
            }
        }
    }
}
