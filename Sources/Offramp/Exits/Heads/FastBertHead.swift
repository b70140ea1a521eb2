// MARK: - The FastBERT exit head (student classifier)

/// `exits.<l>.*`: reduce(H→w) + tanh on every row, one self-attention layer
/// (`heads` heads at width w) whose queries are the head's query rows, its
/// output projection, dense(w→w) + tanh, classifier(w→N) (docs/methods.md#exit-heads).
struct FastBertHead: @unchecked Sendable {
    let reduce: Linear     // `reduce` (w, H)
    let qkv: Linear        // `attention.{query,key,value}` (3w, w), adjacent in the store
    let output: Linear     // `attention.output` (w, w)
    let dense: Linear      // `dense` (w, w)
    let classifier: Linear // `classifier` (N, w)
    let heads: Int

    static func parameterSpecs(hidden h: Int, width w: Int, classes n: Int, prefix e: String) -> [(name: String, shape: [Int])] {
        // query, key, value weights adjacent (one (3w, w) matrix), then their biases.
        [(e + "reduce.weight", [w, h]), (e + "reduce.bias", [w]),
         (e + "attention.query.weight", [w, w]), (e + "attention.key.weight", [w, w]),
         (e + "attention.value.weight", [w, w]),
         (e + "attention.query.bias", [w]), (e + "attention.key.bias", [w]), (e + "attention.value.bias", [w]),
         (e + "attention.output.weight", [w, w]), (e + "attention.output.bias", [w]),
         (e + "dense.weight", [w, w]), (e + "dense.bias", [w]),
         (e + "classifier.weight", [n, w]), (e + "classifier.bias", [n])]
    }

    init(_ p: ParameterStore, prefix e: String, hidden h: Int, width w: Int, heads: Int, classes n: Int) {
        reduce = Linear(p, e + "reduce", inDim: h, outDim: w)
        qkv = Linear(weight: p[e + "attention.query.weight"], bias: p[e + "attention.query.bias"], inDim: w, outDim: 3 * w)
        output = Linear(p, e + "attention.output", inDim: w, outDim: w)
        dense = Linear(p, e + "dense", inDim: w, outDim: w)
        classifier = Linear(p, e + "classifier", inDim: w, outDim: n)
        self.heads = heads
    }

    var width: Int { reduce.outDim }

    /// logits (Q, N) for the head's queries of x (T, H).
    func forward(_ x: UnsafePointer<Float>, input: HeadInput, logits: UnsafeMutablePointer<Float>,
                 activations acts: HeadActivations, workspace ws: Workspace) {
        let w = width, q = input.queryCount, t = input.rowCount
        let reduced = acts.reduced(t * w)
        reduce.forward(reduced, x, rows: t)
        tanhForward(out: reduced, inp: reduced, count: t * w)
        let qkvOut = acts.qkv(t * 3 * w)
        qkv.forward(qkvOut, reduced, rows: t)
        let queries = acts.queries(q * w)
        gatherRows(out: queries, inp: qkvOut, rows: input.queryRows, width: w, ldInp: 3 * w)
        let segments = input.attentionSegments
        let (offsets, total) = probabilityLayout(segments, heads: heads)
        let probs = acts.probabilities(max(total, 1))
        let ctx = acts.context(q * w)
        multiHeadAttention(out: ctx, ldOut: w, q: queries, ldq: w, k: qkvOut + w, ldk: 3 * w, v: qkvOut + 2 * w, ldv: 3 * w,
                           segments: segments, heads: heads, headDim: w / heads,
                           probabilities: probs, probabilityOffsets: offsets, workspace: ws)
        acts.probabilityOffsets = offsets
        acts.segments = segments
        let attended = acts.attended(q * w)
        output.forward(attended, ctx, rows: q)
        let d = acts.dense(q * w)
        dense.forward(d, attended, rows: q)
        tanhForward(out: d, inp: d, count: q * w)
        classifier.forward(logits, d, rows: q)
    }

    /// From dLogits (Q, N): parameter gradients into `grads` (when given) and,
    /// when `dX` is given, the gradient of x (T, H), accumulated.
    func backward(_ x: UnsafePointer<Float>, input: HeadInput, dLogits: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>?,
                  activations acts: HeadActivations, grads: Gradients?, workspace ws: Workspace) {
        let w = width, q = input.queryCount, rows = input.rowCount
        let d = acts.dense(q * w)
        let dDense = ws.zeroed("head.grad.dense", q * w)
        classifier.backward(dInp: dDense, dOut: dLogits, inp: d, rows: q, grads: grads)
        let dDensePre = ws.zeroed("head.grad.densePre", q * w)
        tanhBackward(dInp: dDensePre, dOut: dDense, output: d, count: q * w)
        let dAttended = ws.zeroed("head.grad.attended", q * w)
        dense.backward(dInp: dAttended, dOut: dDensePre, inp: acts.attended(q * w), rows: q, grads: grads)
        let dCtx = ws.zeroed("head.grad.ctx", q * w)
        output.backward(dInp: dCtx, dOut: dAttended, inp: acts.context(q * w), rows: q, grads: grads)
        let qkvOut = acts.qkv(rows * 3 * w)
        let dQKV = ws.zeroed("head.grad.qkv", rows * 3 * w)
        let dQueries = ws.zeroed("head.grad.queries", q * w)
        let total = heads * zip(acts.segments.queryCount, acts.segments.keyCount).reduce(0) { $0 + $1.0 * $1.1 }
        multiHeadAttentionBackward(
            dQ: dQueries, lddq: w, dK: dQKV + w, lddk: 3 * w, dV: dQKV + 2 * w, lddv: 3 * w,
            dOut: dCtx, ldOut: w, q: acts.queries(q * w), ldq: w, k: qkvOut + w, ldk: 3 * w,
            v: qkvOut + 2 * w, ldv: 3 * w, probabilities: acts.probabilities(max(total, 1)),
            probabilityOffsets: acts.probabilityOffsets, segments: acts.segments, heads: heads, headDim: w / heads, workspace: ws)
        scatterAddRows(dInp: dQKV, dOut: dQueries, rows: input.queryRows, width: w, ldDInp: 3 * w)
        let reduced = acts.reduced(rows * w)
        let dReduced = ws.zeroed("head.grad.reduced", rows * w)
        qkv.backward(dInp: dReduced, dOut: dQKV, inp: reduced, rows: rows, grads: grads)
        let dReducedPre = ws.zeroed("head.grad.reducedPre", rows * w)
        tanhBackward(dInp: dReducedPre, dOut: dReduced, output: reduced, count: rows * w)
        reduce.backward(dInp: dX, dOut: dReducedPre, inp: x, rows: rows, grads: grads)
    }

    /// Multiply-add FLOPs (×2) on one sequence of `rows` rows with `queries`
    /// queries: every row reduced and projected, the queries' attention over
    /// the rows, the queries' two linears. A head's cost is the sum over its sequences.
    func flops(rows: Int, queries: Int) -> Double {
        let h = Double(reduce.inDim), w = Double(width), n = Double(classifier.outDim)
        let t = Double(rows), q = Double(queries)
        return t * 2 * (h * w + 3 * w * w) + 2 * 2 * q * t * w + q * 2 * (2 * w * w + w * n)
    }
}
