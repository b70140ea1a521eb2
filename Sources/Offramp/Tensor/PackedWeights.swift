import CKernels

// MARK: - A weight matrix in reduced precision, packed for the kernels
//
// int8: W quantized per output channel, scale_c = max|W[c,:]| / 127; the
// activations of each product quantized per row (per token) on the fly,
// the u8 offset compensated per column (CKernels/int8_gemm.c). bf16: W and
// the activations rounded to bfloat16 (bf16_gemm.c). fp32: W copied once
// into the kernel's panel layout, so inference products skip the copy OpenBLAS
// makes on every call (f32_gemm.c).

/// The buffers the reduced-precision products of one encoder share: the
/// quantized (or rounded) activations and their row scales. One encoder's
/// products run one at a time, so one scratch serves all its layers.
public final class PrecisionScratch: @unchecked Sendable {
    private(set) var bytes = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
    private var byteCount = 64
    private(set) var rowScales = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private var rowCapacity = 1

    public init() {}

    /// Room for `count` bytes of activations and `rows` scales.
    func reserve(bytes count: Int, rows: Int) {
        if count > byteCount {
            bytes.deallocate()
            byteCount = count
            bytes = .allocate(byteCount: count, alignment: 64)
        }
        if rows > rowCapacity {
            rowScales.deallocate()
            rowCapacity = rows
            rowScales = .allocate(capacity: rows)
        }
    }

    deinit { bytes.deallocate(); rowScales.deallocate() }
}

/// W (outDim, inDim) in int8, bf16 or fp32, packed in blocks of 16 output columns.
public final class PackedWeights: @unchecked Sendable {
    public let precision: Precision
    public let outDim: Int
    public let inDim: Int
    /// inDim rounded up to the kernel's step (4 for int8, 2 for bf16, 1 for fp32).
    let paddedInDim: Int
    let packed: UnsafeMutableRawPointer
    /// int8: 128 · Σ_k q[c,k] per column, and the per-channel scales.
    let compensation: UnsafeMutablePointer<Int32>?
    public let channelScales: UnsafeMutablePointer<Float>?
    /// int8 with SmoothQuant: s_j per input channel (W·diag(s) is what is
    /// quantized), and 1/s_j, applied as the input is quantized.
    public let smoothing: [Float]?
    let inverseSmoothing: UnsafeMutablePointer<Float>?
    let scratch: PrecisionScratch
    /// Bytes of the packed weights (and int8's per-column tables).
    public let byteCount: Int

    /// Quantizes (int8), rounds (bf16) or copies (fp32) W (outDim, inDim; row stride `ldWeight`).
    /// `smoothing` (int8 only): SmoothQuant's s_j per input channel; W·diag(s)
    /// is quantized, and each input is divided by s on the fly.
    public convenience init(_ weight: UnsafePointer<Float>, outDim: Int, inDim: Int, ldWeight: Int? = nil, precision: Precision,
                            scratch: PrecisionScratch, smoothing: [Float]? = nil) {
        precondition(precision != .fp32 || fp32PackingAvailable, "the packed fp32 kernel needs AVX-512")
        precondition(smoothing == nil || (precision == .int8 && smoothing!.count == inDim), "smoothing: int8, one per input")
        let ld = ldWeight ?? inDim
        switch precision {
        case .int8:
            var q = [Int8](repeating: 0, count: outDim * inDim), scales = [Float](repeating: 0, count: outDim)
            if let s = smoothing {
                let scaled = (0..<outDim).flatMap { c in (0..<inDim).map { j in weight[c * ld + j] * s[j] } }
                ck_s8_quantize(&q, &scales, scaled, Int32(outDim), Int32(inDim), Int32(inDim))
            } else {
                ck_s8_quantize(&q, &scales, weight, Int32(outDim), Int32(inDim), Int32(ld))
            }
            self.init(int8: q, scales: scales, outDim: outDim, inDim: inDim, scratch: scratch, smoothing: smoothing)
        case .fp32:
            self.init(precision: .fp32, outDim: outDim, inDim: inDim, scratch: scratch, smoothing: nil)
            ck_f32_pack(packed.assumingMemoryBound(to: Float.self), weight, Int32(outDim), Int32(inDim), Int32(ld))
        case .bf16:
            self.init(precision: .bf16, outDim: outDim, inDim: inDim, scratch: scratch, smoothing: nil)
            ck_bf16_pack(packed.assumingMemoryBound(to: UInt16.self), weight, Int32(outDim), Int32(inDim), Int32(ld))
        }
    }

