import Foundation

// MARK: - Batched early exit: inputs leave the batch as they exit

/// One input's outcome: one prediction per query (the input itself for
/// classification, each word for labeling).
public struct ExitResult: Sendable, Equatable {
    /// Index into the model's labels, per query.
    public let labels: [Int]
    /// The label distribution per query.
    public let labelProbabilities: [[Float]]
    /// 1-based layer whose exit answered, per query (labeling: where each word halted).
    public let exitLayers: [Int]
    /// The layer at which the input left the encoder (labeling: its last word's halting layer).
    public let exitLayer: Int
    /// Normalized entropy at every exit the input visited, in order
    /// (labeling: the largest among its words still running there).
    public let uncertainties: [Double]

    /// The classification label (the first query's).
    public var label: Int { labels.first ?? 0 }
    /// The classification distribution (the first query's).
    public var probabilities: [Float] { labelProbabilities.first ?? [] }
}

/// A run's results and cost.
public struct ExitRun: Sendable {
    public let results: [ExitResult]
    /// FLOPs spent (encoder layers and exit heads actually run).
    public let flops: Double
    /// FLOPs of the full-depth model (every layer, final head only) on the same inputs.
    public let fullDepthFlops: Double
    public let seconds: Double

    public var flopsSpeedup: Double { fullDepthFlops / max(flops, 1) }
    /// Mean exit layer over queries: inputs for classification, words for labeling.
    public var averageExitLayer: Double {
        let layers = results.flatMap(\.exitLayers)
        return layers.isEmpty ? 0 : Double(layers.reduce(0, +)) / Double(layers.count)
    }
}

/// Runs a multi-exit model with an exit policy over a stream of inputs,
/// `batchSize` at a time: sequence classification with the sequence-level
/// policies, token labeling with SENTEE and TOKEE (and full or budget for both).
///
/// The inputs in flight form cohorts: sequences that entered together and
/// are at the same depth, packed in one buffer. Each tick runs every cohort
/// through its next layer (the same layer step as full depth, on that
/// cohort's active set), evaluates the exit there, and compacts the cohort
/// so the inputs that exited leave. Under TOKEE a word that halts stops
/// being a query (its pieces keep their state and stay keys and values:
/// halt-and-copy); [CLS] and [SEP] run until their sentence leaves.
/// Without `continuous`, a new batch is admitted when the previous one is
/// done; with it, new inputs join as soon as a quarter of the slots are free
/// (continuous batching across depth). Each input's result equals running
/// it alone: sequences never interact.
public final class EarlyExitRunner: @unchecked Sendable {
    public let model: MultiExitModel

    public init(model: MultiExitModel) throws {
        self.model = model
    }

    /// What the runner tracks for one input in flight.
    struct InputState {
        var decision = ExitDecisionState()
        var uncertainties: [Double] = []
        /// Labeling: each word's first-piece position, and each row's word (-1: special token).
        var firstPieces: [Int] = []
        var rowWords: [Int] = []
        /// Per word: whether it has halted (its label and exit layer are then final).
        var halted: [Bool] = []
        var labels: [Int] = [], exitLayers: [Int] = [], probabilities: [[Float]] = []
        var running = 0

        init(_ e: EncodedExample, labeling: Bool) {
            guard labeling else { return }
            firstPieces = e.queryPositions
            rowWords = e.wordOfRow()
            let n = firstPieces.count
            halted = Array(repeating: false, count: n)
            labels = Array(repeating: 0, count: n)
            exitLayers = Array(repeating: 0, count: n)
            probabilities = Array(repeating: [], count: n)
            running = n
        }
    }

    final class Cohort {
        var inputs: [Int]
        var lengths: [Int]
        let states: FloatBuffer
        var depth = 0
        var state: [InputState]

        init(inputs: [Int], lengths: [Int], width: Int, state: [InputState]) {
            self.inputs = inputs
            self.lengths = lengths
            states = FloatBuffer(count: lengths.reduce(0, +) * width)
            self.state = state
        }

        var starts: [Int] {
            var s: [Int] = [], acc = 0
            for n in lengths { s.append(acc); acc += n }
            return s
        }
    }

