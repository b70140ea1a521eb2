// MARK: - What a training forward keeps for its backward pass
//
// Every saved tensor is a named field with its shape (llm.c's ActivationTensors),
// not a string key: the backward pass reads exactly what the forward wrote.
// Shapes: T the layer's rows (every token of the active sequences), Q its query
// rows, K the rows a PoWER-BERT extract keeps (Q' = K after an extract, else Q),
// H the hidden size, I the intermediate size, P the attention probabilities
// (Σ over sequences of heads · queries · keys).

/// A buffer that grows to the largest size asked for and is reused from step
/// to step. Its contents are not cleared: every user writes before it reads.
public final class ReusableBuffer: @unchecked Sendable {
    private var storage = FloatBuffer(count: 0)

    public init() {}

    /// At least `count` floats.
    public func callAsFunction(_ count: Int) -> UnsafeMutablePointer<Float> {
        if storage.count < count { storage = FloatBuffer(count: count) }
        return storage.pointer
    }

    public var floatsHeld: Int { storage.count }
}

/// The randomness and dropout rates of one training step. Dropout masks are
/// drawn from `rng` in a fixed order, so a step is reproducible from its seed.
public final class TrainingPass: @unchecked Sendable {
    public var rng: SeededRandom
    public let hiddenDropout: Float
    public let attentionDropout: Float

    public init(seed: UInt64, hiddenDropout: Float, attentionDropout: Float) {
        rng = SeededRandom(seed: seed)
        self.hiddenDropout = hiddenDropout
        self.attentionDropout = attentionDropout
    }

    /// No dropout: the training forward then computes exactly the inference forward.
    public static func deterministic() -> TrainingPass { TrainingPass(seed: 0, hiddenDropout: 0, attentionDropout: 0) }

    /// x ⊙ a fresh mask, kept in `mask`, in place (nothing without dropout).
    func dropout(_ x: UnsafeMutablePointer<Float>, count: Int, mask: ReusableBuffer) {
        guard hiddenDropout > 0 else { return }
        let m = mask(count)
        dropoutMask(m, count: count, p: hiddenDropout, rng: &rng)
        multiplyElementwise(x, m, count: count)
    }

    /// dx ⊙ the mask `dropout` kept.
    func applyMask(_ dx: UnsafeMutablePointer<Float>, count: Int, mask: ReusableBuffer) {
        guard hiddenDropout > 0 else { return }
        multiplyElementwise(dx, mask(count), count: count)
    }
}

/// The embeddings' training forward: the sum of the three tables and its LayerNorm statistics.
final class EmbeddingActivations: @unchecked Sendable {
    var pass: TrainingPass
    var rows = 0
    let sum = ReusableBuffer()    // (T, E) word + position + type, the LayerNorm input
    let mean = ReusableBuffer()   // (T)
    let rstd = ReusableBuffer()   // (T)
    let mask = ReusableBuffer()   // (T, E) dropout
    let normalized = ReusableBuffer()  // (T, E) ELECTRA: dropout(LayerNorm), the projection's input

    init(pass: TrainingPass) { self.pass = pass }
}

/// What the training forward of a residual output keeps (Q' rows of H).
final class ResidualNormActivations: @unchecked Sendable {
    let sum = ReusableBuffer()   // (Q', H) dropout(dense) + residual: the LayerNorm input
    let mean = ReusableBuffer()  // (Q')
    let rstd = ReusableBuffer()  // (Q')
    let mask = ReusableBuffer()  // (Q', H) dropout
}

/// One encoder layer's saved activations and the layout they were computed on.
/// Inference runs the same step with a shared instance as scratch space.
public final class LayerActivations: @unchecked Sendable {
    var pass: TrainingPass

