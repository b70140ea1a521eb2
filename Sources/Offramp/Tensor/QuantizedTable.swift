import CKernels

// MARK: - A lookup table in int8 (per row) or bf16
//
// The word-embedding table of a model run below fp32 (docs/methods.md#precision):
// int8 with one symmetric scale per row (the scheme of the layers' weights,
// a row being a token's vector), or bf16. A lookup widens one row to fp32;
// everything after it (the sums, LayerNorm) stays fp32.

/// A (rows, width) table stored in int8 with per-row scales, or in bf16.
public final class QuantizedTable: @unchecked Sendable {
    public enum Values: Sendable {
        /// q (rows, width) row-major, and scale[r] = max|T[r,:]| / 127.
        case int8([Int8], scales: [Float])
        /// The bits of each bf16 value, row-major.
        case bf16([UInt16])
    }

    public let values: Values
    public let rows: Int
    public let width: Int

    public var precision: Precision {
        if case .int8 = values { return .int8 }
        return .bf16
    }

    /// Bytes the table holds (its scales included).
    public var byteCount: Int {
        switch values {
        case .int8(let q, let scales): q.count + 4 * scales.count
        case .bf16(let bits): 2 * bits.count
        }
    }

    /// `values` checked against (rows, width): an error naming `name` when a count differs.
    public init(_ values: Values, rows: Int, width: Int, name: String) throws {
        let (count, scaleCount): (Int, Int) = switch values {
        case .int8(let q, let scales): (q.count, scales.count)
        case .bf16(let bits): (bits.count, rows)
        }
        guard count == rows * width else {
            throw OfframpError("\(name): \(count) values where (\(rows), \(width)) needs \(rows * width)")
        }
        guard scaleCount == rows else { throw OfframpError("\(name): \(scaleCount) scales where \(rows) rows need one each") }
        self.values = values; self.rows = rows; self.width = width
    }

    /// Quantizes (int8, per row as `ck_s8_quantize`) or rounds (bf16) an fp32 table.
    public init(quantizing table: UnsafePointer<Float>, rows: Int, width: Int, precision: Precision) {
        precondition(precision != .fp32, "an fp32 table is not quantized")
        self.rows = rows; self.width = width
        if precision == .int8 {
            var q = [Int8](repeating: 0, count: rows * width), scales = [Float](repeating: 0, count: rows)
            ck_s8_quantize(&q, &scales, table, Int32(rows), Int32(width), Int32(width))
            values = .int8(q, scales: scales)
        } else {
            values = .bf16((0..<(rows * width)).map { ck_bf16_round(table[$0]) })
        }
    }

    /// out (width) = row r widened to fp32.
    func copyRow(_ r: Int, to out: UnsafeMutablePointer<Float>) {
        let w = width
        switch values {
        case .int8(let q, let scales):
            let s = scales[r]
            q.withUnsafeBufferPointer { q in for j in 0..<w { out[j] = Float(q[r * w + j]) * s } }
        case .bf16(let bits):
            bits.withUnsafeBufferPointer { b in for j in 0..<w { out[j] = Float(bitPattern: UInt32(b[r * w + j]) << 16) } }
        }
    }
}