    /// W already quantized: q (outDim, inDim) row-major and its per-channel
    /// scales, as `ck_s8_quantize` gives them (of W·diag(smoothing) when
    /// SmoothQuant's s_j is given). Packs exactly what quantizing at load packs.
    public convenience init(int8 q: UnsafePointer<Int8>, scales: UnsafePointer<Float>, outDim: Int, inDim: Int,
                            scratch: PrecisionScratch, smoothing: [Float]? = nil) {
        precondition(smoothing == nil || smoothing!.count == inDim, "smoothing: one per input")
        self.init(precision: .int8, outDim: outDim, inDim: inDim, scratch: scratch, smoothing: smoothing)
        ck_s8_pack_quantized(packed.assumingMemoryBound(to: Int8.self), compensation, channelScales, q, scales,
                             Int32(outDim), Int32(inDim), Int32(inDim))
    }

    /// W already in bf16: its bits (outDim, inDim) row-major.
    public convenience init(bf16 bits: UnsafePointer<UInt16>, outDim: Int, inDim: Int, scratch: PrecisionScratch) {
        self.init(precision: .bf16, outDim: outDim, inDim: inDim, scratch: scratch, smoothing: nil)
        ck_bf16_pack_bits(packed.assumingMemoryBound(to: UInt16.self), bits, Int32(outDim), Int32(inDim), Int32(inDim))
    }

    /// Allocates the buffers; the convenience initializers fill them.
    private init(precision: Precision, outDim: Int, inDim: Int, scratch: PrecisionScratch, smoothing: [Float]?) {
        self.precision = precision; self.outDim = outDim; self.inDim = inDim; self.scratch = scratch
        self.smoothing = smoothing
        let columns = (outDim + 15) / 16 * 16
        if precision == .int8 {
            paddedInDim = (inDim + 3) / 4 * 4
            let size = Int(ck_s8_packed_size(Int32(outDim), Int32(inDim)))
            packed = .allocate(byteCount: size, alignment: 64)
            compensation = .allocate(capacity: columns)
            channelScales = .allocate(capacity: columns)
            if let s = smoothing {
                let inv = UnsafeMutablePointer<Float>.allocate(capacity: inDim)
                for j in 0..<inDim { inv[j] = 1 / s[j] }
                inverseSmoothing = inv
            } else {
                inverseSmoothing = nil
            }
            byteCount = size + 8 * columns + (smoothing == nil ? 0 : 8 * inDim)
        } else if precision == .fp32 {
            paddedInDim = inDim
            let count = Int(ck_f32_packed_size(Int32(outDim), Int32(inDim)))
            packed = .allocate(byteCount: 4 * count, alignment: 64)
            compensation = nil; channelScales = nil; inverseSmoothing = nil
            byteCount = 4 * count
        } else {
            paddedInDim = (inDim + 1) / 2 * 2
            let count = Int(ck_bf16_packed_size(Int32(outDim), Int32(inDim)))
            packed = .allocate(byteCount: 2 * count, alignment: 64)
            compensation = nil; channelScales = nil; inverseSmoothing = nil
            byteCount = 2 * count
        }
    }

    /// int8: rows `rows` of q (row-major) and their scales, as packed (what a
    /// quantized checkpoint stores).
    public func int8Rows(_ rows: Range<Int>) -> (values: [Int8], scales: [Float]) {
        precondition(precision == .int8 && rows.upperBound <= outDim)
        return (unpackedRows(rows, as: Int8.self, group: 4), rows.map { channelScales![$0] })
    }

    /// bf16: rows `rows` of W's bits (row-major), as packed.
    public func bf16Rows(_ rows: Range<Int>) -> [UInt16] {
        precondition(precision == .bf16 && rows.upperBound <= outDim)
        return unpackedRows(rows, as: UInt16.self, group: 2)
    }

