// MARK: - The linear exit head (DeeBERT's highway, PABEE's classifier)

/// `exits.<l>.*`. Sequence task: pooler dense(H→H) + tanh on the [CLS] row (or
/// the mean of the sequence's rows), dropout, classifier(H→N); ReLU or GELU
/// instead of tanh for DistilBERT's and ELECTRA's classifier heads. Token task:
/// dropout, classifier(H→N) on each word's first piece (docs/methods.md#exit-heads).
struct LinearHead: @unchecked Sendable {
    /// `pooler` (H, H); nil for the token task, which has none.
    let pooler: Linear?
    let classifier: Linear  // `classifier` (N, H)
    let pooling: HeadPooling
    let activation: PoolerActivation

    static func parameterSpecs(task: ExitTask, hidden h: Int, classes n: Int, prefix e: String) -> [(name: String, shape: [Int])] {
        let classifier = [(e + "classifier.weight", [n, h]), (e + "classifier.bias", [n])]
        return task == .classify ? [(e + "pooler.weight", [h, h]), (e + "pooler.bias", [h])] + classifier : classifier
    }

    init(_ p: ParameterStore, prefix e: String, task: ExitTask, hidden h: Int, classes n: Int, pooling: HeadPooling,
         activation: PoolerActivation = .tanh) {
        pooler = task == .classify ? Linear(p, e + "pooler", inDim: h, outDim: h) : nil
        classifier = Linear(p, e + "classifier", inDim: h, outDim: n)
        self.pooling = pooling
        self.activation = activation
    }

    var hidden: Int { classifier.inDim }

    /// logits (Q, N) for the head's queries of x (T, H). Training adds dropout.
    func forward(_ x: UnsafePointer<Float>, input: HeadInput, logits: UnsafeMutablePointer<Float>,
                 activations acts: HeadActivations, training: Bool) {
        let h = hidden, q = input.queryCount
        guard let pooler else {  // token task: every word's first piece
            let words = acts.words(q * h)
            gatherRows(out: words, inp: x, rows: input.queryRows, width: h)
            if training { acts.pass.dropout(words, count: q * h, mask: acts.mask) }
            classifier.forward(logits, words, rows: q)
            return
        }
        let pooled = acts.pooled(q * h)
        if pooling == .mean {
            meanPoolForward(out: pooled, inp: x, starts: input.starts, lengths: input.lengths, width: h)
        } else {
            gatherRows(out: pooled, inp: x, rows: input.queryRows, width: h)
        }
        let act = acts.poolerOutput(q * h)
        switch activation {
        case .tanh:
            pooler.forward(act, pooled, rows: q)
            tanhForward(out: act, inp: act, count: q * h)
        case .relu, .gelu:
            let pre = acts.poolerInput(q * h)
            pooler.forward(pre, pooled, rows: q)
            activationForward(out: act, inp: pre, count: q * h, activation: activation == .relu ? .relu : .gelu)
        }
        var features = UnsafePointer(act)
        if training {
            let dropped = acts.dropped(q * h)
            dropped.update(from: act, count: q * h)
            acts.pass.dropout(dropped, count: q * h, mask: acts.mask)
            features = UnsafePointer(dropped)
        }
        classifier.forward(logits, features, rows: q)
    }

    /// From dLogits (Q, N): parameter gradients into `grads` (when given) and,
    /// when `dX` is given, the gradient of x (T, H), accumulated.
    func backward(_ x: UnsafePointer<Float>, input: HeadInput, dLogits: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>?,
                  activations acts: HeadActivations, grads: Gradients?, workspace ws: Workspace) {
        let h = hidden, q = input.queryCount
        guard let pooler else {
            let dWords = ws.zeroed("head.grad.rows", q * h)
            classifier.backward(dInp: dX == nil ? nil : dWords, dOut: dLogits, inp: acts.words(q * h), rows: q, grads: grads)
            if let dX {
                acts.pass.applyMask(dWords, count: q * h, mask: acts.mask)
                scatterAddRows(dInp: dX, dOut: dWords, rows: input.queryRows, width: h)
            }
            return
        }
        let act = acts.poolerOutput(q * h)
        let features = acts.pass.hiddenDropout > 0 ? acts.dropped(q * h) : act
        let dFeatures = ws.zeroed("head.grad.features", q * h)
        classifier.backward(dInp: dFeatures, dOut: dLogits, inp: features, rows: q, grads: grads)
        acts.pass.applyMask(dFeatures, count: q * h, mask: acts.mask)
        let dPre = ws.zeroed("head.grad.pre", q * h)
        switch activation {
        case .tanh: tanhBackward(dInp: dPre, dOut: dFeatures, output: act, count: q * h)
        case .relu, .gelu:
            activationBackward(dInp: dPre, dOut: dFeatures, preActivation: acts.poolerInput(q * h), count: q * h,
                               activation: activation == .relu ? .relu : .gelu)
        }
        guard grads != nil || dX != nil else { return }
        let dPooled = ws.zeroed("head.grad.pooled", q * h)
        pooler.backward(dInp: dX == nil ? nil : dPooled, dOut: dPre, inp: acts.pooled(q * h), rows: q, grads: grads)
        if let dX {
            if pooling == .mean {
                meanPoolBackward(dInp: dX, dOut: dPooled, starts: input.starts, lengths: input.lengths, width: h)
            } else {
                scatterAddRows(dInp: dX, dOut: dPooled, rows: input.queryRows, width: h)
            }
        }
    }

    /// Multiply-add FLOPs (×2) on one sequence with `queries` queries (the rows are only read).
    func flops(rows: Int, queries: Int) -> Double {
        let h = Double(hidden), n = Double(classifier.outDim), q = Double(queries)
        return pooler == nil ? q * 2 * h * n : q * 2 * (h * h + h * n)
    }
}
