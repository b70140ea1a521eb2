import Foundation
import Offramp
import Testing

/// Every training op's backward against central finite differences of an
/// independent Double-precision reference of its forward (and the op's own
/// Float forward against that reference). Each loss is Σ dOut·out with a
/// random dOut, so each check is a projection onto a random direction.
/// Gradient buffers start from random "prior" values and the checks use
/// (after − prior): that also tests that every backward accumulates.
@Suite struct GradientCheckTests {
    // MARK: helpers

    static func random(_ n: Int, seed: UInt64, scale: Float = 1, offset: Float = 0) -> [Float] {
        var rng = SeededRandom(seed: seed)
        return (0..<n).map { _ in rng.nextNormal() * scale + offset }
    }

    /// Small random values for gradient buffers before a backward: nonzero, so
    /// a backward that overwrites instead of accumulating fails, and small, so
    /// (after − prior) loses no precision.
    static func prior(_ n: Int, seed: UInt64) -> [Float] { random(n, seed: seed, scale: 0.01) }

    static func dotD(_ a: [Float], _ b: [Double]) -> Double {
        precondition(a.count == b.count)
        var s = 0.0
        for i in 0..<a.count { s += Double(a[i]) * b[i] }
        return s
    }

    /// after − prior, elementwise.
    static func delta(_ after: FloatBuffer, _ prior: [Float]) -> [Float] {
        (0..<prior.count).map { after[$0] - prior[$0] }
    }

    // MARK: linear

