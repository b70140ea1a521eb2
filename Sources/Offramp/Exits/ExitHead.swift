// MARK: - One exit head ("off-ramp") and its forward/backward

/// Which rows of a layer's packed states a head reads and predicts for.
///
/// - Sequence task: one prediction per sequence; `queryRows` are the [CLS]
///   rows (`starts`), and mean pooling reads every row.
/// - Token task: one prediction per word, at its first piece: `queryRows`
///   lists those rows, `queryCounts[s]` of them in sequence s.
public struct HeadInput: Sendable, Equatable {
    public var starts: [Int]
    public var lengths: [Int]
    public var queryRows: [Int]
    public var queryCounts: [Int]

    public init(starts: [Int], lengths: [Int], queryRows: [Int], queryCounts: [Int]) {
        self.starts = starts; self.lengths = lengths; self.queryRows = queryRows; self.queryCounts = queryCounts
    }

    /// One prediction per sequence, at its [CLS] row.
    public static func sequences(starts: [Int], lengths: [Int]) -> HeadInput {
        HeadInput(starts: starts, lengths: lengths, queryRows: starts, queryCounts: starts.map { _ in 1 })
    }

    public var rowCount: Int { lengths.reduce(0, +) }
    public var queryCount: Int { queryRows.count }

    /// Queries gathered in order, keys in place: the attention layout of a FastBERT head.
    var attentionSegments: AttentionSegments {
        var qStart: [Int] = [], acc = 0
        for c in queryCounts { qStart.append(acc); acc += c }
        return AttentionSegments(queryStart: qStart, queryCount: queryCounts, keyStart: starts, keyCount: lengths)
    }
}

/// The exit head after one layer. Its parameters live in the model's one
/// parameter store under "exits.<layer>.*".
public struct ExitHead: @unchecked Sendable {
    public let layer: Int
    let settings: ExitSettings
    let hidden: Int
    let classes: Int
    let p: [String: UnsafeMutablePointer<Float>]

    // MARK: Parameters

    static func parameterSpecs(_ s: ExitSettings, hidden h: Int, layer l: Int) -> [(name: String, shape: [Int])] {
        let n = s.labels.count, w = s.fastbertWidth, e = "exits.\(l)."
        switch (s.head, s.task) {
        case (.linear, .classify):
            return [(e + "pooler.weight", [h, h]), (e + "pooler.bias", [h]),
                    (e + "classifier.weight", [n, h]), (e + "classifier.bias", [n])]
        case (.linear, .label):
            return [(e + "classifier.weight", [n, h]), (e + "classifier.bias", [n])]
        case (.fastbert, _):
            // query, key, value weights adjacent (one (3w, w) matrix), then their biases.
            return [(e + "reduce.weight", [w, h]), (e + "reduce.bias", [w]),
                    (e + "attention.query.weight", [w, w]), (e + "attention.key.weight", [w, w]),
                    (e + "attention.value.weight", [w, w]),
                    (e + "attention.query.bias", [w]), (e + "attention.key.bias", [w]), (e + "attention.value.bias", [w]),
                    (e + "attention.output.weight", [w, w]), (e + "attention.output.bias", [w]),
                    (e + "dense.weight", [w, w]), (e + "dense.bias", [w]),
                    (e + "classifier.weight", [n, w]), (e + "classifier.bias", [n])]
        }
    }

    init(store: ParameterStore, settings: ExitSettings, hidden: Int, layer: Int) {
        self.layer = layer
        self.settings = settings
        self.hidden = hidden
        classes = settings.labels.count
        var p: [String: UnsafeMutablePointer<Float>] = [:]
        for (name, _) in Self.parameterSpecs(settings, hidden: hidden, layer: layer) {
            p[String(name.dropFirst("exits.\(layer).".count))] = store[name]
        }
        self.p = p
    }

    // MARK: Forward

    /// logits (Q, N), row-major, for the query rows of x (T, H): inference.
    public func callAsFunction(_ x: UnsafePointer<Float>, input: HeadInput) -> [Float] {
        var logits = [Float](repeating: 0, count: input.queryCount * classes)
        logits.withUnsafeMutableBufferPointer { forward(x, input: input, logits: $0.baseAddress!, workspace: Workspace()) }
        return logits
    }