    /// Rows of the packed layout both kernels read: 16 output columns a block,
    /// each column's inputs in groups of `group` (4 int8 for vpdpbusd, 2 bf16
    /// for vdpbf16ps) side by side across the block.
    private func unpackedRows<T: FixedWidthInteger>(_ rows: Range<Int>, as: T.Type, group g: Int) -> [T] {
        let kp = paddedInDim, p = packed.assumingMemoryBound(to: T.self)
        var values = [T](repeating: 0, count: rows.count * inDim)
        for (i, c) in rows.enumerated() {
            let src = p + (c / 16) * 16 * kp + (c % 16) * g
            for j in 0..<inDim { values[i * inDim + j] = src[(j / g) * 16 * g + j % g] }
        }
        return values
    }

    deinit { packed.deallocate(); compensation?.deallocate(); channelScales?.deallocate(); inverseSmoothing?.deallocate() }

    /// out (rows, columns.count; row stride ldOut) = inp (rows, inDim; stride
    /// ldInp) · W[columns]ᵀ (+ bias, columns.count values), where
    /// `columns.lowerBound` is a multiple of 16. Needs `precision.isAvailable`.
    public func product(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, rows: Int, columns: Range<Int>,
                        ldInp: Int? = nil, ldOut: Int? = nil, bias: UnsafePointer<Float>? = nil) {
        if rows == 0 || columns.isEmpty { return }
        precondition(columns.lowerBound % 16 == 0 && columns.upperBound <= outDim, "columns \(columns) of \(outDim)")
        let ldi = ldInp ?? inDim, ldo = ldOut ?? columns.count, kp = paddedInDim
        let k = Int32(inDim), lda = Int32(kp), precision = precision, factor = inverseSmoothing.map { UnsafePointer($0) }
        let a: UnsafeMutableRawPointer, rowScales: UnsafeMutablePointer<Float>
        if precision == .fp32 {  // the input as it is: nothing to quantize
            a = UnsafeMutableRawPointer(mutating: inp); rowScales = scratch.rowScales
        } else {
            let elementSize = precision == .int8 ? 1 : 2
            scratch.reserve(bytes: rows * kp * elementSize, rows: rows)
            a = scratch.bytes; rowScales = scratch.rowScales
            // Quantizing is a pass over the input; worth splitting only for many rows.
            parallelChunks(rows, minimumChunk: max(16, (1 << 16) / max(inDim, 1))) { r in
                let n = Int32(r.count)
                if precision == .int8 {
                    ck_u8_quantize_rows(a.assumingMemoryBound(to: UInt8.self) + r.lowerBound * kp, lda,
                                        rowScales + r.lowerBound, inp + r.lowerBound * ldi, Int32(ldi), n, k, factor)
                } else {
                    ck_bf16_convert_rows(a.assumingMemoryBound(to: UInt16.self) + r.lowerBound * kp, lda,
                                         inp + r.lowerBound * ldi, Int32(ldi), n, k)
                }
            }
        }
        // Output columns split across threads in whole 16-column blocks; at
        // least 64 columns a thread (fewer cost more to wake than they save).
        let first = columns.lowerBound, blocks = (columns.count + 15) / 16
        parallelChunks(blocks, minimumChunk: 4) { b in
            let n0 = first + b.lowerBound * 16, n1 = min(first + b.upperBound * 16, columns.upperBound)
            let o = out + (n0 - first), bs = bias.map { $0 + (n0 - first) }
            switch precision {
            case .fp32:
                ck_gemm_f32_packed(o, Int32(ldo), a.assumingMemoryBound(to: Float.self), Int32(ldi),
                                   packed.assumingMemoryBound(to: Float.self), bs, Int32(rows), k, Int32(n0), Int32(n1))
            case .int8:
                ck_gemm_u8s8(o, Int32(ldo), a.assumingMemoryBound(to: UInt8.self), lda, rowScales,
                             packed.assumingMemoryBound(to: Int8.self), compensation, channelScales, bs,
                             Int32(rows), k, Int32(n0), Int32(n1))
            case .bf16:
                ck_gemm_bf16(o, Int32(ldo), a.assumingMemoryBound(to: UInt16.self), lda,
                             packed.assumingMemoryBound(to: UInt16.self), bs, Int32(rows), k, Int32(n0), Int32(n1))
            }
        }
    }
}
