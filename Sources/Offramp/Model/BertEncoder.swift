import Foundation

// MARK: - The encoder: embeddings + L layers (HF `BertModel` without heads)

/// What a forward pass returns. All buffers are packed (rows = real tokens of
/// `batch`, in order).
public struct EncoderOutput: @unchecked Sendable {
    public let batch: PackedBatch
    /// Hidden size H.
    public let width: Int
    /// The last layer's hidden states, (T, H).
    public let lastHidden: FloatBuffer
    /// When requested: hidden states after the embeddings ([0]) and after
    /// every layer ([1...L]), each (T, H).
    public let hiddenStates: [FloatBuffer]
    /// When requested: each layer's attention probabilities; sequence s's
    /// (heads, n_s, n_s) block starts at `attentionOffsets[s]`.
    public let attentions: [FloatBuffer]
    public let attentionOffsets: [Int]

    /// Sequence s's row r of a (T, H) buffer.
    public func row(_ buffer: FloatBuffer, sequence s: Int, token r: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: buffer.pointer + (batch.starts[s] + r) * width, count: width)
    }
}

/// A BERT encoder with its weights in one `ParameterStore`.
///
/// Not thread-safe: it owns the scratch workspace its forward pass reuses.
/// Use one encoder per thread (they can share nothing but the file on disk).
public final class BertEncoder: @unchecked Sendable {
    public let config: BertConfig
    public let parameters: ParameterStore
    public private(set) var embeddings: BertEmbeddings
    public private(set) var layers: [BertLayer]
    /// A quantized checkpoint's packed weights (then `precision` is fixed at theirs).
    let stored: QuantizedEncoderWeights?
    /// The precision the layers' products run in (`prepare(precision:)`).
    public private(set) var precision: Precision = .fp32
    /// Whether the fp32 layers run on a copy of their weights packed for the
    /// AVX-512 fp32 kernel (`prepare(precision: .fp32)` for inference; training
    /// drops the copy and reads the live weights).
    public var fp32Packed: Bool { precision == .fp32 && packedWeightBytes > 0 }
    /// Whether the int8 weights carry SmoothQuant's smoothing.
    public private(set) var smoothed = false
    /// False when the checkpoint had no pooler (its weights are then zero).
    public let hasPooler: Bool
    let workspace = Workspace()
    /// The inference layer step's buffers, shared by every layer.
    let scratch = LayerActivations(pass: .deterministic())

    /// Parameter names and shapes in storage order, HF key names.
    public static func parameterSpecs(_ c: BertConfig) -> [(name: String, shape: [Int])] {
        var specs = BertEmbeddings.parameterSpecs(c)
        for l in 0..<c.numHiddenLayers { specs += BertLayer.parameterSpecs(c, layer: l) }
        specs += [("pooler.dense.weight", [c.hiddenSize, c.hiddenSize]), ("pooler.dense.bias", [c.hiddenSize])]
        return specs
    }

    /// `stored`: the packed weights of a quantized checkpoint, which `parameters`
    /// declares stored elsewhere; the encoder then runs in their precision only.
    init(config: BertConfig, parameters: ParameterStore, hasPooler: Bool, stored: QuantizedEncoderWeights? = nil) throws {
        self.config = config
        self.parameters = parameters
        self.hasPooler = hasPooler
        self.stored = stored
        embeddings = BertEmbeddings(parameters, config: config, wordTable: stored?.wordTable)
        let packing = stored.map { WeightPacking(precision: $0.saved.precision, scratch: $0.scratch, stored: $0) }
        layers = try (0..<config.numHiddenLayers).map { try BertLayer(parameters, config: config, layer: $0, packing: packing) }
        precision = stored?.saved.precision ?? .fp32
        smoothed = stored?.saved.smoothing ?? false
        Threads.configure()
    }