    /// logits (Q, N) for the head's query rows of x (T, H). With a tape, the
    /// training forward: dropout applied, activations kept for `backward`.
    func forward(_ x: UnsafePointer<Float>, input: HeadInput, logits: UnsafeMutablePointer<Float>,
                 workspace ws: Workspace, tape: LayerTape? = nil) {
        let h = hidden, n = classes, q = input.queryCount
        let keep = tape?.buffers ?? ws
        switch (settings.head, settings.task) {
        case (.linear, .classify):
            let pooled = keep.buffer("head.pooled", count: q * h)
            if settings.pooling == .mean {
                meanPoolForward(out: pooled, inp: x, starts: input.starts, lengths: input.lengths, width: h)
            } else {
                gatherRows(out: pooled, inp: x, rows: input.queryRows, width: h)
            }
            let act = keep.buffer("head.tanh", count: q * h)
            matmulTransposedB(act, pooled, p["pooler.weight"]!, rows: q, inDim: h, outDim: h)
            addBias(act, p["pooler.bias"]!, rows: q, cols: h)
            tanhForward(out: act, inp: act, count: q * h)
            var features = UnsafePointer(act)
            if let tape {
                let dropped = tape.buffers.buffer("head.dropped", count: q * h)
                dropped.update(from: act, count: q * h)
                tape.dropout("head.mask", dropped, count: q * h)
                features = UnsafePointer(dropped)
            }
            matmulTransposedB(logits, features, p["classifier.weight"]!, rows: q, inDim: h, outDim: n)
            addBias(logits, p["classifier.bias"]!, rows: q, cols: n)
        case (.linear, .label):
            let rows = keep.buffer("head.rows", count: q * h)
            gatherRows(out: rows, inp: x, rows: input.queryRows, width: h)
            tape?.dropout("head.mask", rows, count: q * h)
            matmulTransposedB(logits, rows, p["classifier.weight"]!, rows: q, inDim: h, outDim: n)
            addBias(logits, p["classifier.bias"]!, rows: q, cols: n)
        case (.fastbert, _):
            let w = settings.fastbertWidth, heads = settings.fastbertHeads, t = input.rowCount
            let reduced = keep.buffer("head.reduced", count: t * w)
            matmulTransposedB(reduced, x, p["reduce.weight"]!, rows: t, inDim: h, outDim: w)
            addBias(reduced, p["reduce.bias"]!, rows: t, cols: w)
            tanhForward(out: reduced, inp: reduced, count: t * w)
            let qkv = keep.buffer("head.qkv", count: t * 3 * w)
            matmulTransposedB(qkv, reduced, p["attention.query.weight"]!, rows: t, inDim: w, outDim: 3 * w)
            addBias(qkv, p["attention.query.bias"]!, rows: t, cols: 3 * w)
            let queries = keep.buffer("head.queries", count: q * w)
            gatherRows(out: queries, inp: qkv, rows: input.queryRows, width: w, ldInp: 3 * w)
            let segments = input.attentionSegments
            var offsets: [Int] = [], total = 0
            for s in 0..<segments.count { offsets.append(total); total += heads * segments.queryCount[s] * segments.keyCount[s] }
            let probs = keep.buffer("head.probs", count: max(total, 1))
            let ctx = keep.buffer("head.ctx", count: q * w)
            multiHeadAttention(out: ctx, ldOut: w, q: queries, ldq: w, k: qkv + w, ldk: 3 * w, v: qkv + 2 * w, ldv: 3 * w,
                               segments: segments, heads: heads, headDim: w / heads,
                               probabilities: probs, probabilityOffsets: offsets, workspace: ws)
            tape?.probabilityOffsets = offsets
            tape?.segments = segments
            let attended = keep.buffer("head.attended", count: q * w)
            matmulTransposedB(attended, ctx, p["attention.output.weight"]!, rows: q, inDim: w, outDim: w)
            addBias(attended, p["attention.output.bias"]!, rows: q, cols: w)
            let dense = keep.buffer("head.dense", count: q * w)
            matmulTransposedB(dense, attended, p["dense.weight"]!, rows: q, inDim: w, outDim: w)
            addBias(dense, p["dense.bias"]!, rows: q, cols: w)
            tanhForward(out: dense, inp: dense, count: q * w)
            matmulTransposedB(logits, dense, p["classifier.weight"]!, rows: q, inDim: w, outDim: n)
            addBias(logits, p["classifier.bias"]!, rows: q, cols: n)
        }
        tape?.rows = input.rowCount
    }

    // MARK: Backward

