import Foundation

// MARK: - Quantized checkpoints: the encoder's weights saved in int8 or bf16
//
// `offramp quantize` (docs/cli.md#quantize) writes what load-time
// quantization computes — each encoder layer weight in int8 (per output
// channel, SmoothQuant folded in) or bf16, and the word table likewise (per
// row) — so a later load packs those values directly and never allocates the
// fp32 copy. Everything else (LayerNorm, biases, position and token-type
// tables, pooler, exit heads) stays F32. `SavedQuantization` is the config block.

/// The encoder weights a quantized checkpoint holds, packed for the kernels.
final class QuantizedEncoderWeights: @unchecked Sendable {
    let saved: SavedQuantization
    let scratch: PrecisionScratch
    /// By the name of each group's first linear layer (`BertLayer.linearGroups`).
    let linears: [String: PackedWeights]
    let wordTable: QuantizedTable

    /// The encoder parameters such a checkpoint stores below fp32: every
    /// encoder layer weight and the word table.
    static func quantizedNames(_ c: BertConfig) -> Set<String> {
        var names: Set<String> = [BertEmbeddings.wordTableName + ".weight"]
        for l in 0..<c.numHiddenLayers { for g in BertLayer.linearGroups(layer: l) { for n in g { names.insert(n + ".weight") } } }
        return names
    }

    /// Reads and packs them from `file`. A missing tensor, or one of another
    /// dtype or shape than the config and `saved` imply, is an error naming it.
    init(_ file: CheckpointWeights, config c: BertConfig, saved: SavedQuantization) throws {
        self.saved = saved
        scratch = PrecisionScratch()
        let reader = QuantizedTensorReader(file: file, saved: saved)
        var linears: [String: PackedWeights] = [:]
        let shapes = Dictionary(BertEncoder.parameterSpecs(c).map { ($0.name, $0.shape) }, uniquingKeysWith: { a, _ in a })
        for l in 0..<c.numHiddenLayers {
            for group in BertLayer.linearGroups(layer: l) {
                let parts = try group.map { try reader.read($0, shape: shapes[$0 + ".weight"]!) }
                let rows = parts.reduce(0) { $0 + $1.rows }, width = parts[0].width
                var smoothing: [Float]? = nil
                if saved.smoothing {
                    smoothing = parts[0].smoothing
                    for (name, part) in zip(group, parts) where part.smoothing != smoothing {
                        throw OfframpError("\(file.path): \(name)\(SavedQuantization.smoothingSuffix) differs from \(group[0])'s "
                            + "(the layers of one product share their input's smoothing)")
                    }
                }
                // One part is used as read; the parts of Q, K and V are joined (a copy of 3 H² values).
                switch saved.precision {
                case .int8:
                    let q = parts.count == 1 ? parts[0].int8 : parts.flatMap { $0.int8 }, scales = parts.flatMap { $0.scales }
                    linears[group[0]] = PackedWeights(int8: q, scales: scales, outDim: rows, inDim: width, scratch: scratch,
                                                      smoothing: smoothing)
                default:
                    linears[group[0]] = PackedWeights(bf16: parts.count == 1 ? parts[0].bf16 : parts.flatMap { $0.bf16 }, outDim: rows, inDim: width, scratch: scratch)
                }
            }
        }
        self.linears = linears
        let word = try reader.read(BertEmbeddings.wordTableName, shape: [c.vocabSize, c.embeddingWidth], smoothed: false)
        let name = BertEmbeddings.wordTableName + ".weight"
        wordTable = try saved.precision == .int8
            ? QuantizedTable(.int8(word.int8, scales: word.scales), rows: c.vocabSize, width: c.embeddingWidth, name: name)
            : QuantizedTable(.bf16(word.bf16), rows: c.vocabSize, width: c.embeddingWidth, name: name)
    }

    /// Bytes of everything packed here.
    var byteCount: Int { linears.values.reduce(wordTable.byteCount) { $0 + $1.byteCount } }
}

/// Reads one quantized weight `<name>.weight` and the tensors beside it.
private struct QuantizedTensorReader {
    let file: CheckpointWeights
    let saved: SavedQuantization

    struct Part {
        var rows = 0, width = 0
        var int8: [Int8] = [], scales: [Float] = [], smoothing: [Float]? = nil, bf16: [UInt16] = []
    }

