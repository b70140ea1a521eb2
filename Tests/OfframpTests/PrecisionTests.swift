import Foundation
import Offramp
import Testing

/// Reduced precision (docs/methods.md#precision): the int8 and bf16 kernels
/// against naive references (odd sizes, tails, strides, column windows), and
/// encoders prepared in int8 or bf16 against fp32.
@Suite struct PrecisionTests {
    static func random(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var rng = SeededRandom(seed: seed)
        return (0..<count).map { _ in rng.nextNormal() * scale }
    }

    /// (rows, inDim, outDim, ldInp extra, ldOut extra, first column of the window)
    static let shapes = [(1, 4, 16, 0, 0, 0), (5, 21, 37, 3, 5, 16), (17, 384, 50, 0, 7, 32), (4, 9, 3, 1, 0, 0),
                         (33, 64, 130, 0, 0, 64), (7, 1536, 20, 2, 0, 0)]

    /// The int8 scheme written out: per-channel and per-row scales max|·|/127,
    /// products of the rounded integers summed exactly, rescaled, plus the bias.
    static func naiveInt8(_ x: [Float], ldx: Int, _ w: [Float], rows: Int, inDim k: Int, outDim n: Int,
                          columns: Range<Int>, bias: [Float]?) -> [[Float]] {
        func quantize(_ v: ArraySlice<Float>) -> (q: [Int], scale: Float) {
            let m = v.map(abs).max() ?? 0
            let scale: Float = m > 0 ? m / 127 : 1, inv = 1 / scale
            return (v.map { max(-127, min(127, Int(($0 * inv).rounded(.toNearestOrEven)))) }, scale)
        }
        let channels = (0..<n).map { quantize(w[($0 * k)..<($0 * k + k)]) }
        return (0..<rows).map { r in
            let a = quantize(x[(r * ldx)..<(r * ldx + k)])
            return columns.enumerated().map { j, c in
                let s = zip(a.q, channels[c].q).reduce(0) { $0 + $1.0 * $1.1 }
                return Float(s) * (a.scale * channels[c].scale) + (bias?[j] ?? 0)
            }
        }
    }

    static func bf16(_ x: Float) -> Float {
        var u = x.bitPattern
        u = (u &+ 0x7fff &+ ((u >> 16) & 1)) & 0xffff_0000
        return Float(bitPattern: u)
    }

    /// Runs the packed product on one shape, into a wider output with sentinels
    /// around the window, and returns the window's rows and what lies outside.
    static func run(_ precision: Precision, rows m: Int, inDim k: Int, outDim n: Int, ldxExtra: Int, ldoExtra: Int,
                    first: Int, bias withBias: Bool) -> (x: [Float], w: [Float], out: [[Float]], bias: [Float]?, untouched: Bool) {
        let ldx = k + ldxExtra, cols = first ..< n, ldo = cols.count + ldoExtra
        let x = random(m * ldx, seed: UInt64(m * 31 + k), scale: 2), w = random(n * k, seed: UInt64(n * 7 + k), scale: 0.1)
        let bias = withBias ? random(cols.count, seed: 3) : nil
        let packed = PackedWeights(w, outDim: n, inDim: k, precision: precision, scratch: PrecisionScratch())
        var out = [Float](repeating: 12345, count: m * ldo + 8)
        out.withUnsafeMutableBufferPointer { o in
            if let bias {
                bias.withUnsafeBufferPointer { packed.product(o.baseAddress!, x, rows: m, columns: cols, ldInp: ldx, ldOut: ldo, bias: $0.baseAddress!) }
            } else {
                packed.product(o.baseAddress!, x, rows: m, columns: cols, ldInp: ldx, ldOut: ldo)
            }
        }
        let window = (0..<m).map { r in Array(out[(r * ldo)..<(r * ldo + cols.count)]) }
        let outside = (0..<m).allSatisfy { r in out[(r * ldo + cols.count)..<(r * ldo + ldo)].allSatisfy { $0 == 12345 } }
            && out.suffix(8).allSatisfy { $0 == 12345 }
        return (x, w, window, bias, outside)
    }