    /// From dLogits (Q, N): parameter gradients into `grads` (when given) and,
    /// when `dX` is given, the gradient of x (T, H), accumulated.
    func backward(_ x: UnsafePointer<Float>, input: HeadInput, dLogits: UnsafePointer<Float>,
                  dX: UnsafeMutablePointer<Float>?, tape: LayerTape, grads: Gradients?, workspace ws: Workspace) {
        let h = hidden, n = classes, q = input.queryCount
        let t = tape.buffers
        func g(_ name: String) -> UnsafeMutablePointer<Float>? { grads.map { $0[p[name]!] } }
        func zeroed(_ name: String, _ count: Int) -> UnsafeMutablePointer<Float> {
            let b = ws.buffer(name, count: count)
            b.update(repeating: 0, count: count)
            return b
        }
        switch (settings.head, settings.task) {
        case (.linear, .classify):
            let act = t.buffer("head.tanh", count: q * h)
            let features = tape.pass.hiddenDropout > 0 ? t.buffer("head.dropped", count: q * h) : act
            let dFeatures = zeroed("head.grad.features", q * h)
            linearBackward(dInp: dFeatures, dWeight: g("classifier.weight"), dBias: g("classifier.bias"), dOut: dLogits,
                           inp: features, weight: p["classifier.weight"]!, rows: q, inDim: h, outDim: n)
            tape.applyMask("head.mask", dFeatures, count: q * h)
            let dPre = zeroed("head.grad.pre", q * h)
            tanhBackward(dInp: dPre, dOut: dFeatures, output: act, count: q * h)
            guard grads != nil || dX != nil else { return }
            let dPooled = zeroed("head.grad.pooled", q * h)
            linearBackward(dInp: dX == nil ? nil : dPooled, dWeight: g("pooler.weight"), dBias: g("pooler.bias"), dOut: dPre,
                           inp: t.buffer("head.pooled", count: q * h), weight: p["pooler.weight"]!, rows: q, inDim: h, outDim: h)
            if let dX {
                if settings.pooling == .mean {
                    meanPoolBackward(dInp: dX, dOut: dPooled, starts: input.starts, lengths: input.lengths, width: h)
                } else {
                    scatterAddRows(dInp: dX, dOut: dPooled, rows: input.queryRows, width: h)
                }
            }
        case (.linear, .label):
            let dRows = zeroed("head.grad.rows", q * h)
            linearBackward(dInp: dX == nil ? nil : dRows, dWeight: g("classifier.weight"), dBias: g("classifier.bias"), dOut: dLogits,
                           inp: t.buffer("head.rows", count: q * h), weight: p["classifier.weight"]!, rows: q, inDim: h, outDim: n)
            if let dX {
                tape.applyMask("head.mask", dRows, count: q * h)
                scatterAddRows(dInp: dX, dOut: dRows, rows: input.queryRows, width: h)
            }
        case (.fastbert, _):
            let w = settings.fastbertWidth, heads = settings.fastbertHeads, rows = input.rowCount
            let dense = t.buffer("head.dense", count: q * w)
            let dDense = zeroed("head.grad.dense", q * w)
            linearBackward(dInp: dDense, dWeight: g("classifier.weight"), dBias: g("classifier.bias"), dOut: dLogits,
                           inp: dense, weight: p["classifier.weight"]!, rows: q, inDim: w, outDim: n)
            let dDensePre = zeroed("head.grad.densePre", q * w)
            tanhBackward(dInp: dDensePre, dOut: dDense, output: dense, count: q * w)
            let dAttended = zeroed("head.grad.attended", q * w)
            linearBackward(dInp: dAttended, dWeight: g("dense.weight"), dBias: g("dense.bias"), dOut: dDensePre,
                           inp: t.buffer("head.attended", count: q * w), weight: p["dense.weight"]!, rows: q, inDim: w, outDim: w)
            let dCtx = zeroed("head.grad.ctx", q * w)
            linearBackward(dInp: dCtx, dWeight: g("attention.output.weight"), dBias: g("attention.output.bias"), dOut: dAttended,
                           inp: t.buffer("head.ctx", count: q * w), weight: p["attention.output.weight"]!, rows: q, inDim: w, outDim: w)
            let qkv = t.buffer("head.qkv", count: rows * 3 * w)
            let dQKV = zeroed("head.grad.qkv", rows * 3 * w)
            let dQueries = zeroed("head.grad.queries", q * w)
            let total = heads * zip(tape.segments.queryCount, tape.segments.keyCount).reduce(0) { $0 + $1.0 * $1.1 }
            multiHeadAttentionBackward(
                dQ: dQueries, lddq: w, dK: dQKV + w, lddk: 3 * w, dV: dQKV + 2 * w, lddv: 3 * w,
                dOut: dCtx, ldOut: w, q: t.buffer("head.queries", count: q * w), ldq: w, k: qkv + w, ldk: 3 * w,
                v: qkv + 2 * w, ldv: 3 * w, probabilities: t.buffer("head.probs", count: max(total, 1)),
                probabilityOffsets: tape.probabilityOffsets, segments: tape.segments, heads: heads, headDim: w / heads, workspace: ws)
            scatterAddRows(dInp: dQKV, dOut: dQueries, rows: input.queryRows, width: w, ldDInp: 3 * w)
            let reduced = t.buffer("head.reduced", count: rows * w)
            let dReduced = zeroed("head.grad.reduced", rows * w)
            linearBackward(dInp: dReduced, dWeight: g("attention.query.weight"), dBias: g("attention.query.bias"), dOut: dQKV,
                           inp: reduced, weight: p["attention.query.weight"]!, rows: rows, inDim: w, outDim: 3 * w)
            let dReducedPre = zeroed("head.grad.reducedPre", rows * w)
            tanhBackward(dInp: dReducedPre, dOut: dReduced, output: reduced, count: rows * w)
            linearBackward(dInp: dX, dWeight: g("reduce.weight"), dBias: g("reduce.bias"), dOut: dReducedPre,
                           inp: x, weight: p["reduce.weight"]!, rows: rows, inDim: h, outDim: w)
        }
    }
}