    /// The stored key of `name` + `suffix` (HF's `bert.` prefix allowed).
    func key(_ name: String, _ suffix: String) throws -> String {
        guard let key = CheckpointKeys.resolve(name + suffix, in: file.tensors) else {
            throw OfframpError("\(file.path): missing tensor \(name + suffix) (a \(saved.precision) checkpoint from offramp quantize stores it)")
        }
        return key
    }

    func info(_ key: String, dtype: SafeTensorsDType, shape: [Int]) throws -> SafeTensorInfo {
        let info = file.tensors[key]!
        guard info.dtype == dtype else {
            throw OfframpError("\(file.path): tensor \(key) is \(info.dtype.rawValue); a \(saved.precision) checkpoint stores it as \(dtype.rawValue)")
        }
        guard info.shape == shape else {
            throw OfframpError("\(file.path): tensor \(key) has shape \(info.shape) but config.json implies \(shape)")
        }
        return info
    }

    func read(_ name: String, shape: [Int], smoothed: Bool? = nil) throws -> Part {
        var part = Part(rows: shape[0], width: shape[1])
        let weight = try key(name, ".weight")
        switch saved.precision {
        case .int8:
            _ = try info(weight, dtype: .i8, shape: shape)
            part.int8 = [Int8](repeating: 0, count: shape[0] * shape[1])
            try part.int8.withUnsafeMutableBytes { try file.copyBytes(weight, into: $0) }
            let scale = try key(name, SavedQuantization.scaleSuffix)
            _ = try info(scale, dtype: .f32, shape: [shape[0]])
            part.scales = [Float](repeating: 0, count: shape[0])
            try part.scales.withUnsafeMutableBufferPointer { try file.readFloats(scale, into: $0) }
            if let bad = part.scales.firstIndex(where: { !($0 > 0 && $0.isFinite) }) {
                throw OfframpError("\(file.path): tensor \(scale)[\(bad)] is \(part.scales[bad]); scales must be positive and finite")
            }
            if smoothed ?? saved.smoothing {
                let s = try key(name, SavedQuantization.smoothingSuffix)
                _ = try info(s, dtype: .f32, shape: [shape[1]])
                var values = [Float](repeating: 0, count: shape[1])
                try values.withUnsafeMutableBufferPointer { try file.readFloats(s, into: $0) }
                if let bad = values.firstIndex(where: { !($0 > 0 && $0.isFinite) }) {
                    throw OfframpError("\(file.path): tensor \(s)[\(bad)] is \(values[bad]); smoothing factors must be positive and finite")
                }
                part.smoothing = values
            }
        default:
            _ = try info(weight, dtype: .bf16, shape: shape)
            part.bf16 = [UInt16](repeating: 0, count: shape[0] * shape[1])
            try part.bf16.withUnsafeMutableBytes { try file.copyBytes(weight, into: $0) }
            #if !_endian(little)
            part.bf16 = part.bf16.map { UInt16(littleEndian: $0) }
            #endif
        }
        return part
    }
}

// MARK: - Writing one

extension BertEncoder {
    /// Whether the weights came quantized from the checkpoint (no fp32 copy):
    /// its saved precision, or nil for a model loaded in fp32.
    public var savedQuantization: SavedQuantization? { stored?.saved }