    // Layout
    /// T: rows of the layer's input.
    var rows = 0
    /// The rows that were queries (nil: all): TOKEE fine-tuning's halted rows are not.
    var queryRows: [Int]?
    /// The rows a PoWER-BERT extract layer kept (nil: none eliminated); the
    /// output holds them packed in order.
    var keptRows: [Int]?
    /// The soft extract of the configuration search, and each row's rank.
    var softExtract: SoftExtractStep?
    var ranks: [Int] = []
    var segments = AttentionSegments(starts: [], lengths: [])
    var probabilityOffsets: [Int] = []
    /// Rows of the layer's output.
    var outputRows: Int { keptRows?.count ?? rows }

    // Self-attention
    let input = ReusableBuffer()                 // (T, H) the layer's input: keys, values and the residual
    let qkv = ReusableBuffer()                   // (T, 3H) query; key; value per row
    let queryInput = ReusableBuffer()            // (Q, H) the query rows' input, gathered (query subsets only)
    let queries = ReusableBuffer()               // (Q, H) their queries (query subsets only)
    let probabilities = ReusableBuffer()         // (P) softmax(q kᵀ / √d) per sequence and head
    let probabilityMask = ReusableBuffer()       // (P) attention dropout
    let context = ReusableBuffer()               // (Q, H) probabilities · values
    // PoWER-BERT extract
    let keptContext = ReusableBuffer()           // (K, H)
    let keptResidual = ReusableBuffer()          // (K, H)
    // Attention output: LN1(dropout(context · Woᵀ + bo) + residual)
    let attentionOutput = ReusableBuffer()       // (Q', H)
    let attentionNorm = ResidualNormActivations()
    let unscaledAttentionOutput = ReusableBuffer()  // (Q', H) before the soft extract's scaling
    // Feed-forward: LN2(dropout(act(a · W1ᵀ + b1) · W2ᵀ + b2) + a)
    let intermediate = ReusableBuffer()          // (Q', I) before the activation
    let activated = ReusableBuffer()             // (Q', I)
    let outputNorm = ResidualNormActivations()

    init(pass: TrainingPass) { self.pass = pass }
}

/// Where each parameter's gradient lives: a buffer the size of the parameter
/// store, entry for entry, so a parameter's pointer maps to its gradient's.
public struct Gradients: @unchecked Sendable {
    public let storage: FloatBuffer
    let parameterBase: UnsafeMutablePointer<Float>

    public init(for store: ParameterStore) {
        storage = FloatBuffer(count: store.storage.count)
        parameterBase = store.storage.pointer
    }

    /// The gradient of the parameter at `p` (a pointer into the store).
    subscript(_ p: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        storage.pointer + (p - parameterBase)
    }

    public func zero() { storage.pointer.update(repeating: 0, count: storage.count) }
}

/// Everything the encoder's training forward keeps: the embeddings' and each layer's activations.
public final class EncoderActivations: @unchecked Sendable {
    public private(set) var pass: TrainingPass
    let embeddings: EmbeddingActivations
    let layers: [LayerActivations]
    /// The batch the activations were recorded on.
    public internal(set) var batch = PackedBatch()
    /// (T_L, H) the last layer's output.
    let output = ReusableBuffer()
    /// The layout of each layer's output (sequences shrink under PoWER-BERT).
    public internal(set) var layouts: [ActiveSet] = []

    public init(layers count: Int, pass: TrainingPass) {
        self.pass = pass
        embeddings = EmbeddingActivations(pass: pass)
        layers = (0..<count).map { _ in LayerActivations(pass: pass) }
    }

    /// Points every layer at a new step's randomness.
    func reset(pass: TrainingPass) {
        self.pass = pass
        embeddings.pass = pass
        for l in layers { l.pass = pass }
    }

    /// h_l, l = 1...L, laid out as `layouts[l - 1]`: the input layer l + 1
    /// kept (its keys, values and residual), or the last layer's output.
    func hidden(after l: Int, width h: Int) -> UnsafeMutablePointer<Float> {
        l < layers.count ? layers[l].input(layers[l].rows * h) : output(layouts[l - 1].rowCount * h)
    }
}