    @Test(.enabled(if: int8KernelsAvailable)) func int8KernelEqualsTheNaiveScheme() {
        for (m, k, n, ldxExtra, ldoExtra, first) in Self.shapes where first < n {
            for withBias in [false, true] {
                let r = Self.run(.int8, rows: m, inDim: k, outDim: n, ldxExtra: ldxExtra, ldoExtra: ldoExtra, first: first, bias: withBias)
                let ref = Self.naiveInt8(r.x, ldx: k + ldxExtra, r.w, rows: m, inDim: k, outDim: n, columns: first ..< n, bias: r.bias)
                #expect(r.untouched, "writes stay inside the window: \(m)x\(k)x\(n)")
                // Integer sums are exact: only the fp32 rescale rounds.
                let worst = zip(r.out, ref).map { zip($0, $1).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0 }.max() ?? 0
                #expect(worst < 1e-5, "\(m)x\(k)x\(n) window from \(first), bias \(withBias): \(worst)")
            }
        }
    }

    /// SmoothQuant: the kernel quantizes x·diag(s)⁻¹ per row against W·diag(s)
    /// per channel; with outlier input channels it is closer to fp32 than without.
    @Test(.enabled(if: int8KernelsAvailable)) func smoothQuantKernelEqualsTheNaiveScheme() {
        let (m, k, n) = (9, 40, 35)
        var x = Self.random(m * k, seed: 5)
        for r in 0..<m { x[r * k + 3] *= 60; x[r * k + 17] *= 30 }  // outlier channels
        let w = Self.random(n * k, seed: 6, scale: 0.1)
        var maxX = [Float](repeating: 0, count: k), maxW = [Float](repeating: 0, count: k)
        for r in 0..<m { for j in 0..<k { maxX[j] = max(maxX[j], abs(x[r * k + j])) } }
        for c in 0..<n { for j in 0..<k { maxW[j] = max(maxW[j], abs(w[c * k + j])) } }
        let s = (0..<k).map { (maxX[$0] / maxW[$0]).squareRoot() }  // α = 0.5
        func product(_ smoothing: [Float]?) -> [Float] {
            let packed = PackedWeights(w, outDim: n, inDim: k, precision: .int8, scratch: PrecisionScratch(), smoothing: smoothing)
            var out = [Float](repeating: 0, count: m * n)
            out.withUnsafeMutableBufferPointer { packed.product($0.baseAddress!, x, rows: m, columns: 0 ..< n) }
            return out
        }
        let smoothed = product(s), plain = product(nil)
        let inv = s.map { 1 / $0 }
        let xs = (0..<(m * k)).map { x[$0] * inv[$0 % k] }, ws = (0..<(n * k)).map { w[$0] * s[$0 % k] }
        let ref = Self.naiveInt8(xs, ldx: k, ws, rows: m, inDim: k, outDim: n, columns: 0 ..< n, bias: nil).flatMap { $0 }
        let worst = zip(smoothed, ref).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        #expect(worst < 1e-5, "smoothed kernel against the naive scheme: \(worst)")
        var exact = [Float](repeating: 0, count: m * n)
        for r in 0..<m { for c in 0..<n { exact[r * n + c] = (0..<k).reduce(0) { $0 + x[r * k + $1] * w[c * k + $1] } } }
        func error(_ y: [Float]) -> Float { zip(y, exact).map { abs($0 - $1) }.reduce(0, +) }
        #expect(error(smoothed) < 0.5 * error(plain), "SmoothQuant error \(error(smoothed)) against \(error(plain)) without")
    }

    @Test(.enabled(if: bf16KernelsAvailable)) func bf16KernelEqualsTheNaiveProduct() {
        for (m, k, n, ldxExtra, ldoExtra, first) in Self.shapes where first < n {
            let r = Self.run(.bf16, rows: m, inDim: k, outDim: n, ldxExtra: ldxExtra, ldoExtra: ldoExtra, first: first, bias: true)
            let ldx = k + ldxExtra
            #expect(r.untouched)
            for i in 0..<m {
                for (j, c) in (first ..< n).enumerated() {
                    var s = 0.0, magnitude = 0.0
                    for p in 0..<k {
                        let t = Double(Self.bf16(r.x[i * ldx + p])) * Double(Self.bf16(r.w[c * k + p]))
                        s += t; magnitude += abs(t)
                    }
                    let got = Double(r.out[i][j]) - Double(r.bias![j])
                    #expect(abs(got - s) <= 1e-5 * max(1, magnitude), "\(m)x\(k)x\(n) [\(i), \(c)]: \(got) vs \(s)")
                }
            }
        }
    }