    /// The parameter store of `specs` for a checkpoint with `config`: with an
    /// `offramp_quantization` block (`file` names it), the encoder's quantized
    /// weights are read packed from `weights` and get no fp32 storage.
    static func store(specs: [(name: String, shape: [Int])], config: BertConfig, weights: CheckpointWeights,
                      file: String) throws -> (ParameterStore, QuantizedEncoderWeights?) {
        guard let saved = try SavedQuantization.read(from: config, file: file) else { return (ParameterStore(specs: specs), nil) }
        guard saved.precision.isAvailable else {
            let needs = saved.precision == .int8 ? "AVX512-VNNI" : "AVX512-BF16"
            throw OfframpError("\(file): the model is saved in \(saved.precision), whose kernels need \(needs), which this CPU lacks "
                + "(a quantized checkpoint holds no fp32 weights to fall back on; use the fp32 model)")
        }
        if config.hiddenSize % 16 != 0 {
            throw OfframpError("\(file): precision \(saved.precision) needs hidden_size to be a multiple of 16 (it is \(config.hiddenSize))")
        }
        let stored = try QuantizedEncoderWeights(weights, config: config, saved: saved)
        return (ParameterStore(specs: specs, elsewhere: QuantizedEncoderWeights.quantizedNames(config)), stored)
    }

    /// Random weights (normal, std = initializer_range; LayerNorm 1 and 0), as
    /// HF initialises a fresh BertModel: for benchmarks and tests.
    public convenience init(randomWeights config: BertConfig, seed: UInt64 = 0) throws {
        try config.validate(file: "config")
        let store = ParameterStore(specs: Self.parameterSpecs(config))
        var rng = SeededRandom(seed: seed)
        let std = Float(config.initializerRange)
        for e in store.entries {
            let p = store[e.name]
            if e.name.hasSuffix("LayerNorm.weight") {
                p.update(repeating: 1, count: e.count)
            } else if e.name.hasSuffix("bias") {
                p.update(repeating: 0, count: e.count)
            } else {
                for i in 0..<e.count { p[i] = rng.nextNormal() * std }
            }
        }
        try self.init(config: config, parameters: store, hasPooler: true)
    }

    /// Loads `config.json` and `model.safetensors` from a model directory.
    public static func load(directory: URL) throws -> BertEncoder {
        let configURL = directory.appendingPathComponent("config.json")
        let config = try BertConfig.load(from: configURL)
        try config.validate(file: configURL.path)
        return try load(config: config, weights: CheckpointWeights.open(directory: directory), file: configURL.path)
    }

    public static func load(config: BertConfig, weights file: SafeTensorsFile) throws -> BertEncoder {
        try load(config: config, weights: CheckpointWeights(file))
    }

    /// The encoder of `config` with the weights of a checkpoint (one file or its
    /// shards), quantized ones as saved (`file`: the config's name in messages).
    public static func load(config: BertConfig, weights file: CheckpointWeights, file configFile: String = "config.json") throws -> BertEncoder {
        let (store, stored) = try store(specs: parameterSpecs(config), config: config, weights: file, file: configFile)
        let missing = try store.load(from: file, optional: ["pooler.dense.weight", "pooler.dense.bias"])
        return try BertEncoder(config: config, parameters: store, hasPooler: missing.isEmpty, stored: stored)
    }

    // MARK: Precision

