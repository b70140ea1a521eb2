import CKernels

// MARK: - Precision: the number format of the encoder's matrix products
//
// docs/methods.md#precision. Only the encoder layers' products change; the
// embeddings, LayerNorm, softmax, GELU, residuals and exit heads stay fp32.

/// The number format of the encoder's matrix products.
public enum Precision: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Float32 throughout.
    case fp32
    /// Weights rounded to bfloat16 (to nearest, ties to even) at load,
    /// activations rounded per product; fp32 accumulation (AVX512-BF16).
    case bf16
    /// Weights int8, symmetric per output channel, at load; activations int8
    /// per row at run time; int32 accumulation, rescaled to fp32 (AVX512-VNNI).
    case int8

    public var description: String { rawValue }

    /// Parses a command line's or a request's value, naming `option` in the error.
    public init(parsing text: String, option: String = "--precision") throws {
        guard let p = Precision(rawValue: text.lowercased()) else {
            throw OfframpError("\(option) \"\(text)\" is not a precision (known: \(Self.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self = p
    }

    /// Whether this CPU has the precision's kernels.
    public var isAvailable: Bool {
        switch self {
        case .fp32: true
        case .bf16: bf16KernelsAvailable
        case .int8: int8KernelsAvailable
        }
    }

    /// What runs here when `self` is asked for: itself, or fp32 on a CPU
    /// without its kernels (the products then cost and answer as fp32's).
    public var effective: Precision { isAvailable ? self : .fp32 }
}

/// Whether fp32 weights can be packed for the AVX-512 fp32 kernel
/// (`PackedWeights` in fp32).
public let fp32PackingAvailable = ck_has_avx512() != 0
/// Whether the int8 kernels (AVX-512 with VNNI) run on this CPU.
public let int8KernelsAvailable = ck_has_avx512_vnni() != 0
/// Whether the bf16 kernels (AVX-512 with BF16) run on this CPU.
public let bf16KernelsAvailable = ck_has_avx512_bf16() != 0

/// Runs 24 · `iterations` independent `vpdpbusd` (2 · 64 int8 operations
/// each) on this thread: a core's int8 peak, for `offramp bench gemm`.
/// Needs `int8KernelsAvailable`.
@discardableResult
public func int8PeakSpin(_ iterations: Int) -> Int32 { ck_vnni_spin(iterations) }
