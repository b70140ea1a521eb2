// MARK: - One exit head ("off-ramp") after a layer

/// What an exit head's training forward keeps for its backward (Q query rows,
/// T rows, H hidden, w the FastBERT width, P its attention probabilities).
/// Inference uses an instance as scratch.
public final class HeadActivations: @unchecked Sendable {
    var pass: TrainingPass
    // Linear head
    let pooled = ReusableBuffer()        // (Q, H) [CLS] rows or the sequences' means
    let poolerOutput = ReusableBuffer()  // (Q, H) activation(pooler)
    let poolerInput = ReusableBuffer()   // (Q, H) pooler before a ReLU or GELU (their backward reads it)
    let dropped = ReusableBuffer()       // (Q, H) dropout(poolerOutput)
    let words = ReusableBuffer()         // (Q, H) token task: each word's first piece (dropped out in training)
    let mask = ReusableBuffer()          // (Q, H) dropout
    // FastBERT head
    let reduced = ReusableBuffer()       // (T, w) tanh(reduce)
    let qkv = ReusableBuffer()           // (T, 3w)
    let queries = ReusableBuffer()       // (Q, w)
    let probabilities = ReusableBuffer() // (P)
    let context = ReusableBuffer()       // (Q, w)
    let attended = ReusableBuffer()      // (Q, w) attention output projection
    let dense = ReusableBuffer()         // (Q, w) tanh(dense)
    var segments = AttentionSegments(starts: [], lengths: [])
    var probabilityOffsets: [Int] = []

    public init(pass: TrainingPass) { self.pass = pass }
}

/// The exit head after one layer. Its parameters live in the model's one
/// parameter store under "exits.<layer>.*".
public struct ExitHead: @unchecked Sendable {
    enum Kind {
        case linear(LinearHead)
        case fastbert(FastBertHead)
    }

    public let layer: Int
    let kind: Kind
    let classes: Int

    static func parameterSpecs(_ s: ExitSettings, hidden h: Int, layer l: Int) -> [(name: String, shape: [Int])] {
        let e = "exits.\(l).", n = s.labels.count
        switch s.head(at: l) {
        case .linear: return LinearHead.parameterSpecs(task: s.task, hidden: h, classes: n, prefix: e)
        case .fastbert: return FastBertHead.parameterSpecs(hidden: h, width: s.fastbertWidth, classes: n, prefix: e)
        }
    }

    init(store: ParameterStore, settings s: ExitSettings, hidden h: Int, layer: Int) {
        self.layer = layer
        classes = s.labels.count
        let e = "exits.\(layer)."
        switch s.head(at: layer) {
        case .linear:
            kind = .linear(LinearHead(store, prefix: e, task: s.task, hidden: h, classes: classes, pooling: s.pooling(at: layer),
                                          activation: s.poolerActivation ?? .tanh))
        case .fastbert:
            kind = .fastbert(FastBertHead(store, prefix: e, hidden: h, width: s.fastbertWidth, heads: s.fastbertHeads, classes: classes))
        }
    }

    /// logits (Q, N), row-major, for the query rows of x (T, H): inference.
    public func callAsFunction(_ x: UnsafePointer<Float>, input: HeadInput) -> [Float] {
        var logits = [Float](repeating: 0, count: input.queryCount * classes)
        logits.withUnsafeMutableBufferPointer {
            forward(x, input: input, logits: $0.baseAddress!, activations: HeadActivations(pass: .deterministic()), workspace: Workspace())
        }
        return logits
    }

    /// logits (Q, N) for the head's query rows of x (T, H). With `training`,
    /// the training forward: dropout applied (from `acts.pass`), activations kept for `backward`.
    func forward(_ x: UnsafePointer<Float>, input: HeadInput, logits: UnsafeMutablePointer<Float>,
                 activations acts: HeadActivations, workspace ws: Workspace, training: Bool = false) {
        switch kind {
        case .linear(let head): head.forward(x, input: input, logits: logits, activations: acts, training: training)
        case .fastbert(let head): head.forward(x, input: input, logits: logits, activations: acts, workspace: ws)
        }
    }

    /// From dLogits (Q, N): parameter gradients into `grads` (when given) and,
    /// when `dX` is given, the gradient of x (T, H), accumulated.
    func backward(_ x: UnsafePointer<Float>, input: HeadInput, dLogits: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>?,
                  activations acts: HeadActivations, grads: Gradients?, workspace ws: Workspace) {
        switch kind {
        case .linear(let head):
            head.backward(x, input: input, dLogits: dLogits, dX: dX, activations: acts, grads: grads, workspace: ws)
        case .fastbert(let head):
            head.backward(x, input: input, dLogits: dLogits, dX: dX, activations: acts, grads: grads, workspace: ws)
        }
    }

    /// Multiply-add FLOPs (×2) of this head on `input` (its queries and rows).
    public func flops(_ input: HeadInput) -> Double {
        sequenceFlops(input).reduce(0, +)
    }

    /// The same per sequence of `input` (a head's cost is a sum over its sequences).
    public func sequenceFlops(_ input: HeadInput) -> [Double] {
        zip(input.lengths, input.queryCounts).map { rows, queries in
            switch kind {
            case .linear(let head): head.flops(rows: rows, queries: queries)
            case .fastbert(let head): head.flops(rows: rows, queries: queries)
            }
        }
    }
}