    /// Runs the layers' matrix products in `requested` from now on (fp32
    /// restores the fp32 products): int8 quantizes a copy of every layer
    /// weight per output channel, bf16 rounds one (docs/methods.md#precision).
    /// The embeddings, LayerNorm, softmax, GELU, residuals and everything the
    /// caller runs on the hidden states (exit heads) stay fp32. On a CPU
    /// without the precision's kernels the layers stay fp32: the result (and
    /// `precision`) says what runs. Inference only: training needs fp32.
    /// fp32 on a CPU with AVX-512 copies each layer weight once into the
    /// packed fp32 kernel's layout (one more copy of the layer weights; it
    /// spares the copy OpenBLAS makes on every product, and answers the same
    /// for a row whatever the batch); OFFRAMP_FP32_PACKED=0 keeps OpenBLAS.
    ///
    /// `smoothQuantOn` (int8): calibration batches for SmoothQuant
    /// (docs/methods.md#smoothquant): they run in fp32 first, recording each
    /// layer input's per-channel range, and the weights are quantized with
    /// those ranges moved into them (strength `alpha`).
    ///
    /// A quantized checkpoint runs in its saved precision only: asking for
    /// it changes nothing, anything else is an error. `evenWithoutKernels`:
    /// pack in `requested` on a CPU without its kernels too (to save the
    /// weights, `writeQuantized`; products would then fault).
    @discardableResult
    public func prepare(precision requested: Precision, smoothQuantOn calibration: [PackedBatch] = [],
                        alpha: Float = 0.5, evenWithoutKernels: Bool = false) throws -> Precision {
        if let saved = stored?.saved {
            guard requested == saved.precision else {
                throw OfframpError("the model is saved quantized in \(saved.precision) and holds no fp32 weights: it runs in "
                    + "\(saved.precision) only, not \(requested)")
            }
            guard calibration.isEmpty else {
                throw OfframpError("the model is saved quantized\(saved.smoothing ? " with SmoothQuant" : ""); smoothing is chosen when quantizing, not at load")
            }
            return saved.precision
        }
        let p = evenWithoutKernels ? requested : requested.effective
        let smooth = p == .int8 && !calibration.isEmpty
        // Q, K and V are column windows of one packed weight: 16-column blocks.
        let packFP32 = try p == .fp32 && Self.fp32PackingWanted() && config.hiddenSize % 16 == 0
        if p == precision && !smooth && !smoothed && (p != .fp32 || packFP32 == fp32Packed) { return p }
        if p != .fp32 && config.hiddenSize % 16 != 0 {
            // The packed kernels split Q, K and V at 16-column blocks.
            throw OfframpError("precision \(p) needs hidden_size to be a multiple of 16 (it is \(config.hiddenSize))")
        }
        guard alpha >= 0 && alpha <= 1 else { throw OfframpError("SmoothQuant alpha \(alpha) must be in [0, 1]") }
        var packing = p == .fp32 && !packFP32 ? nil : WeightPacking(precision: p, scratch: PrecisionScratch())
        if smooth {
            let ranges = ChannelRanges()
            embeddings.wordTable = nil  // calibration runs the fp32 model
            try rebuildLayers(WeightPacking(precision: .fp32, scratch: PrecisionScratch(), recording: ranges), .fp32)
            for batch in calibration { _ = try self(batch) }
            packing?.smoothing = (ranges, alpha)
        }
        try rebuildLayers(packing, p)
        smoothed = smooth
        // The word table in the same precision (an int8 scale per row), so
        // a quantized checkpoint of this model computes exactly what it does.
        embeddings.wordTable = p == .fp32 ? nil
            : QuantizedTable(quantizing: parameters[BertEmbeddings.wordTableName + ".weight"], rows: config.vocabSize,
                             width: config.embeddingWidth, precision: p)
        return p
    }

    /// Whether `prepare(precision: .fp32)` packs: AVX-512 here, and not
    /// turned off by OFFRAMP_FP32_PACKED=0 (to compare with OpenBLAS in one
    /// run); another value than 0 or 1 is an error naming the variable.
    private static func fp32PackingWanted() throws -> Bool {
        var wanted = true
        if let v = getenv("OFFRAMP_FP32_PACKED").map({ String(cString: $0) }) {
            guard v == "0" || v == "1" else {
                throw OfframpError("OFFRAMP_FP32_PACKED \"\(v)\" must be 0 (fp32 products by OpenBLAS) or 1 (the packed fp32 kernel, the default)")
            }
            wanted = v == "1"
        }
        return wanted && fp32PackingAvailable
    }

    private func rebuildLayers(_ packing: WeightPacking?, _ p: Precision) throws {
        layers = try (0..<config.numHiddenLayers).map { try BertLayer(parameters, config: config, layer: $0, packing: packing) }
        precision = p
    }

    /// Bytes of the layers' packed weights (int8, bf16 or packed fp32) and word table (0 in plain fp32);
    /// they sit beside the fp32 parameters, unless the checkpoint was saved quantized.
    public var packedWeightBytes: Int { layers.reduce(embeddings.wordTable?.byteCount ?? 0) { $0 + $1.packedWeightBytes } }

