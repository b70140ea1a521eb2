import Foundation

// MARK: - Inputs in flight: admit, step, collect

/// The state of a batched early-exit run between layer ticks: the inputs in
/// flight, grouped in cohorts, and the cost so far. `EarlyExitRunner.run`
/// drives one over a list; a server drives one over requests as they
/// arrive, admitting new inputs while earlier ones are still in the encoder
/// (continuous batching across depth).
///
/// Not thread-safe: one thread owns a stream (it uses the model's workspace).
public final class ExitStream {
    /// One input to run: `tag` comes back with its result.
    public struct Item {
        public let tag: Int
        public let example: EncodedExample
        public let policy: ExitPolicy
        public init(tag: Int, example: EncodedExample, policy: ExitPolicy) {
            self.tag = tag; self.example = example; self.policy = policy
        }
    }

    public let runner: EarlyExitRunner
    /// Most inputs in flight at once.
    public let batchSize: Int
    /// FLOPs spent so far (encoder layers and exit heads actually run).
    public private(set) var flops = 0.0
    /// Exit heads run so far, one per cohort and exit evaluated: a head no
    /// input's policy reads (`ExitPolicy.readsExit`) is not run.
    public private(set) var headRuns = 0
    public var inFlight: Int { cohorts.reduce(0) { $0 + $1.tags.count } }
    public var freeSlots: Int { batchSize - inFlight }

    /// Whether `waiting` inputs should join now (continuous batching): when
    /// the stream is empty, when a quarter of the slots are free (at least
    /// one), or when all that wait fit. Admitting on every freed slot would
    /// start many one-input cohorts; the quarter keeps cohorts large. The one
    /// rule of `EarlyExitRunner` and the server's batcher.
    public func shouldAdmit(waiting: Int) -> Bool {
        let free = freeSlots
        return waiting > 0 && free > 0 && (inFlight == 0 || free >= max(1, batchSize / 4) || waiting <= free)
    }

    private let elimination: Retention?
    private let labeling: Bool
    private let headAt: [Int: ExitHead]
    private let lastLayer: Int
    private var cohorts: [Cohort] = []
    private var logits = FloatBuffer(count: 0)

    /// Items must have passed `runner.check` and `runner.validate` (their policy).
    public init(runner: EarlyExitRunner, batchSize: Int, retention: WordVectorRetention = .saved) throws {
        guard batchSize > 0 else { throw OfframpError("batch size must be positive") }
        self.runner = runner
        self.batchSize = batchSize
        elimination = try runner.model.resolve(retention)
        labeling = runner.model.settings.task == .label
        headAt = Dictionary(uniqueKeysWithValues: runner.model.heads.map { ($0.layer, $0) })
        lastLayer = runner.model.heads.last!.layer
    }

    /// What the stream tracks for one input in flight.
    struct InputState {
        let policy: ExitPolicy
        var decision = ExitDecisionState()
        var uncertainties: [Double] = []
        /// Labeling: each word's first-piece position, and each row's word (-1: special token).
        var firstPieces: [Int] = []
        var rowWords: [Int] = []
        /// Per word: whether it has halted (its label and exit layer are then final).
        var halted: [Bool] = []
        var labels: [Int] = [], exitLayers: [Int] = [], probabilities: [[Float]] = []
        var running = 0
        /// FLOPs spent on this input so far: its share of every layer step and exit head.
        var flops = 0.0