    @Test func precisionNamesParseAndBadOnesAreClearErrors() throws {
        #expect(try Precision(parsing: "int8") == .int8)
        #expect(try Precision(parsing: "BF16") == .bf16)
        #expect(throws: OfframpError("--precision \"fp16\" is not a precision (known: fp32, bf16, int8)")) {
            try Precision(parsing: "fp16")
        }
        #expect(Precision.fp32.isAvailable && Precision.fp32.effective == .fp32)
        #expect(Precision.int8.effective == (int8KernelsAvailable ? .int8 : .fp32))
    }

    /// Row-wise cosine between two (T, H) buffers: (mean, min).
    static func cosines(_ a: FloatBuffer, _ b: FloatBuffer, width h: Int) -> (mean: Double, min: Double) {
        let rows = a.count / h
        let c = (0..<rows).map { r -> Double in
            var ab = 0.0, aa = 0.0, bb = 0.0
            for i in 0..<h {
                let x = Double(a.pointer[r * h + i]), y = Double(b.pointer[r * h + i])
                ab += x * y; aa += x * x; bb += y * y
            }
            return ab / (aa * bb).squareRoot()
        }
        return (c.reduce(0, +) / Double(rows), c.min() ?? 0)
    }

    /// The packed fp32 kernel against a naive product: the shapes above and
    /// two that cross its row slabs (168 rows at k = 384, 42 at k = 1536) with
    /// a row tail; and each row's result is the same bits whatever rows share the call.
    @Test(.enabled(if: fp32PackingAvailable)) func packedFp32KernelEqualsTheNaiveProduct() {
        for (m, k, n, ldxExtra, ldoExtra, first) in Self.shapes + [(200, 384, 80, 1, 3, 16), (50, 1536, 40, 0, 0, 0)] where first < n {
            let r = Self.run(.fp32, rows: m, inDim: k, outDim: n, ldxExtra: ldxExtra, ldoExtra: ldoExtra, first: first, bias: true)
            let ldx = k + ldxExtra
            #expect(r.untouched, "writes stay inside the window: \(m)x\(k)x\(n)")
            var worst = 0.0
            for i in 0..<m {
                for (j, c) in (first ..< n).enumerated() {
                    var s = Double(r.bias![j]), magnitude = 0.0
                    for p in 0..<k { let t = Double(r.x[i * ldx + p]) * Double(r.w[c * k + p]); s += t; magnitude += abs(t) }
                    worst = max(worst, abs(Double(r.out[i][j]) - s) / max(1, magnitude))
                }
            }
            #expect(worst < 1e-6, "\(m)x\(k)x\(n) window from \(first): \(worst)")
        }
        let (k, n) = (384, 48)
        let x = Self.random(13 * k, seed: 8), w = Self.random(n * k, seed: 9, scale: 0.1)
        let packed = PackedWeights(w, outDim: n, inDim: k, precision: .fp32, scratch: PrecisionScratch())
        func product(rows: Int, from r0: Int) -> [Float] {
            var out = [Float](repeating: 0, count: rows * n)
            x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { packed.product($0.baseAddress!, xp.baseAddress! + r0 * k, rows: rows, columns: 0 ..< n) } }
            return out
        }
        let all = product(rows: 13, from: 0)
        for r in [0, 5, 12] { #expect(product(rows: 1, from: r) == Array(all[(r * n)..<((r + 1) * n)]), "row \(r) alone") }
    }

    /// fp32 inference packs the layer weights (AVX-512); training drops the
    /// copy, so an update is never hidden behind a stale one.
    @Test(.enabled(if: fp32PackingAvailable)) func fp32PackingIsForInferenceOnly() throws {
        let dir = try TestModels.tinyPretrained(layers: 2)
        defer { try? FileManager.default.removeItem(at: dir) }
        let encoder = try BertEncoder.load(directory: dir)
        let data = TestModels.classificationExamples()
        let batch = PackedBatch(ids: data.map(\.ids), typeIds: data.map(\.typeIds))
        #expect(!encoder.fp32Packed && encoder.packedWeightBytes == 0)
        let blas = try encoder(batch).lastHidden.array
        try encoder.prepare(precision: .fp32)
        #expect(encoder.fp32Packed && encoder.packedWeightBytes > 0 && encoder.precision == .fp32)
        let packed = try encoder(batch).lastHidden.array
        #expect(zip(packed, blas).allSatisfy { abs($0 - $1) < 1e-5 }, "packed fp32 answers as fp32")
        _ = try encoder.forwardTraining(batch, activations: EncoderActivations(layers: 2, pass: .deterministic()))
        #expect(!encoder.fp32Packed && encoder.packedWeightBytes == 0, "training reads the live weights")
        // An update shows at once in inference, and packing again packs it.
        let w = encoder.parameters["encoder.layer.0.intermediate.dense.weight"]
        for i in 0..<64 { w[i] *= 3 }
        let changed = try encoder(batch).lastHidden.array
        #expect(zip(changed, blas).contains { abs($0 - $1) > 1e-3 }, "the changed weight is read")
        try encoder.prepare(precision: .fp32)
        #expect(zip(try encoder(batch).lastHidden.array, changed).allSatisfy { abs($0 - $1) < 1e-5 }, "repacked from the live weights")
    }

    @Test(.enabled(if: int8KernelsAvailable && bf16KernelsAvailable)) func preparedEncodersStayCloseToFp32() throws {
        let dir = try TestModels.tinyPretrained(layers: 4)
        defer { try? FileManager.default.removeItem(at: dir) }
        let encoder = try BertEncoder.load(directory: dir)
        let data = TestModels.classificationExamples()
        let batch = PackedBatch(ids: data.map(\.ids), typeIds: data.map(\.typeIds))
        let fp32 = try encoder(batch).lastHidden
        for (precision, mean, least) in [(Precision.int8, 0.999, 0.995), (.bf16, 0.99999, 0.9999)] {
            #expect(try encoder.prepare(precision: precision) == precision && encoder.precision == precision)
            let reduced = try encoder(batch).lastHidden
            let c = Self.cosines(reduced, fp32, width: 16)
            #expect(c.mean >= mean && c.min >= least, "\(precision): cosine to fp32 mean \(c.mean), min \(c.min)")
            #expect(zip(reduced.buffer, fp32.buffer).contains { $0 != $1 }, "\(precision) products ran")
        }
        // SmoothQuant calibrated on the batch itself: still close, and flagged; plain int8 again drops it.
        try encoder.prepare(precision: .int8, smoothQuantOn: [batch])
        #expect(encoder.smoothed && encoder.precision == .int8)
        let smoothed = Self.cosines(try encoder(batch).lastHidden, fp32, width: 16)
        #expect(smoothed.mean >= 0.999 && smoothed.min >= 0.995, "SmoothQuant: mean \(smoothed.mean), min \(smoothed.min)")
        try encoder.prepare(precision: .int8)
        #expect(!encoder.smoothed)
        try encoder.prepare(precision: .fp32)
        let again = try encoder(batch).lastHidden
        #expect(zip(again.buffer, fp32.buffer).allSatisfy { abs($0 - $1) < 1e-5 }, "fp32 again is fp32")
        // Training needs the fp32 products.
        try encoder.prepare(precision: .int8)
        #expect(throws: OfframpError("training runs in fp32; this encoder was prepared for int8")) {
            _ = try encoder.forwardTraining(batch, activations: EncoderActivations(layers: 4, pass: .deterministic()))
        }
    }

    /// Early exit on an int8 model: each row is quantized on its own, so a
    /// batched or continuous run gives every input what running it alone
    /// gives (up to the fp32 parts' rounding, which can move a quantized value
    /// by one step), as in fp32; and it mostly agrees with fp32.
    @Test(.enabled(if: int8KernelsAvailable)) func earlyExitOnInt8IsBatchInvariant() throws {
        let (model, data, dir) = try TestModels.trainedClassifier()
        defer { try? FileManager.default.removeItem(at: dir) }
        let saved = dir.appendingPathComponent("saved")
        try model.save(to: saved)
        let fp32 = try EarlyExitRunner(model: MultiExitModel.load(directory: saved))
        let int8Model = try MultiExitModel.load(directory: saved, precision: .int8)
        #expect(int8Model.encoder.precision == .int8)
        let int8 = try EarlyExitRunner(model: int8Model)
        let every = try fp32.run(data, policy: .entropy(0), batchSize: 8)
        for policy in EarlyExitTests.policies(every) {
            let alone = try int8.run(data, policy: policy, batchSize: 1)
            for (batch, continuous) in [(8, false), (5, true)] {
                let together = try int8.run(data, policy: policy, batchSize: batch, continuous: continuous)
                EarlyExitTests.expectSameAnswers(alone, together, policy: policy, tolerance: 1e-3, "int8 batch \(batch) continuous \(continuous)")
            }
            let reference = try fp32.run(data, policy: policy, batchSize: 8)
            let agree = zip(alone.results, reference.results).filter { $0.label == $1.label }.count
            #expect(agree >= data.count * 9 / 10, "\(policy): int8 and fp32 labels agree on \(agree) of \(data.count)")
        }
    }
}