    /// Writes a quantized checkpoint of this encoder, prepared in int8 or bf16
    /// (`prepare(precision:)`, with SmoothQuant or without), to the new
    /// directory `out`: every tensor of `source` (the fp32 checkpoint it was
    /// loaded from) with the encoder layer weights and the word table replaced
    /// by the packed values, `config` with the `offramp_quantization` block, and
    /// `copying` (names of files or directories in `sourceDirectory`). An
    /// existing `out` is an error; the directory appears whole or not at all.
    public func writeQuantized(source: CheckpointWeights, config: BertConfig, sourceDirectory: URL,
                               copying files: [String], to out: URL) throws {
        guard precision != .fp32, savedQuantization == nil else {
            throw OfframpError("writing a quantized checkpoint needs an fp32 model prepared in int8 or bf16")
        }
        let fm = FileManager.default
        guard !fm.fileExists(atPath: out.path) else { throw OfframpError("\(out.path) already exists (it is not replaced)") }
        let saved = SavedQuantization(precision: precision, smoothing: smoothed)
        var writer = SafeTensorsWriter()
        writer.metadata = ["format": "pt", "producer": "offramp", SavedQuantization.key: precision.rawValue]
        // The stored key of each encoder parameter quantized here.
        var replaced: [String: String] = [:]
        for name in QuantizedEncoderWeights.quantizedNames(config) {
            guard let key = CheckpointKeys.resolve(name, in: source.tensors) else {
                throw OfframpError("\(source.path): missing tensor \(name)")
            }
            replaced[key] = String(name.dropLast(".weight".count))
        }
        func base(_ key: String) -> String { String(key.dropLast(".weight".count)) }
        func addInt8(_ key: String, _ values: [Int8], scales: [Float], shape: [Int], smoothing: [Float]?) throws {
            try writer.add(key, dtype: .i8, shape: shape, rawBytes: values.withUnsafeBytes { Data($0) })
            try writer.add(base(key) + SavedQuantization.scaleSuffix, shape: [shape[0]], floats: scales)
            if let smoothing { try writer.add(base(key) + SavedQuantization.smoothingSuffix, shape: [shape[1]], floats: smoothing) }
        }
        func addBF16(_ key: String, _ bits: [UInt16], shape: [Int]) throws {
            try writer.add(key, dtype: .bf16, shape: shape, rawBytes: bits.map(\.littleEndian).withUnsafeBytes { Data($0) })
        }
        let keyOf = Dictionary(replaced.map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        for (l, layer) in layers.enumerated() {
            for (group, packed) in zip(BertLayer.linearGroups(layer: l), layer.packedGroups) {
                guard let packed else { preconditionFailure("a layer without packed weights in \(precision)") }
                var row = 0
                for name in group {
                    let key = keyOf[name]!, rows = source.tensors[key]!.shape[0], shape = [rows, packed.inDim]
                    if precision == .int8 {
                        let (q, scales) = packed.int8Rows(row ..< row + rows)
                        try addInt8(key, q, scales: scales, shape: shape, smoothing: packed.smoothing)
                    } else {
                        try addBF16(key, packed.bf16Rows(row ..< row + rows), shape: shape)
                    }
                    row += rows
                }
            }
        }
        let wordKey = keyOf[BertEmbeddings.wordTableName]!, wordShape = [config.vocabSize, config.embeddingWidth]
        switch embeddings.wordTable?.values {
        case .int8(let q, let scales)?: try addInt8(wordKey, q, scales: scales, shape: wordShape, smoothing: nil)
        case .bf16(let bits)?: try addBF16(wordKey, bits, shape: wordShape)
        case nil: preconditionFailure("no word table in \(precision)")
        }
        // Everything else as it was, floats as F32 (integer buffers such as position_ids as stored).
        for (key, info) in source.tensors where replaced[key] == nil {
            if info.dtype.isReadableAsFloat {
                var values = [Float](repeating: 0, count: info.elementCount)
                try values.withUnsafeMutableBufferPointer { try source.readFloats(key, into: $0) }
                try writer.add(key, shape: info.shape, floats: values)
            } else {
                var bytes = Data(count: info.byteRange.count)
                try bytes.withUnsafeMutableBytes { try source.copyBytes(key, into: $0) }
                try writer.add(key, dtype: info.dtype, shape: info.shape, rawBytes: bytes)
            }
        }
        var cfg = config
        saved.write(into: &cfg)
        try writeNewDirectory(out) { tmp in
            try writer.write(to: tmp.appendingPathComponent("model.safetensors"))
            try cfg.save(to: tmp.appendingPathComponent("config.json"))
            for name in files {
                try fm.copyItem(at: sourceDirectory.appendingPathComponent(name), to: tmp.appendingPathComponent(name))
            }
        }
    }
}

extension BertEncoder {
    /// The files and directories of a model directory a quantized copy keeps
    /// (tokenizer, sentence-transformers modules, exported exits, README...):
    /// all but config.json, the weights in any format (model*.safetensors and
    /// their index, PyTorch, TF, Flax), the trainer's state and hidden files.
    public static func filesKeptWhenQuantizing(_ directory: URL) throws -> [String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        let dropped: Set<String> = ["config.json", "model.safetensors.index.json", "trainer_state.safetensors", "tf_model.h5",
                                    "flax_model.msgpack", "rust_model.ot"]
        return names.filter { n in
            !n.hasPrefix(".") && !dropped.contains(n) && !(n.hasPrefix("model") && n.hasSuffix(".safetensors"))
                && !n.hasPrefix("pytorch_model")
        }.sorted()
    }
}