    /// Bytes of every weight held: the fp32 parameters and the packed ones.
    public var residentWeightBytes: Int { 4 * parameters.storage.count + packedWeightBytes }

    // MARK: Forward

    /// Checks that every id, type and position of `batch` is inside the
    /// model's tables, naming the sequence and value at fault.
    public func validate(_ batch: PackedBatch) throws {
        for s in 0..<batch.sequenceCount {
            if batch.lengths[s] > config.maxTokens {
                throw OfframpError("sequence \(s) has \(batch.lengths[s]) tokens; the model allows at most \(config.maxTokensDescription)")
            }
            for r in batch.rows(s) {
                if batch.ids[r] < 0 || Int(batch.ids[r]) >= config.vocabSize {
                    throw OfframpError("sequence \(s): token id \(batch.ids[r]) is outside the vocabulary (vocab_size = \(config.vocabSize))")
                }
                // DistilBERT reads no token types (a pair's second part has type 1 all the same).
                if config.family.hasTokenTypes, batch.typeIds[r] < 0 || Int(batch.typeIds[r]) >= config.typeVocabSize {
                    throw OfframpError("sequence \(s): token type \(batch.typeIds[r]) is outside type_vocab_size = \(config.typeVocabSize)")
                }
            }
        }
    }

    /// Embeds `batch` into x (T, H).
    public func embed(_ batch: PackedBatch, into x: UnsafeMutablePointer<Float>) {
        embeddings(batch, out: x, workspace: workspace)
    }

    /// The full-depth forward pass.
    public func callAsFunction(
        _ batch: PackedBatch, hiddenStates: Bool = false, attentions: Bool = false
    ) throws -> EncoderOutput {
        try validate(batch)
        let h = config.hiddenSize, t = batch.tokenCount
        let x = FloatBuffer(count: t * h)
        embed(batch, into: x.pointer)
        var states: [FloatBuffer] = []
        if hiddenStates { states.append(FloatBuffer(Array(x.buffer))) }
        var offsets: [Int] = []
        var total = 0
        for n in batch.lengths { offsets.append(total); total += config.numAttentionHeads * n * n }
        var probs: [FloatBuffer] = []
        let attentionOut: ((Int) -> (buffer: UnsafeMutablePointer<Float>, offsets: [Int])?)? = attentions ? { _ in
            let p = FloatBuffer(count: total)
            probs.append(p)
            return (p.pointer, offsets)
        } : nil
        forward(x.pointer, from: ActiveSet(batch), probabilities: attentionOut) { _, _ in
            if hiddenStates { states.append(FloatBuffer(Array(x.buffer))) }
        }
        return EncoderOutput(batch: batch, width: h, lastHidden: x, hiddenStates: states,
                             attentions: probs, attentionOffsets: attentions ? offsets : [])
    }

    // MARK: Cost

    /// Multiply-add FLOPs (2 per multiply-add) of one full layer over `batch`:
    /// the dense products plus the attention products. Embeddings, LayerNorm
    /// and activations are left out, as is usual.
    public func layerFlops(lengths: [Int]) -> Double {
        layerFlops(ActiveSet(lengths: lengths))
    }

    /// FLOPs of one layer step on an active set: keys and values for every
    /// row; queries, attention output and feed-forward for the query rows
    /// (for the `kept` rows only after a PoWER-BERT extract, one count per
    /// sequence); the attention products for each sequence's queries against
    /// its keys. The sum of `sequenceFlops`.
    public func layerFlops(_ active: ActiveSet, kept: [Int]? = nil) -> Double {
        sequenceFlops(active, kept: kept).reduce(0, +)
    }

