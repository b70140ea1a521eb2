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
    public let embeddings: BertEmbeddings
    public let layers: [BertLayer]
    /// False when the checkpoint had no pooler (its weights are then zero).
    public let hasPooler: Bool
    let workspace = Workspace()

    /// Parameter names and shapes in storage order, HF key names.
    public static func parameterSpecs(_ c: BertConfig) -> [(name: String, shape: [Int])] {
        var specs = BertEmbeddings.parameterSpecs(c)
        for l in 0..<c.numHiddenLayers { specs += BertLayer.parameterSpecs(c, layer: l) }
        specs += [("pooler.dense.weight", [c.hiddenSize, c.hiddenSize]), ("pooler.dense.bias", [c.hiddenSize])]
        return specs
    }

    init(config: BertConfig, parameters: ParameterStore, hasPooler: Bool) throws {
        self.config = config
        self.parameters = parameters
        self.hasPooler = hasPooler
        embeddings = BertEmbeddings(parameters, config: config)
        layers = try (0..<config.numHiddenLayers).map { try BertLayer(parameters, config: config, layer: $0) }
        Threads.configure()
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
        let file = try SafeTensorsFile(url: directory.appendingPathComponent("model.safetensors"))
        return try load(config: config, weights: file)
    }

    public static func load(config: BertConfig, weights file: SafeTensorsFile) throws -> BertEncoder {
        let store = ParameterStore(specs: parameterSpecs(config))
        let missing = try store.load(from: file, optional: ["pooler.dense.weight", "pooler.dense.bias"])
        return try BertEncoder(config: config, parameters: store, hasPooler: missing.isEmpty)
    }

    // MARK: Forward

    /// Checks that every id, type and position of `batch` is inside the
    /// model's tables, naming the sequence and value at fault.
    public func validate(_ batch: PackedBatch) throws {
        for s in 0..<batch.sequenceCount {
            if batch.lengths[s] > config.maxPositionEmbeddings {
                throw OfframpError("sequence \(s) has \(batch.lengths[s]) tokens; the model allows at most max_position_embeddings = \(config.maxPositionEmbeddings)")
            }
            for r in batch.rows(s) {
                if batch.ids[r] < 0 || Int(batch.ids[r]) >= config.vocabSize {
                    throw OfframpError("sequence \(s): token id \(batch.ids[r]) is outside the vocabulary (vocab_size = \(config.vocabSize))")
                }
                if batch.typeIds[r] < 0 || Int(batch.typeIds[r]) >= config.typeVocabSize {
                    throw OfframpError("sequence \(s): token type \(batch.typeIds[r]) is outside type_vocab_size = \(config.typeVocabSize)")
                }
            }
        }
    }

    /// Embeds `batch` into x (T, H).
    public func embed(_ batch: PackedBatch, into x: UnsafeMutablePointer<Float>) {
        embeddings(batch, out: x)
    }

    /// Runs layer `l` (0-based) on the active rows of x (T, H), in place.
    ///
    /// With `extract` (PoWER-BERT), each sequence keeps extract.keep[s] rows
    /// after the attention; the output is packed as ActiveSet(lengths: extract.keep).
    public func layerStep(
        _ l: Int, _ x: UnsafeMutablePointer<Float>, active: ActiveSet,
        probabilities: (buffer: UnsafeMutablePointer<Float>, offsets: [Int])? = nil, extract: ExtractStep? = nil
    ) {
        layers[l](x, active: active, workspace: workspace, probabilities: probabilities, extract: extract)
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
        let active = ActiveSet(batch)
        for l in layers.indices {
            if attentions {
                let p = FloatBuffer(count: total)
                layerStep(l, x.pointer, active: active, probabilities: (p.pointer, offsets))
                probs.append(p)
            } else {
                layerStep(l, x.pointer, active: active)
            }
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
    /// (for the `kept` rows only after a PoWER-BERT extract); the attention
    /// products for each sequence's queries against its keys.
    public func layerFlops(_ active: ActiveSet, kept: Int? = nil) -> Double {
        let h = Double(config.hiddenSize), i = Double(config.intermediateSize)
        let rows = Double(active.rowCount), queries = Double(active.queryCount), onward = Double(kept ?? active.queryCount)
        let dense = 2 * rows * 2 * h * h + 2 * queries * h * h + 2 * onward * (h * h + 2 * h * i)
        let attention = zip(active.queryCounts, active.lengths).reduce(0.0) { $0 + 2 * 2 * Double($1.0) * Double($1.1) * h }
        return dense + attention
    }
}

// MARK: - Training forward and backward

extension BertEncoder {
    /// Training forward over `batch`, recording on `tape`. Returns the hidden
    /// states after each layer l = 1...L as pointers valid until the tape is
    /// reused: exit heads read them, laid out as `tape.layouts[l-1]` says
    /// (the batch's layout unless word-vectors were eliminated).
    ///
    /// `haltingLayers` (TOKEE fine-tuning), one per row: row r is a query of
    /// layers 1...haltingLayers[r] and is copied unchanged above (it stays a
    /// key and value). `elimination` (PoWER-BERT): hard extract layers at a
    /// retention configuration, or the configuration search's soft extract.
    public func forwardTraining(_ batch: PackedBatch, tape: EncoderTape, haltingLayers: [Int]? = nil,
                                elimination: Elimination? = nil) throws -> [UnsafeMutablePointer<Float>] {
        try validate(batch)
        let h = config.hiddenSize, t = batch.tokenCount
        tape.batch = batch
        let x = tape.output.buffer("x", count: t * h)
        embeddings.forward(batch, out: x, tape: tape.embeddings)
        if let haltingLayers { precondition(haltingLayers.count == t, "one halting layer per row") }
        precondition(haltingLayers == nil || elimination == nil, "TOKEE and PoWER-BERT do not combine")
        var active = ActiveSet(batch)
        tape.layouts = []
        for (l, layer) in layers.enumerated() {
            if let haltingLayers {
                active = ActiveSet(starts: batch.starts, lengths: batch.lengths) { haltingLayers[$0] > l }
            }
            var extract: ExtractStep? = nil, soft: SoftExtractStep? = nil
            switch elimination {
            case .hard(let retention, let selection):
                extract = ExtractStep(keep: retention.kept(after: l, lengths: active.lengths), selection: selection, layer: l)
            case .soft(let parameters):
                soft = parameters.step(layer: l)
            case nil: break
            }
            layer(x, active: active, workspace: workspace, tape: tape.layers[l], extract: extract, softExtract: soft)
            if let extract { active = ActiveSet(lengths: extract.keep) }
            tape.layouts.append(ActiveSet(starts: active.starts, lengths: active.lengths))
        }
        // h_l for l < L is the input the next layer kept; h_L is x.
        return (1...layers.count).map { l in
            l < layers.count ? tape.layers[l].buffers.buffer("layer.input", count: tape.layers[l].rows * h) : x
        }
    }

    /// Backward through the layers and the embeddings. `exitGradients[l-1]`
    /// is the gradient the exit heads send into h_l (T, H), or nil; it is
    /// added where h_l enters. Parameter gradients accumulate into `grads`.
    public func backward(tape: EncoderTape, exitGradients: [UnsafeMutablePointer<Float>?], grads: Gradients) {
        let h = config.hiddenSize, t = tape.batch.tokenCount, count = t * h
        // Rows shrink from layer to layer when word-vectors were eliminated:
        // layer l reads tape.layers[l].rows rows and writes outputRows.
        var dOut = workspace.buffer("grad.h.a", count: count)
        var dIn = workspace.buffer("grad.h.b", count: count)
        let last = layers.count - 1
        dOut.update(repeating: 0, count: tape.layers[last].outputRows * h)
        if let g = exitGradients[last] { vectorAdd(dOut, g, count: tape.layers[last].outputRows * h) }
        for l in stride(from: last, through: 0, by: -1) {
            let inputCount = tape.layers[l].rows * h
            dIn.update(repeating: 0, count: inputCount)
            layers[l].backward(dOut: dOut, dInput: dIn, tape: tape.layers[l], grads: grads, workspace: workspace)
            if l > 0, let g = exitGradients[l - 1] { vectorAdd(dIn, g, count: inputCount) }
            swap(&dOut, &dIn)
        }
        embeddings.backward(tape.batch, dOut: dOut, tape: tape.embeddings, grads: grads, workspace: workspace)
    }
}