        init(_ e: EncodedExample, policy: ExitPolicy, labeling: Bool) {
            self.policy = policy
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

    /// Sequences that entered together and are at the same depth, packed in one buffer.
    final class Cohort {
        var tags: [Int]
        var lengths: [Int]
        let states: FloatBuffer
        var depth = 0
        var state: [InputState]

        init(tags: [Int], lengths: [Int], width: Int, state: [InputState]) {
            self.tags = tags
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

    /// Embeds `items` as a new cohort at depth 0 (at most `freeSlots` of them).
    public func admit(_ items: [Item]) {
        guard !items.isEmpty else { return }
        precondition(items.count <= freeSlots, "admitting \(items.count) inputs with \(freeSlots) free slots")
        let batch = PackedBatch(ids: items.map(\.example.ids), typeIds: items.map(\.example.typeIds))
        let c = Cohort(tags: items.map(\.tag), lengths: batch.lengths, width: runner.model.config.hiddenSize,
                       state: items.map { InputState($0.example, policy: $0.policy, labeling: labeling) })
        runner.model.encoder.embed(batch, into: c.states.pointer)
        cohorts.append(c)
    }

    /// Runs every cohort through its next layer and exit; returns the inputs
    /// that left, with their results.
    public func step() -> [(tag: Int, result: ExitResult)] {
        let encoder = runner.model.encoder, h = runner.model.config.hiddenSize, n = runner.model.labels.count
        var finished: [(tag: Int, result: ExitResult)] = []
        for c in cohorts {
            let inputStarts = c.starts
            let activeSet = labeling ? queryingRows(c, starts: inputStarts) : ActiveSet(starts: inputStarts, lengths: c.lengths)
            let result = encoder.step(c.depth, c.states.pointer, active: activeSet, plan: elimination)
            flops += result.flops
            for (i, f) in result.sequenceFlops.enumerated() { c.state[i].flops += f }
            c.depth += 1
            c.lengths = result.layout.lengths
            let starts = c.starts
            guard let head = headAt[c.depth] else { continue }
            let isLast = c.depth == lastLayer
            // Full depth and budgets read few exits: the rest cost time and answer nothing.
            let reads = c.state.map { $0.policy.readsExit(layer: c.depth, isLast: isLast) }
            guard reads.contains(true) else { continue }
            let input = labeling ? allWords(c, starts: starts)
                                 : HeadInput.sequences(starts: starts, lengths: c.lengths)
            if logits.count < input.queryCount * n { logits = FloatBuffer(count: input.queryCount * n) }
            head.forward(c.states.pointer, input: input, logits: logits.pointer, activations: runner.model.headScratch, workspace: runner.model.workspace)
            // The head ran on every input of the cohort: each pays its share (in a cohort that mixes
            // policies, also one that does not read this exit).
            for (i, f) in head.sequenceFlops(input).enumerated() {
                c.state[i].flops += f
                flops += f
            }
            headRuns += 1
            var keep: [Int] = []
            var row = 0
            for i in c.tags.indices {
                let done: Bool
                if !reads[i] {
                    // As if the head had not run: a result never depends on the cohort's other inputs.
                    done = false
                    if labeling { row += input.queryCounts[i] }
                } else if labeling {
                    done = decideWords(&c.state[i], logits: logits.pointer + row * n, classes: n, layer: c.depth, isLast: isLast)
                    row += input.queryCounts[i]
                } else {
                    done = decideSequence(&c.state[i], logits: logits.pointer + i * n, classes: n, layer: c.depth, isLast: isLast)
                }
                if done {
                    let s = c.state[i]
                    finished.append((c.tags[i], ExitResult(labels: s.labels, labelProbabilities: s.probabilities,
                                                           exitLayers: s.exitLayers, exitLayer: c.depth, uncertainties: s.uncertainties,
                                                           flops: s.flops)))
                } else {
                    keep.append(i)
                }
            }
            if keep.count < c.tags.count { compact(c, keeping: keep, starts: starts, width: h) }
        }
        cohorts.removeAll { $0.tags.isEmpty }
        return finished
    }

    // MARK: Sequence classification

    /// Records the exit's distribution and asks the policy; true when the input leaves.
    private func decideSequence(_ s: inout InputState, logits: UnsafeMutablePointer<Float>, classes n: Int,
                                layer: Int, isLast: Bool) -> Bool {
        softmaxInPlace(logits, count: n)
        let p = UnsafeBufferPointer(start: logits, count: n)
        s.uncertainties.append(normalizedEntropy(p))
        guard s.policy.shouldExit(probabilities: p, layer: layer, isLast: isLast, state: &s.decision) else { return false }
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
    /// every neighbour j at the current layer l, as docs/methods.md#tokee and the reference
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
                             layer: Int, isLast: Bool) -> Bool {
        let words = s.firstPieces.count
        let criterion = s.policy.tokenCriterion
        var scores = [Double](repeating: 0, count: words)
        var sentenceEntropy = 0.0
        for w in 0..<words {
            softmaxInPlace(logits + w * n, count: n)
            let p = UnsafeBufferPointer(start: logits + w * n, count: n)
            scores[w] = criterion.score(p)
            if !s.halted[w] { sentenceEntropy = max(sentenceEntropy, normalizedEntropy(p)) }
        }
        if words > 0 { s.uncertainties.append(sentenceEntropy) }
        let halting = s.policy.haltingWords(scores: scores, layer: layer, isLast: isLast)
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
        c.tags = keep.map { c.tags[$0] }
        c.lengths = keep.map { c.lengths[$0] }
        c.state = keep.map { c.state[$0] }
    }
}