    @Test func linearWithStrides() {
        // inp and dInp are column windows of wider buffers, dOut is the middle
        // third of a (rows, 3·outDim) buffer, the weight the middle block of a
        // fused (3·outDim, inDim) matrix: the Q/K/V situation.
        let rows = 4, inDim = 11, outDim = 9
        let ldInp = 13, ldDInp = 15, ldDOut = 3 * outDim, dOutOffset = outDim
        var inp = Self.random(rows * inDim, seed: 1)
        var w = Self.random(outDim * inDim, seed: 2, scale: 0.5)
        var b = Self.random(outDim, seed: 3)
        let dOutWide = Self.random(rows * ldDOut, seed: 4)
        func loss(_ inp: [Float], _ w: [Float], _ b: [Float]) -> Double {
            var total = 0.0
            for r in 0..<rows {
                for o in 0..<outDim {
                    var y = Double(b[o])
                    for i in 0..<inDim { y += Double(inp[r * inDim + i]) * Double(w[o * inDim + i]) }
                    total += Double(dOutWide[r * ldDOut + dOutOffset + o]) * y
                }
            }
            return total
        }
        let inpWide = FloatBuffer(Self.random(rows * ldInp, seed: 5))
        for r in 0..<rows { for i in 0..<inDim { inpWide[r * ldInp + i] = inp[r * inDim + i] } }
        let wBig = FloatBuffer(Self.random(3 * outDim * inDim, seed: 6))
        for j in 0..<outDim * inDim { wBig[outDim * inDim + j] = w[j] }
        let dInpPrior = Self.prior(rows * ldDInp, seed: 7)
        let dWPrior = Self.prior(3 * outDim * inDim, seed: 8)
        let dBPrior = Self.prior(outDim, seed: 9)
        let dInp = FloatBuffer(dInpPrior), dW = FloatBuffer(dWPrior), dB = FloatBuffer(dBPrior)
        let dOut = FloatBuffer(dOutWide)
        linearBackward(
            dInp: dInp.pointer, dWeight: dW.pointer + outDim * inDim, dBias: dB.pointer,
            dOut: dOut.pointer + dOutOffset, inp: inpWide.pointer, weight: wBig.pointer + outDim * inDim,
            rows: rows, inDim: inDim, outDim: outDim, ldInp: ldInp, ldDInp: ldDInp, ldDOut: ldDOut)

        var gInp = [Float](repeating: 0, count: rows * inDim)
        for r in 0..<rows {
            for i in 0..<ldDInp {
                let d = dInp[r * ldDInp + i] - dInpPrior[r * ldDInp + i]
                if i < inDim { gInp[r * inDim + i] = d } else { #expect(d == 0, "dInp padding column written") }
            }
        }
        let dWAll = Self.delta(dW, dWPrior)
        #expect(dWAll[..<(outDim * inDim)].allSatisfy { $0 == 0 } && dWAll[(2 * outDim * inDim)...].allSatisfy { $0 == 0 },
                "dWeight written outside its block")
        let gW = Array(dWAll[(outDim * inDim)..<(2 * outDim * inDim)])
        let gB = Self.delta(dB, dBPrior)
        checkGradient("linear dInp", parameters: &inp, analytic: gInp, tolerance: 1e-4) { loss($0, w, b) }
        checkGradient("linear dWeight", parameters: &w, analytic: gW, tolerance: 1e-4) { loss(inp, $0, b) }
        checkGradient("linear dBias", parameters: &b, analytic: gB, tolerance: 1e-4) { loss(inp, w, $0) }

        // nil gradients skip their work and leave the others right.
        let dB2 = FloatBuffer(count: outDim)
        linearBackward(dInp: nil, dWeight: nil, dBias: dB2.pointer, dOut: dOut.pointer + dOutOffset,
                       inp: inpWide.pointer, weight: wBig.pointer + outDim * inDim,
                       rows: rows, inDim: inDim, outDim: outDim, ldInp: ldInp, ldDOut: ldDOut)
        for o in 0..<outDim { #expect(abs(dB2[o] - gB[o]) <= 1e-5 * max(1, abs(gB[o]))) }
    }

    @Test func columnSumsAreExactRowOrderSums() {
        // Big enough to be split across threads; must equal a sequential
        // row-order Float sum per column, bit for bit.
        let rows = 300, cols = 1003, ld = 1010
        let x = FloatBuffer(Self.random(rows * ld, seed: 11))
        let prior = Self.prior(cols, seed: 12)
        let sums = FloatBuffer(prior)
        accumulateColumnSums(sums.pointer, x.pointer, rows: rows, cols: cols, ld: ld)
        var mismatches = 0
        for c in 0..<cols {
            var a: Float = 0
            for r in 0..<rows { a += x[r * ld + c] }
            if sums[c] != prior[c] + a { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    // MARK: LayerNorm

    static func layerNormLoss(_ x: [Float], _ g: [Float], _ b: [Float], _ dOut: [Float], rows: Int, cols: Int, eps: Double) -> Double {
        var total = 0.0
        for r in 0..<rows {
            let row = (0..<cols).map { Double(x[r * cols + $0]) }
            let mean = row.reduce(0, +) / Double(cols)
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(cols)
            let rstd = 1 / (variance + eps).squareRoot()
            for c in 0..<cols { total += Double(dOut[r * cols + c]) * ((row[c] - mean) * rstd * Double(g[c]) + Double(b[c])) }
        }
        return total
    }

    /// 13 columns: one vector and a tail; 45: the 32-column blocks too.
    @Test(arguments: [13, 45])
    func layerNorm(cols: Int) {
        let rows = 4, eps: Float = 1e-5
        var x = Self.random(rows * cols, seed: 21, scale: 1.5, offset: 0.3)
        var gamma = Self.random(cols, seed: 22, scale: 0.5, offset: 1)
        var beta = Self.random(cols, seed: 23)
        let dOutValues = Self.random(rows * cols, seed: 24)
        let xb = FloatBuffer(x), gb = FloatBuffer(gamma), bb = FloatBuffer(beta), dOut = FloatBuffer(dOutValues)
        let out = FloatBuffer(count: rows * cols), mean = FloatBuffer(count: rows), rstd = FloatBuffer(count: rows)
        layerNormForward(out: out.pointer, mean: mean.pointer, rstd: rstd.pointer, inp: xb.pointer,
                         gamma: gb.pointer, beta: bb.pointer, rows: rows, cols: cols, eps: eps)
        let reference = FloatBuffer(count: rows * cols)
        residualLayerNorm(out: reference.pointer, x: xb.pointer, bias: nil, residual: nil, gamma: gb.pointer,
                          beta: bb.pointer, rows: rows, cols: cols, eps: eps)
        #expect(out.array == reference.array, "layerNormForward differs from residualLayerNorm")

        let dxPrior = Self.prior(rows * cols, seed: 25), dgPrior = Self.prior(cols, seed: 26), dbPrior = Self.prior(cols, seed: 27)
        let dx = FloatBuffer(dxPrior), dg = FloatBuffer(dgPrior), db = FloatBuffer(dbPrior)
        let dResidual = FloatBuffer(count: rows * cols)
        layerNormBackward(dInp: dx.pointer, dGamma: dg.pointer, dBeta: db.pointer, dOut: dOut.pointer, inp: xb.pointer,
                          mean: mean.pointer, rstd: rstd.pointer, gamma: gb.pointer, rows: rows, cols: cols,
                          dResidual: dResidual.pointer)
        let gx = Self.delta(dx, dxPrior)
        let loss = { (x: [Float], g: [Float], b: [Float]) in
            Self.layerNormLoss(x, g, b, dOutValues, rows: rows, cols: cols, eps: Double(eps))
        }
        checkGradient("layerNorm dInp cols=\(cols)", parameters: &x, analytic: gx, tolerance: 1e-3) { loss($0, gamma, beta) }
        checkGradient("layerNorm dGamma cols=\(cols)", parameters: &gamma, analytic: Self.delta(dg, dgPrior), tolerance: 1e-4) { loss(x, $0, beta) }
        checkGradient("layerNorm dBeta cols=\(cols)", parameters: &beta, analytic: Self.delta(db, dbPrior), tolerance: 1e-4) { loss(x, gamma, $0) }
        for i in 0..<rows * cols { #expect(abs(dResidual[i] - gx[i]) <= 1e-6 * max(1, abs(gx[i])), "dResidual[\(i)]") }
    }

    @Test func residualLayerNormForwardMatchesInference() {
        let rows = 5, cols = 21, eps: Float = 1e-12
        let x = FloatBuffer(Self.random(rows * cols, seed: 31)), residual = FloatBuffer(Self.random(rows * cols, seed: 32))
        let bias = FloatBuffer(Self.random(cols, seed: 33)), gamma = FloatBuffer(Self.random(cols, seed: 34, offset: 1))
        let beta = FloatBuffer(Self.random(cols, seed: 35))
        let reference = FloatBuffer(count: rows * cols)
        residualLayerNorm(out: reference.pointer, x: x.pointer, bias: bias.pointer, residual: residual.pointer,
                          gamma: gamma.pointer, beta: beta.pointer, rows: rows, cols: cols, eps: eps)
        let out = FloatBuffer(count: rows * cols), sum = FloatBuffer(count: rows * cols)
        let mean = FloatBuffer(count: rows), rstd = FloatBuffer(count: rows)
        residualLayerNormForward(out: out.pointer, sum: sum.pointer, mean: mean.pointer, rstd: rstd.pointer,
                                 x: x.pointer, bias: bias.pointer, residual: residual.pointer,
                                 gamma: gamma.pointer, beta: beta.pointer, rows: rows, cols: cols, eps: eps)
        #expect(out.array == reference.array)
        for r in 0..<rows { for c in 0..<cols { #expect(sum[r * cols + c] == x[r * cols + c] + bias[c] + residual[r * cols + c]) } }
        // The sum may overwrite x in place.
        let xCopy = FloatBuffer(x.array), out2 = FloatBuffer(count: rows * cols)
        residualLayerNormForward(out: out2.pointer, sum: xCopy.pointer, mean: mean.pointer, rstd: rstd.pointer,
                                 x: xCopy.pointer, bias: bias.pointer, residual: residual.pointer,
                                 gamma: gamma.pointer, beta: beta.pointer, rows: rows, cols: cols, eps: eps)
        #expect(out2.array == reference.array)
        #expect(xCopy.array == sum.array)
    }

    // MARK: activations

    static func activationReference(_ x: Double, _ activation: Activation) -> Double {
        switch activation {
        case .gelu: return 0.5 * x * (1 + erf(x / 2.0.squareRoot()))
        case .geluNew, .geluPytorchTanh: return 0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
        case .relu: return max(x, 0)
        }
    }

    @Test(arguments: Activation.allCases)
    func activation(_ activation: Activation) {
        let count = 29  // three vectors and a 5-lane tail
        var x = Self.random(count, seed: 41, scale: 2)
        if activation == .relu {  // keep away from the kink
            x = x.map { abs($0) < 0.05 ? $0 + 0.1 : $0 }
        }
        let dOutValues = Self.random(count, seed: 42)
        let xb = FloatBuffer(x), dOut = FloatBuffer(dOutValues), out = FloatBuffer(count: count)
        activationForward(out: out.pointer, inp: xb.pointer, count: count, activation: activation)
        // Same numerics as the inference kernel (bias zero), close to the exact function.
        let inference = FloatBuffer(x), zeroBias = FloatBuffer(count: count)
        biasActivation(inference.pointer, bias: zeroBias.pointer, rows: 1, cols: count, activation: activation)
        #expect(out.array == inference.array)
        for i in 0..<count {
            let want = Self.activationReference(Double(x[i]), activation)
            #expect(abs(Double(out[i]) - want) <= 2e-6 * max(1, abs(want)))
        }
        let prior = Self.prior(count, seed: 43)
        let dInp = FloatBuffer(prior)
        activationBackward(dInp: dInp.pointer, dOut: dOut.pointer, preActivation: xb.pointer, count: count, activation: activation)
        // 3e-4: for negative x, 1 + erf (in the derivative as in the forward)
        // keeps only Float's absolute precision (the worst is ~1e-4).
        checkGradient("activation \(activation.rawValue)", parameters: &x, analytic: Self.delta(dInp, prior), tolerance: 3e-4) { x in
            var total = 0.0
            for i in 0..<count { total += Double(dOutValues[i]) * Self.activationReference(Double(x[i]), activation) }
            return total
        }
    }

    @Test func tanh() {
        let count = 21
        var x = Self.random(count, seed: 51, scale: 1.5)
        let dOutValues = Self.random(count, seed: 52)
        let xb = FloatBuffer(x), y = FloatBuffer(count: count), dOut = FloatBuffer(dOutValues)
        tanhForward(out: y.pointer, inp: xb.pointer, count: count)
        for i in 0..<count { #expect(abs(Double(y[i]) - Foundation.tanh(Double(x[i]))) <= 1e-6) }
        let prior = Self.prior(count, seed: 53)
        let dInp = FloatBuffer(prior)
        tanhBackward(dInp: dInp.pointer, dOut: dOut.pointer, output: y.pointer, count: count)
        checkGradient("tanh", parameters: &x, analytic: Self.delta(dInp, prior), tolerance: 1e-4) { x in
            var total = 0.0
            for i in 0..<count { total += Double(dOutValues[i]) * Foundation.tanh(Double(x[i])) }
            return total
        }
    }

    // MARK: dropout

    @Test func dropoutWithFixedMask() {
        let count = 27, p: Float = 0.4
        var rng = SeededRandom(seed: 61)
        let mask = FloatBuffer(count: count)
        dropoutMask(mask.pointer, count: count, p: p, rng: &rng)
        #expect(mask.array.allSatisfy { $0 == 0 || $0 == 1 / (1 - p) })
        #expect(mask.array.contains(0) && mask.array.contains(1 / (1 - p)))
        var x = Self.random(count, seed: 62)
        let dOutValues = Self.random(count, seed: 63)
        // The forward multiplies by the mask.
        let xb = FloatBuffer(x)
        multiplyElementwise(xb.pointer, mask.pointer, count: count)
        for i in 0..<count { #expect(xb[i] == x[i] * mask[i]) }
        let prior = Self.prior(count, seed: 64)
        let dInp = FloatBuffer(prior), dOut = FloatBuffer(dOutValues)
        dropoutBackward(dInp: dInp.pointer, dOut: dOut.pointer, mask: mask.pointer, count: count)
        let m = mask.array
        checkGradient("dropout", parameters: &x, analytic: Self.delta(dInp, prior), tolerance: 1e-5) { x in
            var total = 0.0
            for i in 0..<count { total += Double(dOutValues[i]) * Double(x[i]) * Double(m[i]) }
            return total
        }
    }

    @Test func dropoutMaskStatistics() {
        let count = 200_000, p: Float = 0.1
        let a = FloatBuffer(count: count), b = FloatBuffer(count: count), c = FloatBuffer(count: count)
        var r1 = SeededRandom(seed: 7), r2 = SeededRandom(seed: 7)
        dropoutMask(a.pointer, count: count, p: p, rng: &r1)
        dropoutMask(b.pointer, count: count, p: p, rng: &r2)
        #expect(a.array == b.array, "same seed, same mask")
        #expect(r1 == r2)
        dropoutMask(c.pointer, count: count, p: p, rng: &r1)
        #expect(a.array != c.array, "the generator advances")
        let dropped = Double(a.array.filter { $0 == 0 }.count) / Double(count)
        #expect(abs(dropped - Double(p)) < 0.005, "dropped fraction \(dropped)")
        // Inverted dropout keeps the mean.
        let mean = a.array.reduce(0.0) { $0 + Double($1) } / Double(count)
        #expect(abs(mean - 1) < 0.01)
        // p = 0: identity, generator untouched.
        let x = FloatBuffer(Self.random(100, seed: 8)), before = x.array
        let mask = FloatBuffer(count: 100)
        var r3 = SeededRandom(seed: 9)
        dropoutForward(x.pointer, mask: mask.pointer, count: 100, p: 0, rng: &r3)
        #expect(x.array == before && mask.array.allSatisfy { $0 == 1 } && r3 == SeededRandom(seed: 9))
        // p > 0 in place: x = before · mask.
        dropoutForward(x.pointer, mask: mask.pointer, count: 100, p: 0.5, rng: &r3)
        for i in 0..<100 { #expect(x[i] == before[i] * mask[i]) }
    }

    // MARK: attention

    /// A packed attention problem: q rows (ldq) and k/v rows (in one kv array
    /// at column offsets kOff and vOff, stride ldkv).
    struct AttentionProblem {
        var heads: Int, d: Int
        var segments: AttentionSegments
        var ldq: Int, qOff: Int
        var ldkv: Int, kOff: Int, vOff: Int
        var ldOut: Int
        var offsets: [Int]
        var probabilityCount: Int
        var queryRows: Int

        init(heads: Int, d: Int, segments: AttentionSegments, ldq: Int, qOff: Int, ldkv: Int, kOff: Int, vOff: Int, ldOut: Int) {
            self.heads = heads; self.d = d; self.segments = segments
            self.ldq = ldq; self.qOff = qOff; self.ldkv = ldkv; self.kOff = kOff; self.vOff = vOff; self.ldOut = ldOut
            var offsets: [Int] = [], total = 0
            for s in 0..<segments.count { offsets.append(total); total += heads * segments.queryCount[s] * segments.keyCount[s] }
            self.offsets = offsets; probabilityCount = total
            queryRows = (0..<segments.count).map { segments.queryStart[$0] + segments.queryCount[$0] }.max() ?? 0
        }

        /// Σ dOut · ctx with ctx = (softmax(QKᵀ/√d) ⊙ M) V, in Double.
        func loss(q: [Float], kv: [Float], mask: [Float]?, dOut: [Float]) -> Double {
            let scale = 1 / Double(d).squareRoot()
            var total = 0.0
            for s in 0..<segments.count {
                let nq = segments.queryCount[s], nk = segments.keyCount[s]
                let q0 = segments.queryStart[s], k0 = segments.keyStart[s]
                for h in 0..<heads {
                    for i in 0..<nq {
                        var scores = [Double](repeating: 0, count: nk)
                        for j in 0..<nk {
                            var acc = 0.0
                            for c in 0..<d {
                                acc += Double(q[(q0 + i) * ldq + qOff + h * d + c]) * Double(kv[(k0 + j) * ldkv + kOff + h * d + c])
                            }
                            scores[j] = acc * scale
                        }
                        let m = scores.max()!
                        let e = scores.map { Foundation.exp($0 - m) }
                        let sum = e.reduce(0, +)
                        for j in 0..<nk {
                            var p = e[j] / sum
                            if let mask { p *= Double(mask[offsets[s] + (h * nq + i) * nk + j]) }
                            for c in 0..<d {
                                total += p * Double(kv[(k0 + j) * ldkv + vOff + h * d + c]) * Double(dOut[(q0 + i) * ldOut + h * d + c])
                            }
                        }
                    }
                }
            }
            return total
        }

        func randomMask(seed: UInt64, p: Float) -> [Float] {
            var rng = SeededRandom(seed: seed)
            return (0..<probabilityCount).map { _ in rng.nextUniform() < p ? 0 : 1 / (1 - p) }
        }

        /// Runs the real forward (for P, and to compare ctx without a mask),
        /// then the backward into (dq, dkv) starting from the given priors.
        func backward(q: [Float], kv: [Float], mask: [Float]?, dOut: [Float], dqPrior: [Float], dkvPrior: [Float],
                      workspace: Workspace = Workspace()) -> (dq: FloatBuffer, dkv: FloatBuffer, ctx: FloatBuffer) {
            let qb = FloatBuffer(q), kvb = FloatBuffer(kv), dOutB = FloatBuffer(dOut)
            let ctx = FloatBuffer(count: max(queryRows * ldOut, 1))
            let probs = FloatBuffer(count: max(probabilityCount, 1))
            multiHeadAttention(out: ctx.pointer, ldOut: ldOut, q: qb.pointer + qOff, ldq: ldq, k: kvb.pointer + kOff, ldk: ldkv,
                               v: kvb.pointer + vOff, ldv: ldkv, segments: segments, heads: heads, headDim: d,
                               probabilities: probs.pointer, probabilityOffsets: offsets, workspace: workspace)
            let dq = FloatBuffer(dqPrior), dkv = FloatBuffer(dkvPrior)
            let maskB = mask.map { FloatBuffer($0) }
            multiHeadAttentionBackward(
                dQ: dq.pointer + qOff, lddq: ldq, dK: dkv.pointer + kOff, lddk: ldkv, dV: dkv.pointer + vOff, lddv: ldkv,
                dOut: dOutB.pointer, ldOut: ldOut, q: qb.pointer + qOff, ldq: ldq, k: kvb.pointer + kOff, ldk: ldkv,
                v: kvb.pointer + vOff, ldv: ldkv, probabilities: probs.pointer, probabilityOffsets: offsets,
                dropoutMask: maskB?.pointer, segments: segments, heads: heads, headDim: d, workspace: workspace)
            return (dq, dkv, ctx)
        }
    }

    /// Fused QKV: q, k, v are column thirds of one (T, 3H) array, and so are
    /// their gradients; every row is a query.
    @Test(arguments: [(12, false), (12, true), (33, false), (33, true)])
    func attentionAllQueries(d: Int, masked: Bool) {
        let heads = 2, h = heads * d
        let lengths = d == 12 ? [5, 3, 18] : [4, 7]
        let starts = lengths.indices.map { lengths[..<$0].reduce(0, +) }
        let t = lengths.reduce(0, +)
        let problem = AttentionProblem(heads: heads, d: d, segments: AttentionSegments(starts: starts, lengths: lengths),
                                       ldq: 3 * h, qOff: 0, ldkv: 3 * h, kOff: h, vOff: 2 * h, ldOut: h)
        var qkv = Self.random(t * 3 * h, seed: 71, scale: 0.8)
        let dOut = Self.random(t * h, seed: 72)
        let mask = masked ? problem.randomMask(seed: 73, p: 0.3) : nil
        let prior = Self.prior(t * 3 * h, seed: 74)
        let (dq, dkv, ctx) = problem.backward(q: qkv, kv: qkv, mask: mask, dOut: dOut, dqPrior: prior, dkvPrior: prior)
        // dq holds dQ in its Q columns, dkv dK and dV in the others: combine.
        var analytic = [Float](repeating: 0, count: t * 3 * h)
        for r in 0..<t {
            for c in 0..<3 * h {
                let i = r * 3 * h + c
                analytic[i] = c < h ? dq[i] - prior[i] : dkv[i] - prior[i]
                if c < h { #expect(dkv[i] == prior[i]) } else { #expect(dq[i] == prior[i]) }
            }
        }
        if !masked {
            // The kernel's forward agrees with the reference (dOut = unit vectors is
            // too many evaluations; compare Σ dOut·ctx instead).
            let kernel = Self.dotD(dOut, ctx.array[..<(t * h)].map(Double.init))
            let reference = problem.loss(q: qkv, kv: qkv, mask: nil, dOut: dOut)
            #expect(abs(kernel - reference) <= 1e-5 * max(1, abs(reference)))
        }
        checkGradient("attention all queries d=\(d) masked=\(masked)", parameters: &qkv, analytic: analytic, tolerance: 1e-3) { x in
            problem.loss(q: x, kv: x, mask: mask, dOut: dOut)
        }
    }

    /// Queries a subset of rows, gathered into their own buffer (with strides
    /// wider than the data); keys and values from separate column windows.
    @Test(arguments: [false, true])
    func attentionQuerySubset(masked: Bool) {
        let heads = 2, d = 12, h = heads * d
        let segments = AttentionSegments(queryStart: [0, 2, 5], queryCount: [2, 3, 7], keyStart: [0, 5, 8], keyCount: [5, 3, 18])
        let t = 26, nqTotal = 12
        let ldq = h + 3, ldkv = 2 * h + 1, ldOut = h + 2
        let problem = AttentionProblem(heads: heads, d: d, segments: segments, ldq: ldq, qOff: 0,
                                       ldkv: ldkv, kOff: 0, vOff: h + 1, ldOut: ldOut)
        var q = Self.random(nqTotal * ldq, seed: 81, scale: 0.8)
        var kv = Self.random(t * ldkv, seed: 82, scale: 0.8)
        let dOut = Self.random(nqTotal * ldOut, seed: 83)
        let mask = masked ? problem.randomMask(seed: 84, p: 0.3) : nil
        let dqPrior = Self.prior(q.count, seed: 85), dkvPrior = Self.prior(kv.count, seed: 86)
        let (dq, dkv, ctx) = problem.backward(q: q, kv: kv, mask: mask, dOut: dOut, dqPrior: dqPrior, dkvPrior: dkvPrior)
        if !masked {
            var kernel = 0.0
            for r in 0..<nqTotal { for c in 0..<h { kernel += Double(dOut[r * ldOut + c]) * Double(ctx[r * ldOut + c]) } }
            let reference = problem.loss(q: q, kv: kv, mask: nil, dOut: dOut)
            #expect(abs(kernel - reference) <= 1e-5 * max(1, abs(reference)))
        }
        let gq = Self.delta(dq, dqPrior), gkv = Self.delta(dkv, dkvPrior)
        // Padding columns get nothing.
        for r in 0..<nqTotal { for c in h..<ldq { #expect(gq[r * ldq + c] == 0) } }
        for r in 0..<t { #expect(gkv[r * ldkv + h] == 0) }
        checkGradient("attention subset dQ masked=\(masked)", parameters: &q, analytic: gq, tolerance: 1e-3) { x in
            problem.loss(q: x, kv: kv, mask: mask, dOut: dOut)
        }
        checkGradient("attention subset dK,dV masked=\(masked)", parameters: &kv, analytic: gkv, tolerance: 1e-3) { x in
            problem.loss(q: q, kv: x, mask: mask, dOut: dOut)
        }
    }

    @Test func attentionBackwardIsDeterministic() {
        let heads = 4, d = 32, h = heads * d
        let lengths = [40, 70, 33, 5]
        let starts = lengths.indices.map { lengths[..<$0].reduce(0, +) }
        let t = lengths.reduce(0, +)
        let problem = AttentionProblem(heads: heads, d: d, segments: AttentionSegments(starts: starts, lengths: lengths),
                                       ldq: 3 * h, qOff: 0, ldkv: 3 * h, kOff: h, vOff: 2 * h, ldOut: h)
        let qkv = Self.random(t * 3 * h, seed: 91)
        let dOut = Self.random(t * h, seed: 92)
        let mask = problem.randomMask(seed: 93, p: 0.1)
        let zero = [Float](repeating: 0, count: t * 3 * h)
        let ws = Workspace()
        let a = problem.backward(q: qkv, kv: qkv, mask: mask, dOut: dOut, dqPrior: zero, dkvPrior: zero, workspace: ws)
        let b = problem.backward(q: qkv, kv: qkv, mask: mask, dOut: dOut, dqPrior: zero, dkvPrior: zero, workspace: ws)
        let c = problem.backward(q: qkv, kv: qkv, mask: mask, dOut: dOut, dqPrior: zero, dkvPrior: zero, workspace: Workspace())
        #expect(a.dq.array == b.dq.array && a.dkv.array == b.dkv.array)
        #expect(a.dq.array == c.dq.array && a.dkv.array == c.dkv.array)
        #expect(a.dkv.array.contains { $0 != 0 })
    }

    // MARK: losses

    @Test func crossEntropyWithIgnoredRow() {
        let classes = 11, ld = 14, scale: Float = 0.7
        let labels: [Int32] = [3, -1, 0, 10, 7]
        let rows = labels.count
        var logits = Self.random(rows * classes, seed: 101, scale: 3)
        func reference(_ x: [Float]) -> Double {
            var total = 0.0, n = 0
            for r in 0..<rows where labels[r] >= 0 {
                let row = (0..<classes).map { Double(x[r * classes + $0]) }
                let m = row.max()!
                let lse = Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - m) }) + m
                total += lse - row[Int(labels[r])]
                n += 1
            }
            return total / Double(n) * Double(scale)
        }
        let wide = FloatBuffer(Self.random(rows * ld, seed: 102))
        for r in 0..<rows { for c in 0..<classes { wide[r * ld + c] = logits[r * classes + c] } }
        let prior = Self.prior(rows * ld, seed: 103)
        let dWide = FloatBuffer(prior)
        let value = softmaxCrossEntropy(logits: wide.pointer, labels: labels, classes: classes, ldLogits: ld,
                                        dLogits: dWide.pointer, ldDLogits: ld, scale: scale)
        let want = reference(logits)
        #expect(abs(value - want) <= 1e-6 * abs(want), "loss \(value) vs \(want)")
        let full = Self.delta(dWide, prior)
        var analytic = [Float](repeating: 0, count: rows * classes)
        for r in 0..<rows {
            for c in 0..<ld {
                if c < classes { analytic[r * classes + c] = full[r * ld + c] } else { #expect(full[r * ld + c] == 0) }
            }
            if labels[r] < 0 { #expect((0..<classes).allSatisfy { full[r * ld + $0] == 0 }, "ignored row got a gradient") }
        }
        checkGradient("cross-entropy", parameters: &logits, analytic: analytic, tolerance: 1e-4) { reference($0) }
        // Value only, and all rows ignored.
        #expect(softmaxCrossEntropy(logits: wide.pointer, labels: labels, classes: classes, ldLogits: ld, dLogits: nil, scale: scale) == value)
        #expect(softmaxCrossEntropy(logits: wide.pointer, labels: [-1, -1], classes: classes, ldLogits: ld, dLogits: dWide.pointer) == 0)
    }

    static func klReference(_ z: [Float], _ pt: [Float], rows: Int, classes: Int, direction: KLDirection,
                            scale: Float, temperature: Float) -> Double {
        var total = 0.0
        for r in 0..<rows {
            let s = (0..<classes).map { Double(z[r * classes + $0]) / Double(temperature) }
            let m = s.max()!
            let lse = Foundation.log(s.reduce(0) { $0 + Foundation.exp($1 - m) }) + m
            for c in 0..<classes {
                let logPs = s[c] - lse, t = Double(pt[r * classes + c])
                switch direction {
                case .teacherStudent: if t > 0 { total += t * (Foundation.log(t) - logPs) }
                case .studentTeacher: total += Foundation.exp(logPs) * (logPs - Foundation.log(t))
                }
            }
        }
        return total / Double(rows) * Double(scale)
    }

    @Test(arguments: [KLDirection.teacherStudent, .studentTeacher], [Float(1), 2])
    func klDivergence(direction: KLDirection, temperature: Float) {
        let rows = 4, classes = 9, scale: Float = 1.3
        var z = Self.random(rows * classes, seed: 111, scale: 2)
        let teacherLogits = FloatBuffer(Self.random(rows * classes, seed: 112, scale: 2))
        let pt = FloatBuffer(count: rows * classes)
        softmaxRows(out: pt.pointer, logits: teacherLogits.pointer, rows: rows, classes: classes, temperature: temperature)
        let ptArray = pt.array
        let zb = FloatBuffer(z), prior = Self.prior(rows * classes, seed: 113)
        let dz = FloatBuffer(prior)
        let value = Offramp.klDivergence(studentLogits: zb.pointer, teacherProbs: pt.pointer, rows: rows, classes: classes,
                                         direction: direction, dStudentLogits: dz.pointer, scale: scale, temperature: temperature)
        let want = Self.klReference(z, ptArray, rows: rows, classes: classes, direction: direction, scale: scale, temperature: temperature)
        #expect(value > 0)
        #expect(abs(value - want) <= 1e-6 * abs(want), "KL \(value) vs \(want)")
        checkGradient("KL \(direction) T=\(temperature)", parameters: &z, analytic: Self.delta(dz, prior), tolerance: 1e-4) {
            Self.klReference($0, ptArray, rows: rows, classes: classes, direction: direction, scale: scale, temperature: temperature)
        }

        // Student == teacher: zero divergence, zero gradient.
        let same = FloatBuffer(count: rows * classes)
        softmaxRows(out: same.pointer, logits: zb.pointer, rows: rows, classes: classes, temperature: temperature)
        let dZero = FloatBuffer(count: rows * classes)
        let zeroValue = Offramp.klDivergence(studentLogits: zb.pointer, teacherProbs: same.pointer, rows: rows, classes: classes,
                                             direction: direction, dStudentLogits: dZero.pointer, scale: scale, temperature: temperature)
        #expect(abs(zeroValue) < 1e-6, "KL(p ‖ p) = \(zeroValue)")
        #expect(dZero.array.allSatisfy { abs($0) < 1e-6 })
    }

    // MARK: embeddings, pooling, gather/scatter

    @Test func embeddingWithRepeatedIds() {
        let vocab = 6, width = 11, ldOut = 13
        let ids: [Int32] = [3, 1, 3, 0, 3, 5, 1]
        var table = Self.random(vocab * width, seed: 141)
        let dOutValues = Self.random(ids.count * ldOut, seed: 142)
        let prior = Self.prior(vocab * width, seed: 143)
        let dTable = FloatBuffer(prior), dOut = FloatBuffer(dOutValues)
        embeddingBackward(dTable: dTable.pointer, dOut: dOut.pointer, ids: ids, width: width, ldOut: ldOut)
        let g = Self.delta(dTable, prior)
        #expect(g[(4 * width)..<(5 * width)].allSatisfy { $0 == 0 }, "an unused id got a gradient")
        checkGradient("embedding", parameters: &table, analytic: g, tolerance: 1e-5) { t in
            var total = 0.0
            for (r, id) in ids.enumerated() {
                for c in 0..<width { total += Double(dOutValues[r * ldOut + c]) * Double(t[Int(id) * width + c]) }
            }
            return total
        }
    }

    @Test func embeddingBackwardLargeIsExactRowOrderSum() {
        // Wide enough to be split across threads: the same bits as a sequential loop.
        let vocab = 50, width = 768, rows = 300
        var rng = SeededRandom(seed: 151)
        let ids = (0..<rows).map { _ in Int32(rng.next() % UInt64(vocab)) }
        let dOut = FloatBuffer(Self.random(rows * width, seed: 152))
        let dTable = FloatBuffer(count: vocab * width)
        embeddingBackward(dTable: dTable.pointer, dOut: dOut.pointer, ids: ids, width: width)
        var want = [Float](repeating: 0, count: vocab * width)
        for r in 0..<rows { for c in 0..<width { want[Int(ids[r]) * width + c] += dOut[r * width + c] } }
        #expect(dTable.array == want)
    }

    @Test func meanPooling() {
        let width = 13, starts = [0, 4, 6], lengths = [4, 2, 5], rows = 11
        var x = Self.random(rows * width, seed: 161)
        let dOutValues = Self.random(starts.count * width, seed: 162)
        let out = FloatBuffer(count: starts.count * width), xb = FloatBuffer(x)
        meanPoolForward(out: out.pointer, inp: xb.pointer, starts: starts, lengths: lengths, width: width)
        func reference(_ x: [Float]) -> [Double] {
            var pooled = [Double](repeating: 0, count: starts.count * width)
            for s in starts.indices {
                for r in starts[s]..<(starts[s] + lengths[s]) {
                    for c in 0..<width { pooled[s * width + c] += Double(x[r * width + c]) / Double(lengths[s]) }
                }
            }
            return pooled
        }
        let want = reference(x)
        for i in 0..<want.count { #expect(abs(Double(out[i]) - want[i]) <= 1e-6) }
        let prior = Self.prior(rows * width, seed: 163)
        let dx = FloatBuffer(prior), dOut = FloatBuffer(dOutValues)
        meanPoolBackward(dInp: dx.pointer, dOut: dOut.pointer, starts: starts, lengths: lengths, width: width)
        checkGradient("mean pooling", parameters: &x, analytic: Self.delta(dx, prior), tolerance: 1e-5) { x in
            Self.dotD(dOutValues, reference(x))
        }
    }

    @Test func gatherAndScatterRows() {
        let width = 9, rows = 5, ldInp = 10, ldOut = 12
        let picks = [2, 0, 2, 4]
        var x = Self.random(rows * ldInp, seed: 171)
        let dOutValues = Self.random(picks.count * ldOut, seed: 172)
        let xb = FloatBuffer(x), out = FloatBuffer(count: picks.count * ldOut)
        gatherRows(out: out.pointer, inp: xb.pointer, rows: picks, width: width, ldOut: ldOut, ldInp: ldInp)
        for (i, r) in picks.enumerated() { for c in 0..<width { #expect(out[i * ldOut + c] == x[r * ldInp + c]) } }
        let prior = Self.prior(rows * ldInp, seed: 173)
        let dx = FloatBuffer(prior), dOut = FloatBuffer(dOutValues)
        scatterAddRows(dInp: dx.pointer, dOut: dOut.pointer, rows: picks, width: width, ldDInp: ldInp, ldDOut: ldOut)
        let g = Self.delta(dx, prior)
        for r in 0..<rows { #expect(g[r * ldInp + width] == 0, "padding column written") }
        checkGradient("gather/scatter", parameters: &x, analytic: g, tolerance: 1e-5) { x in
            var total = 0.0
            for (i, r) in picks.enumerated() { for c in 0..<width { total += Double(dOutValues[i * ldOut + c]) * Double(x[r * ldInp + c]) } }
            return total
        }
    }

    // MARK: timing (opt-in)

    /// Attention forward vs backward at BERT-base shape (8 × 128 tokens, 12
    /// heads of 64, dropout mask on). Run with OFFRAMP_BENCH_GRAD=1 in a
    /// release build; prints milliseconds.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["OFFRAMP_BENCH_GRAD"] != nil))
    func attentionBackwardTiming() {
        Threads.configure()
        let heads = 12, d = 64, h = heads * d
        let lengths = [Int](repeating: 128, count: 8)
        let starts = lengths.indices.map { $0 * 128 }
        let t = lengths.reduce(0, +)
        let problem = AttentionProblem(heads: heads, d: d, segments: AttentionSegments(starts: starts, lengths: lengths),
                                       ldq: 3 * h, qOff: 0, ldkv: 3 * h, kOff: h, vOff: 2 * h, ldOut: h)
        let qkv = FloatBuffer(Self.random(t * 3 * h, seed: 1)), dOut = FloatBuffer(Self.random(t * h, seed: 2))
        let mask = FloatBuffer(problem.randomMask(seed: 3, p: 0.1))
        let ctx = FloatBuffer(count: t * h), probs = FloatBuffer(count: problem.probabilityCount)
        let dqkv = FloatBuffer(count: t * 3 * h)
        let ws = Workspace()
        func time(_ body: () -> Void) -> Double {
            body()
            var best = Double.infinity
            for _ in 0..<5 {
                let start = DispatchTime.now().uptimeNanoseconds
                body()
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
            return best
        }
        let forward = time {
            multiHeadAttention(out: ctx.pointer, ldOut: h, q: qkv.pointer, ldq: 3 * h, k: qkv.pointer + h, ldk: 3 * h,
                               v: qkv.pointer + 2 * h, ldv: 3 * h, segments: problem.segments, heads: heads, headDim: d,
                               probabilities: probs.pointer, probabilityOffsets: problem.offsets, workspace: ws)
        }
        let backward = time {
            multiHeadAttentionBackward(
                dQ: dqkv.pointer, lddq: 3 * h, dK: dqkv.pointer + h, lddk: 3 * h, dV: dqkv.pointer + 2 * h, lddv: 3 * h,
                dOut: dOut.pointer, ldOut: h, q: qkv.pointer, ldq: 3 * h, k: qkv.pointer + h, ldk: 3 * h,
                v: qkv.pointer + 2 * h, ldv: 3 * h, probabilities: probs.pointer, probabilityOffsets: problem.offsets,
                dropoutMask: mask.pointer, segments: problem.segments, heads: heads, headDim: d, workspace: ws)
        }
        let flops = Double(8 * heads * 128 * 128 * d * 2)
        print("attention timing: forward \(String(format: "%.2f", forward)) ms (\(String(format: "%.1f", 2 * flops / forward / 1e6)) GFLOP/s), "
              + "backward \(String(format: "%.2f", backward)) ms (\(String(format: "%.1f", 4 * flops / backward / 1e6)) GFLOP/s), threads \(Threads.count)")
    }
}