    /// Runs `examples` (their ids and type ids; labels are ignored) under `policy`.
    public func run(_ examples: [EncodedExample], policy: ExitPolicy, batchSize: Int = 32, continuous: Bool = false,
                    retention: WordVectorRetention = .saved) throws -> ExitRun {
        try run(examples, policyFor: { _ in policy }, batchSize: batchSize, continuous: continuous, retention: retention)
    }

    /// Runs each example under its own policy (TOKEE self-sampling draws one per sentence).
    ///
    /// `retention` (PoWER-BERT, classification): after each layer's attention
    /// a sequence keeps at most that layer's number of word-vectors, so
    /// elimination and early exit work together in one pass.
    public func run(_ examples: [EncodedExample], policyFor: (Int) -> ExitPolicy, batchSize: Int = 32,
                    continuous: Bool = false, retention: WordVectorRetention = .saved) throws -> ExitRun {
        guard batchSize > 0 else { throw OfframpError("batch size must be positive") }
        let elimination = try model.resolve(retention)
        let labeling = model.settings.task == .label
        let policies = examples.indices.map(policyFor)
        var seen = Set<String>()
        for policy in policies where seen.insert(policy.encoded).inserted { try validate(policy) }
        let encoder = model.encoder, h = model.config.hiddenSize, n = model.labels.count
        let headAt = Dictionary(uniqueKeysWithValues: model.heads.map { ($0.layer, $0) })
        let lastLayer = model.heads.last!.layer
        for (i, e) in examples.enumerated() {
            try encoder.validate(PackedBatch(ids: [e.ids], typeIds: [e.typeIds]))
            if e.ids.isEmpty { throw OfframpError("input \(i + 1) is empty") }
        }
        var results = [ExitResult?](repeating: nil, count: examples.count)
        var flops = 0.0
        var fullFlops = 0.0
        for e in examples {
            let alone = ExampleBatch([e]).input
            fullFlops += encoder.layerFlops(lengths: [e.ids.count]) * Double(lastLayer)
            fullFlops += headAt[lastLayer]!.flops(labeling ? alone : .sequences(starts: [0], lengths: [e.ids.count]))
        }
        let start = Date()
        var next = 0
        var cohorts: [Cohort] = []
        let maxQueries = labeling ? examples.map(\.queryPositions.count).max() ?? 1 : 1
        let logits = FloatBuffer(count: batchSize * max(maxQueries, 1) * n)
        while next < examples.count || !cohorts.isEmpty {
            // Admission.
            let active = cohorts.reduce(0) { $0 + $1.inputs.count }
            let free = batchSize - active
            let admit = continuous ? (free >= max(1, batchSize / 4) || (free > 0 && examples.count - next <= free))
                                   : cohorts.isEmpty
            if admit && next < examples.count {
                let take = Array(next ..< min(next + free, examples.count))
                next += take.count
                let batch = PackedBatch(ids: take.map { examples[$0].ids }, typeIds: take.map { examples[$0].typeIds })
                let c = Cohort(inputs: take, lengths: batch.lengths, width: h,
                               state: take.map { InputState(examples[$0], labeling: labeling) })
                encoder.embed(batch, into: c.states.pointer)
                cohorts.append(c)
            }
            // One layer for every cohort.
            for c in cohorts {
                let inputStarts = c.starts
                let activeSet = labeling ? queryingRows(c, starts: inputStarts) : ActiveSet(starts: inputStarts, lengths: c.lengths)
                let extract = elimination.map {
                    ExtractStep(keep: $0.0.kept(after: c.depth, lengths: c.lengths), selection: $0.1, layer: c.depth)
                }
                encoder.layerStep(c.depth, c.states.pointer, active: activeSet, extract: extract)
                flops += encoder.layerFlops(activeSet, kept: extract?.keep.reduce(0, +))
                c.depth += 1
                if let extract { c.lengths = extract.keep }  // the step packed the kept rows
                let starts = c.starts
                guard let head = headAt[c.depth] else { continue }
                let input = labeling ? allWords(c, starts: starts)
                                     : HeadInput.sequences(starts: starts, lengths: c.lengths)
                head.forward(c.states.pointer, input: input, logits: logits.pointer, workspace: model.workspace)
                flops += head.flops(input)
                let isLast = c.depth == lastLayer
                var keep: [Int] = []
                var row = 0
                for i in c.inputs.indices {
                    let policy = policies[c.inputs[i]]
                    let done: Bool
                    if labeling {
                        let count = input.queryCounts[i]
                        done = decideWords(&c.state[i], logits: logits.pointer + row * n, classes: n,
                                           policy: policy, layer: c.depth, isLast: isLast)
                        row += count
                    } else {
                        done = decideSequence(&c.state[i], logits: logits.pointer + i * n, classes: n,
                                              policy: policy, layer: c.depth, isLast: isLast)
                    }
                    if done {
                        let s = c.state[i]
                        results[c.inputs[i]] = ExitResult(labels: s.labels, labelProbabilities: s.probabilities,
                                                          exitLayers: s.exitLayers, exitLayer: c.depth, uncertainties: s.uncertainties)
                    } else {
                        keep.append(i)
                    }
                }
                if keep.count < c.inputs.count { compact(c, keeping: keep, starts: starts, width: h) }
            }
            cohorts.removeAll { $0.inputs.isEmpty }
        }
        return ExitRun(results: results.map { $0! }, flops: flops, fullDepthFlops: fullFlops,
                       seconds: Date().timeIntervalSince(start))
    }

