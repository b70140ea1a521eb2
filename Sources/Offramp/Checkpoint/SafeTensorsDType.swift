import Foundation

// MARK: - Element types

/// The element types of the safetensors format, spelled as in the header.
/// (The sub-byte types F4/F6 of newer format versions are not supported: a
/// file using them fails to open with an "unsupported dtype" error.)
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case bool = "BOOL"
    case u8 = "U8"
    case i8 = "I8"
    case f8e5m2 = "F8_E5M2"
    case f8e4m3 = "F8_E4M3"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .f64, .i64, .u64: return 8
        }
    }

    /// Whether `SafeTensorsFile.floats` can read this type.
    public var isReadableAsFloat: Bool { [.f32, .f16, .bf16, .f64].contains(self) }

    /// Whether `SafeTensorsFile.integers` can read this type.
    public var isReadableAsInteger: Bool { [.i64, .i32, .i16, .i8, .u8, .u16, .u32, .u64, .bool].contains(self) }
}

// MARK: - Tensor entries

/// One tensor of a safetensors file, as its header describes it (validated).
public struct SafeTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorsDType
    /// Dimensions, outermost first; `[]` is a scalar (one element).
    public let shape: [Int]
    /// Where the tensor's bytes are, as absolute offsets in the file.
    public let byteRange: Range<Int>
    /// The product of `shape` (checked for overflow when the header was read).
    public let elementCount: Int

    init(name: String, dtype: SafeTensorsDType, shape: [Int], byteRange: Range<Int>, elementCount: Int) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.byteRange = byteRange
        self.elementCount = elementCount
    }
}

/// The product of `shape` and then `dtypeSize`, or nil when a dimension is
/// negative or the product overflows `Int` (the header may be hostile).
func checkedByteCount(shape: [Int], dtypeSize: Int) -> (elements: Int, bytes: Int)? {
    var elements = 1
    for dim in shape {
        guard dim >= 0 else { return nil }
        let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
        guard !overflow else { return nil }
        elements = product
    }
    let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtypeSize)
    return overflow ? nil : (elements, bytes)
}

// MARK: - Half-precision conversion

/// Exact widening of 16-bit floats to Float, by bit manipulation, so it does
/// not depend on the platform having `Float16` (macOS on Intel does not).
enum HalfPrecision {
    /// IEEE 754 binary16 bits to Float. Every binary16 value, including
    /// subnormals, infinities and NaN payloads, is exactly representable.
    @inline(__always)
    static func float(fromF16 bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        switch exponent {
        case 0x1F:
            // Infinity or NaN: all-ones exponent, mantissa (and quiet bit) kept.
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        case 0:
            // Zero or subnormal: mantissa * 2^-24, exact in Float (it is a
            // 10-bit integer scaled by a power of two in Float's normal range).
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        default:
            // Normal: rebias the exponent from 15 to 127, widen the mantissa.
            return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
        }
    }

    /// bfloat16 bits to Float: bfloat16 is the upper half of a Float.
    @inline(__always)
    static func float(fromBF16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }
}
