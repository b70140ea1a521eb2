// MARK: - The pass driver: one active set through the layers
//
// Full depth, early exit (ExitStream), every exit's evaluation and the training
// forward all step their rows through the layers here, so the rules live in
// one place: which extract a layer runs under an elimination plan, that the
// layout after an extract is the kept rows packed in order, and what a step costs.

/// What one layer step eliminates.
public enum LayerExtract {
    case none
    /// PoWER-BERT's extract layer: each sequence keeps `keep[s]` word-vectors.
    case hard(ExtractStep)
    /// The configuration search's soft extract (training only).
    case soft(SoftExtractStep)
}

/// Word-vector elimination as the pass driver asks for it, layer by layer:
/// a retention configuration (Elimination), or the configuration search's
/// retention parameters (Training).
public protocol EliminationPlan: Sendable {
    /// The extract of layer `l` (0-based) on sequences of these lengths.
    func extract(layer l: Int, lengths: [Int]) -> LayerExtract
}

/// One layer step's result: where the rows are now, and its cost.
public struct LayerStepResult: Sendable {
    /// The layout of the layer's output: the input's, or the kept rows packed after an extract.
    public let layout: ActiveSet
    /// Multiply-add FLOPs of the step, per sequence of the active set (`BertEncoder.sequenceFlops`).
    public let sequenceFlops: [Double]
    /// Multiply-add FLOPs of the step (`BertEncoder.layerFlops`).
    public var flops: Double { sequenceFlops.reduce(0, +) }
}

extension BertEncoder {
    /// Runs layer `l` (0-based) on the active rows of x (T, H), in place, under
    /// `plan`, and returns the output's layout and the step's FLOPs.
    /// `training` records the activations (and applies dropout) for `backward`;
    /// `probabilities` receives each sequence's attention probabilities.
    @discardableResult
    public func step(_ l: Int, _ x: UnsafeMutablePointer<Float>, active: ActiveSet, plan: (any EliminationPlan)? = nil,
                     training: LayerActivations? = nil, probabilities: (buffer: UnsafeMutablePointer<Float>, offsets: [Int])? = nil)
        -> LayerStepResult {
        let extract = plan?.extract(layer: l, lengths: active.lengths) ?? .none
        var hard: ExtractStep? = nil, soft: SoftExtractStep? = nil
        switch extract {
        case .none: break
        case .hard(let e): hard = e
        case .soft(let s): soft = s
        }
        layers[l](x, active: active, scratch: scratch, workspace: workspace, probabilities: probabilities,
                  training: training, extract: hard, softExtract: soft)
        let flops = sequenceFlops(active, kept: hard?.keep)
        // The step packed the kept rows, sequence by sequence.
        let layout = hard.map { ActiveSet(lengths: $0.keep) } ?? active
        return LayerStepResult(layout: layout, sequenceFlops: flops)
    }

    /// Layers `first...` through the last on x (T, H), in place, starting from
    /// `layout`; `body(l, layout)` sees x after layer l (1-based) with its layout.
    /// `isQuery(l, row)`, when given, says which rows are queries of layer l
    /// (0-based; the others halt and copy).
    public func forward(_ x: UnsafeMutablePointer<Float>, from layout: ActiveSet, first: Int = 0,
                        plan: (any EliminationPlan)? = nil, training: EncoderActivations? = nil,
                        isQuery: ((_ layer: Int, _ row: Int) -> Bool)? = nil,
                        probabilities: ((_ layer: Int) -> (buffer: UnsafeMutablePointer<Float>, offsets: [Int])?)? = nil,
                        _ body: (_ layer: Int, _ layout: ActiveSet) -> Void) {
        var layout = layout
        for l in first..<layers.count {
            let active = isQuery.map { q in ActiveSet(starts: layout.starts, lengths: layout.lengths) { q(l, $0) } } ?? layout
            let result = step(l, x, active: active, plan: plan, training: training?.layers[l], probabilities: probabilities?(l))
            // A layout's rows, queries or not: the next layer decides its own queries.
            layout = ActiveSet(starts: result.layout.starts, lengths: result.layout.lengths)
            body(l + 1, layout)
        }
    }
}