    /// A policy must suit the model's task, and a budget layer must have an exit.
    func validate(_ policy: ExitPolicy) throws {
        let task = model.settings.task
        guard ExitPolicy.names(for: task).contains(policy.name) else {
            let kind = task == .classify ? "classifies whole inputs" : "labels words"
            throw OfframpError("policy \(policy.name) does not apply: this model \(kind) (policies: \(ExitPolicy.names(for: task).joined(separator: ", ")))")
        }
        if case .budget(let k) = policy, !model.settings.exits.contains(k) {
            throw OfframpError("budget layer \(k) has no exit (exits: \(model.settings.exits))")
        }
    }

    // MARK: Sequence classification

    /// Records the exit's distribution and asks the policy; true when the input leaves.
    private func decideSequence(_ s: inout InputState, logits: UnsafeMutablePointer<Float>, classes n: Int,
                                policy: ExitPolicy, layer: Int, isLast: Bool) -> Bool {
        softmaxInPlace(logits, count: n)
        let p = UnsafeBufferPointer(start: logits, count: n)
        s.uncertainties.append(normalizedEntropy(p))
        guard policy.shouldExit(probabilities: p, layer: layer, isLast: isLast, state: &s.decision) else { return false }
        s.labels = [argmax(p)]
        s.probabilities = [Array(p)]
        s.exitLayers = [layer]
        return true
    }

    // MARK: Token labeling (SENTEE, TOKEE)

    /// The rows that are still queries: every row of a word that has not
    /// halted, and the special tokens of every sentence still running.
    private func queryingRows(_ c: Cohort, starts: [Int]) -> ActiveSet {
        guard c.state.contains(where: { $0.running < $0.firstPieces.count }) else {
            return ActiveSet(starts: starts, lengths: c.lengths)
        }
        var isQuery = [Bool](repeating: true, count: c.lengths.reduce(0, +))
        for (i, s) in c.state.enumerated() {
            for (pos, w) in s.rowWords.enumerated() where w >= 0 && s.halted[w] {
                isQuery[starts[i] + pos] = false
            }
        }
        return ActiveSet(starts: starts, lengths: c.lengths) { isQuery[$0] }
    }

    /// Every word's first piece, where the exit predicts. Halted words are
    /// scored too (on their copied state): TOKEE's window reads u_l(j) of
    /// every neighbour j at the current layer l, as METHODS and the reference
    /// code define it.
    private func allWords(_ c: Cohort, starts: [Int]) -> HeadInput {
        var rows: [Int] = [], counts: [Int] = []
        for (i, s) in c.state.enumerated() {
            rows += s.firstPieces.map { starts[i] + $0 }
            counts.append(s.firstPieces.count)
        }
        return HeadInput(starts: starts, lengths: c.lengths, queryRows: rows, queryCounts: counts)
    }