    /// The same per sequence: every term of a layer's cost belongs to one
    /// sequence, so a batch's FLOPs split exactly among its inputs (what an
    /// input spent, for accounting over any subset of a run's inputs).
    public func sequenceFlops(_ active: ActiveSet, kept: [Int]? = nil) -> [Double] {
        let h = Double(config.hiddenSize), i = Double(config.intermediateSize)
        return active.lengths.indices.map { s in
            let rows = Double(active.lengths[s]), queries = Double(active.queryCounts[s])
            let onward = kept.map { Double($0[s]) } ?? queries
            let dense = 2 * rows * 2 * h * h + 2 * queries * h * h + 2 * onward * (h * h + 2 * h * i)
            return dense + 2 * 2 * queries * rows * h
        }
    }
}

// MARK: - Training forward and backward

extension BertEncoder {
    /// Training forward over `batch`, recording `acts`. Returns the hidden
    /// states after each layer l = 1...L as pointers valid until `acts` is
    /// reused: exit heads read them, laid out as `acts.layouts[l-1]` says
    /// (the batch's layout unless word-vectors were eliminated).
    ///
    /// `haltingLayers` (TOKEE fine-tuning), one per row: row r is a query of
    /// layers 1...haltingLayers[r] and is copied unchanged above (it stays a
    /// key and value). `plan` (PoWER-BERT): hard extract layers at a
    /// retention configuration, or the configuration search's soft extract.
    public func forwardTraining(_ batch: PackedBatch, activations acts: EncoderActivations, haltingLayers: [Int]? = nil,
                                plan: (any EliminationPlan)? = nil) throws -> [UnsafeMutablePointer<Float>] {
        try validate(batch)
        guard precision == .fp32 else { throw OfframpError("training runs in fp32; this encoder was prepared for \(precision)") }
        // The packed copy would go stale at the first update: read the live weights.
        if fp32Packed { try rebuildLayers(nil, .fp32) }
        let h = config.hiddenSize, t = batch.tokenCount
        acts.batch = batch
        let x = acts.output(t * h)
        embeddings.forward(batch, out: x, activations: acts.embeddings)
        if let haltingLayers { precondition(haltingLayers.count == t, "one halting layer per row") }
        precondition(haltingLayers == nil || plan == nil, "TOKEE and PoWER-BERT do not combine")
        acts.layouts = []
        // Row r is a query of layers 0..<haltingLayers[r] (0-based).
        let isQuery: ((Int, Int) -> Bool)? = haltingLayers.map { halting in { l, row in halting[row] > l } }
        forward(x, from: ActiveSet(batch), plan: plan, training: acts, isQuery: isQuery) { _, layout in
            acts.layouts.append(layout)
        }
        return (1...layers.count).map { acts.hidden(after: $0, width: h) }
    }

    /// Backward through the layers and the embeddings. `exitGradients[l-1]`
    /// is the gradient the exit heads send into h_l (T, H), or nil; it is
    /// added where h_l enters. Parameter gradients accumulate into `grads`.
    public func backward(activations acts: EncoderActivations, exitGradients: [UnsafeMutablePointer<Float>?], grads: Gradients) {
        let h = config.hiddenSize, t = acts.batch.tokenCount, count = t * h
        // Rows shrink from layer to layer when word-vectors were eliminated:
        // layer l reads acts.layers[l].rows rows and writes outputRows.
        var dOut = workspace.buffer("grad.h.a", count: count)
        var dIn = workspace.buffer("grad.h.b", count: count)
        let last = layers.count - 1
        dOut.update(repeating: 0, count: acts.layers[last].outputRows * h)
        if let g = exitGradients[last] { vectorAdd(dOut, g, count: acts.layers[last].outputRows * h) }
        for l in stride(from: last, through: 0, by: -1) {
            let inputCount = acts.layers[l].rows * h
            dIn.update(repeating: 0, count: inputCount)
            layers[l].backward(dOut: dOut, dInput: dIn, activations: acts.layers[l], grads: grads, workspace: workspace)
            if l > 0, let g = exitGradients[l - 1] { vectorAdd(dIn, g, count: inputCount) }
            swap(&dOut, &dIn)
        }
        embeddings.backward(acts.batch, dOut: dOut, activations: acts.embeddings, grads: grads, workspace: workspace)
    }
}
