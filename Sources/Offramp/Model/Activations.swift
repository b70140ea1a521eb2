// MARK: - What a training forward keeps for its backward pass

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
}

/// One layer's saved activations (named buffers that grow and are reused
/// from step to step) and the layout they were computed on.
public final class LayerTape: @unchecked Sendable {
    let buffers = Workspace()
    var rows = 0
    /// The rows that were queries (nil: all): TOKEE fine-tuning's halted rows are not.
    var queryRows: [Int]?
    /// The rows a PoWER-BERT extract layer kept (nil: none eliminated); the
    /// output holds them packed in order.
    var keptRows: [Int]?
    /// The soft extract of the configuration search, and each row's rank.
    var softExtract: SoftExtractStep?
    var ranks: [Int] = []
    /// Rows of the layer's output.
    var outputRows: Int { keptRows?.count ?? rows }
    var segments = AttentionSegments(starts: [], lengths: [])
    var probabilityOffsets: [Int] = []
    var pass: TrainingPass

    init(pass: TrainingPass) { self.pass = pass }

    /// x ⊙ mask in place, with a fresh mask kept under `name` (no-op without dropout).
    func dropout(_ name: String, _ x: UnsafeMutablePointer<Float>, count: Int) {
        guard pass.hiddenDropout > 0 else { return }
        let mask = buffers.buffer(name, count: count)
        dropoutMask(mask, count: count, p: pass.hiddenDropout, rng: &pass.rng)
        multiplyElementwise(x, mask, count: count)
    }

    /// dx ⊙ the mask `dropout` kept under `name`.
    func applyMask(_ name: String, _ dx: UnsafeMutablePointer<Float>, count: Int) {
        guard pass.hiddenDropout > 0 else { return }
        multiplyElementwise(dx, buffers.buffer(name, count: count), count: count)
    }
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

/// Everything the encoder's training forward keeps: the embeddings' LayerNorm
/// input and statistics, and one tape per layer.
public final class EncoderTape: @unchecked Sendable {
    public internal(set) var pass: TrainingPass
    let embeddings: LayerTape
    let layers: [LayerTape]
    /// The batch the tape was recorded on.
    public internal(set) var batch = PackedBatch()
    /// The last layer's output (T, H).
    let output = Workspace()
    /// The layout of each layer's output (sequences shrink under PoWER-BERT).
    public internal(set) var layouts: [ActiveSet] = []

    public init(layers count: Int, pass: TrainingPass) {
        self.pass = pass
        embeddings = LayerTape(pass: pass)
        layers = (0..<count).map { _ in LayerTape(pass: pass) }
    }
}