    /// Scores every word of one sentence at this exit and halts the running
    /// words the policy lets go; true when the sentence is done.
    private func decideWords(_ s: inout InputState, logits: UnsafeMutablePointer<Float>, classes n: Int,
                             policy: ExitPolicy, layer: Int, isLast: Bool) -> Bool {
        let words = s.firstPieces.count
        let criterion: TokenCriterion = switch policy {
        case .sentee(_, let c), .tokee(_, _, let c): c
        default: .entropy
        }
        var scores = [Double](repeating: 0, count: words)
        var sentenceEntropy = 0.0
        for w in 0..<words {
            softmaxInPlace(logits + w * n, count: n)
            let p = UnsafeBufferPointer(start: logits + w * n, count: n)
            scores[w] = criterion.score(p)
            if !s.halted[w] { sentenceEntropy = max(sentenceEntropy, normalizedEntropy(p)) }
        }
        if words > 0 { s.uncertainties.append(sentenceEntropy) }
        let halting: [Bool]
        switch policy {
        case .tokee(let window, let tau, let c):
            let windowed = windowScores(scores, window: window, criterion: c)
            halting = (0..<words).map { isLast || c.isSure(windowed[$0], tau: tau) }
        case .sentee(let tau, let c):
            let worst = scores.reduce(c == .entropy ? 0 : 1, c.worse)
            halting = (0..<words).map { _ in isLast || c.isSure(worst, tau: tau) }
        case .budget(let k):
            halting = (0..<words).map { _ in isLast || layer >= k }
        default:
            halting = (0..<words).map { _ in isLast }
        }
        for w in 0..<words where halting[w] && !s.halted[w] {
            let p = UnsafeBufferPointer(start: logits + w * n, count: n)
            s.halted[w] = true
            s.labels[w] = argmax(p)
            s.probabilities[w] = Array(p)
            s.exitLayers[w] = layer
            s.running -= 1
        }
        return s.running == 0
    }

    /// Moves the kept sequences' rows to the front of the cohort's buffer, in order.
    private func compact(_ c: Cohort, keeping keep: [Int], starts: [Int], width h: Int) {
        var row = 0
        for i in keep {
            let n = c.lengths[i]
            if starts[i] != row {
                (c.states.pointer + row * h).update(from: c.states.pointer + starts[i] * h, count: n * h)
            }
            row += n
        }
        c.inputs = keep.map { c.inputs[$0] }
        c.lengths = keep.map { c.lengths[$0] }
        c.state = keep.map { c.state[$0] }
    }
}

/// TOKEE's window score of each word (METHODS section 3): the least sure
/// score among words i−k ... i+k, the window clipped at the sentence's edges.
public func windowScores(_ scores: [Double], window k: Int, criterion: TokenCriterion) -> [Double] {
    scores.indices.map { i in
        let lo = max(0, i - k), hi = min(scores.count - 1, i + k)
        return scores[lo...hi].reduce(scores[i], criterion.worse)
    }
}

func argmax(_ p: UnsafeBufferPointer<Float>) -> Int { p.indices.max { p[$0] < p[$1] } ?? 0 }

extension EncodedExample {
    /// Each row's word (index into `queryPositions`), or -1 for [CLS], [SEP]
    /// and anything before the first word. Taken from `rowWords` when the
    /// encoder recorded it; otherwise a word runs from its first piece to the
    /// next word's, and the last row is the closing special token.
    func wordOfRow() -> [Int] {
        if rowWords.count == ids.count { return rowWords.map(Int.init) }
        var out = [Int](repeating: -1, count: ids.count)
        for (w, pos) in queryPositions.enumerated() {
            let end = w + 1 < queryPositions.count ? queryPositions[w + 1] : ids.count - 1
            for r in pos ..< max(pos + 1, end) where r < ids.count { out[r] = w }
        }
        return out
    }
}

extension ExitHead {
    /// Multiply-add FLOPs (×2) of this head on `input` (its queries and rows).
    public func flops(_ input: HeadInput) -> Double {
        let h = Double(hidden), n = Double(classes)
        let t = Double(input.rowCount), q = Double(input.queryCount)
        switch (settings.head, settings.task) {
        case (.linear, .classify): return q * 2 * (h * h + h * n)
        case (.linear, .label): return q * 2 * h * n
        case (.fastbert, _):
            let w = Double(settings.fastbertWidth)
            let attention = zip(input.queryCounts, input.lengths).reduce(0.0) { $0 + 2 * 2 * Double($1.0) * Double($1.1) * w }
            return t * 2 * (h * w + 3 * w * w) + attention + q * 2 * (2 * w * w + w * n)
        }
    }
}
