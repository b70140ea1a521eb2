import Foundation

// MARK: - PoWER-BERT in training: hard extract, or the configuration search

/// The configuration search's retention parameters: r_j ∈ [0,1]^n for each
/// layer j (n = the maximum length), all 1 at the start, trained by AdamW at
/// their own learning rate and clipped to [0,1] after every step. The loss
/// adds λ Σ_j j · mass(r_j), mass(r_j) = Σ_k r_j[k].
public final class RetentionParameters: EliminationPlan, @unchecked Sendable {
    public let layers: Int
    public let length: Int
    public let selection: ExtractSelection
    let store: ParameterStore
    let grads: Gradients
    let optimizer: AdamW

    public init(layers: Int, length: Int, selection: ExtractSelection) {
        self.layers = layers
        self.length = length
        self.selection = selection
        store = ParameterStore(specs: [("retention.r", [layers, length])])
        store["retention.r"].update(repeating: 1, count: layers * length)
        grads = Gradients(for: store)
        optimizer = AdamW(parameterCount: layers * length)
    }

    var r: UnsafeMutablePointer<Float> { store["retention.r"] }

    /// r, (layers, length) row-major: readable and settable (tests, inspection).
    public var values: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: r, count: layers * length) }
    /// dLoss/dr of the last step, same layout.
    public var gradient: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: grads[r], count: layers * length) }

    public func extract(layer l: Int, lengths: [Int]) -> LayerExtract { .soft(step(layer: l)) }

    func step(layer j: Int) -> SoftExtractStep {
        SoftExtractStep(r: r + j * length, dR: grads[r] + j * length, count: length, selection: selection, layer: j)
    }

    /// mass(r_j) of each layer.
    public var masses: [Double] { (0..<layers).map { j in (0..<length).reduce(0.0) { $0 + Double(r[j * length + $1]) } } }

    /// How far above an integer k a mass must be for l_j to be k + 1.
    ///
    /// Clipping to [0, 1] makes integer masses an attractor: the penalty
    /// drives most r_j[k] to exactly 0 or 1, so a mass ends at k plus the
    /// rounding residue of the few entries left in between (7.0000003, say).
    /// A plain ceiling would then turn last-bit differences (another CPU's
    /// kernels, another build) into a different configuration. A thousandth
    /// of a word-vector is below anything the search can mean. (This is a
    /// guard, not the explanation of the MR record's 35,20,7 against a Zen 4's
    /// 35,20,8 at λ = 2e-3: there l_3's mass was 7.04.)
    public static let massTolerance = 1e-3

    /// l_j = ceil(mass(r_j) − massTolerance), at least 1, forced non-increasing across layers.
    public func retention() throws -> Retention {
        guard masses.allSatisfy(\.isFinite) else { throw OfframpError("the retention masses are not finite: the search diverged (a lower learning rate may help)") }
        return try Retention(Self.lengths(masses: masses), layers: layers, selection: selection)
    }

    /// The configuration for finite `masses` (see `retention()`).
    public static func lengths(masses: [Double]) -> [Int] {
        var lengths: [Int] = []
        for m in masses {
            let l = max(1, Int(min((m - massTolerance).rounded(.up), Double(Int32.max))))
            lengths.append(min(l, lengths.last ?? Int.max))
        }
        return lengths
    }

    func zeroGradients() { grads.zero() }

    /// Adds λ Σ_j j·mass(r_j) (j 1-based) to the loss and its gradient to dr; returns the term.
    func addPenalty(lambda: Double) -> Double {
        let g = grads[r]
        var total = 0.0
        for (j, m) in masses.enumerated() {
            total += lambda * Double(j + 1) * m
            for k in 0..<length { g[j * length + k] += Float(lambda * Double(j + 1)) }
        }
        return total
    }

    /// One AdamW step (no decay) at `learningRate`, then r clipped to [0, 1].
    func update(learningRate: Float) {
        optimizer.update(store: store, grads: grads, entries: store.entries.map { ($0, AdamW.Group(learningRate: learningRate, weightDecay: 0)) },
                         scale: 1)
        let p = r
        for i in 0..<(layers * length) { p[i] = min(1, max(0, p[i])) }
    }

    /// r and the optimizer's moments, for checkpoints and `--resume`.
    func state(into w: inout SafeTensorsWriter) throws {
        try w.add("retention.r", shape: [layers, length], floats: UnsafeBufferPointer(start: r, count: layers * length))
        try w.add("retention.adam.m", shape: [layers * length], floats: UnsafeBufferPointer(optimizer.m.buffer))
        try w.add("retention.adam.v", shape: [layers * length], floats: UnsafeBufferPointer(optimizer.v.buffer))
    }

    func load(from file: SafeTensorsFile, adamStep: Int) throws {
        try file.readFloats("retention.r", into: UnsafeMutableBufferPointer(start: r, count: layers * length))
        try file.readFloats("retention.adam.m", into: optimizer.m.buffer)
        try file.readFloats("retention.adam.v", into: optimizer.v.buffer)
        optimizer.step = adamStep
    }
}
