import Foundation

// MARK: - A quantized checkpoint's config block (`offramp quantize`)
//
// config.json of a directory `offramp quantize` wrote carries
//   "offramp_quantization": {"precision": "int8", "scheme": "symmetric-per-output-channel", "smoothing": false}
// and model.safetensors holds each encoder layer weight as I8 (with
// `<name>.weight_scale`, and `<name>.input_smoothing` when smoothed) or
// BF16, the word-embedding table likewise (one scale per row). docs/cli.md#quantize.

/// How a checkpoint's encoder weights are saved below fp32.
public struct SavedQuantization: Sendable, Equatable {
    public static let key = "offramp_quantization"
    /// int8: one symmetric scale per output channel (per row of the word table).
    public static let int8Scheme = "symmetric-per-output-channel"
    /// bf16: fp32 rounded to nearest, ties to even.
    public static let bf16Scheme = "round-to-nearest-even"

    /// int8 or bf16.
    public let precision: Precision
    /// int8: SmoothQuant's per-input-channel s_j were folded into the weights
    /// and are stored as `<name>.input_smoothing`.
    public let smoothing: Bool

    public init(precision: Precision, smoothing: Bool) {
        precondition(precision != .fp32 && (!smoothing || precision == .int8), "int8 or bf16; smoothing for int8")
        self.precision = precision
        self.smoothing = smoothing
    }

    public var scheme: String { precision == .int8 ? Self.int8Scheme : Self.bf16Scheme }

    /// Suffixes of the tensors beside a quantized weight `<name>.weight`.
    public static let scaleSuffix = ".weight_scale"
    public static let smoothingSuffix = ".input_smoothing"

    /// The block of `config`, if any; a malformed one is an error naming `file` and the field.
    public static func read(from config: BertConfig, file: String) throws -> SavedQuantization? {
        guard let block = config.extra[key] else { return nil }
        func fail(_ problem: String) -> OfframpError { OfframpError("\(file): \(key).\(problem)") }
        guard block.objectValue != nil else { throw OfframpError("\(file): \(key) must be an object") }
        guard let text = block["precision"]?.stringValue, let p = Precision(rawValue: text), p != .fp32 else {
            throw fail("precision must be \"int8\" or \"bf16\"")
        }
        let scheme = p == .int8 ? int8Scheme : bf16Scheme
        guard block["scheme"]?.stringValue == scheme else { throw fail("scheme must be \"\(scheme)\" for \(p)") }
        guard let smoothing = block["smoothing"]?.boolValue else { throw fail("smoothing must be true or false") }
        guard !smoothing || p == .int8 else { throw fail("smoothing applies to int8 only") }
        return SavedQuantization(precision: p, smoothing: smoothing)
    }

    public func write(into config: inout BertConfig) {
        config.extra[Self.key] = .object(["precision": .string(precision.rawValue), "scheme": .string(scheme),
                                          "smoothing": .bool(smoothing)])
    }

    /// The error of an operation that needs fp32 weights (training, export, saving) on such a checkpoint.
    public func needsFP32(_ what: String, path: String) -> OfframpError {
        OfframpError("\(path): saved quantized in \(precision) (offramp quantize) and holds no fp32 weights; \(what) needs "
            + "the fp32 model it was quantized from")
    }
}
