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
    /// FLOPs this input spent: its share of every layer step and exit head it
    /// went through (a batch's cost splits exactly among its inputs), so the
    /// speed-up on any subset of a run's inputs needs no second run.
    public let flops: Double

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
        let stream = try ExitStream(runner: self, batchSize: batchSize, retention: retention)
        let policies = examples.indices.map(policyFor)
        var seen = Set<String>()
        for policy in policies where seen.insert(policy.encoded).inserted { try validate(policy) }
        for (i, e) in examples.enumerated() { try check(e, position: i + 1) }
        let fullFlops = examples.reduce(0.0) { $0 + fullDepthFlops($1) }
        var results = [ExitResult?](repeating: nil, count: examples.count)
        let start = Date()
        var next = 0
        while next < examples.count || stream.inFlight > 0 {
            let admit = continuous ? stream.shouldAdmit(waiting: examples.count - next) : stream.inFlight == 0
            if admit && next < examples.count {
                let take = next ..< min(next + stream.freeSlots, examples.count)
                next = take.upperBound
                stream.admit(take.map { ExitStream.Item(tag: $0, example: examples[$0], policy: policies[$0]) })
            }
            for (tag, result) in stream.step() { results[tag] = result }
        }
        return ExitRun(results: results.map { $0! }, flops: stream.flops, fullDepthFlops: fullFlops,
                       seconds: Date().timeIntervalSince(start))
    }

    /// Throws when `e` cannot run (empty, unknown ids, longer than the
    /// position table), naming it by its 1-based `position`.
    public func check(_ e: EncodedExample, position: Int) throws {
        if e.ids.isEmpty { throw OfframpError("input \(position) is empty") }
        do {
            try model.encoder.validate(PackedBatch(ids: [e.ids], typeIds: [e.typeIds]))
        } catch let error as OfframpError {
            throw OfframpError("input \(position): \(error.message)")
        }
    }

    /// FLOPs of `e` through every layer and the last exit: the cost early exit saves on.
    public func fullDepthFlops(_ e: EncodedExample) -> Double {
        let head = model.heads.last!
        let input = model.settings.task == .label ? ExampleBatch([e]).input
                                                   : .sequences(starts: [0], lengths: [e.ids.count])
        return model.encoder.layerFlops(lengths: [e.ids.count]) * Double(head.layer) + head.flops(input)
    }

    /// A policy must suit the model's task, and a budget layer must have an exit.
    public func validate(_ policy: ExitPolicy) throws {
        let task = model.settings.task
        guard ExitPolicy.names(for: task).contains(policy.name) else {
            let kind = task == .classify ? "classifies whole inputs" : "labels words"
            throw OfframpError("policy \(policy.name) does not apply: this model \(kind) (policies: \(ExitPolicy.names(for: task).joined(separator: ", ")))")
        }
        if case .budget(let k) = policy, !model.settings.exits.contains(k) {
            throw OfframpError("budget layer \(k) has no exit (exits: \(model.settings.exits))")
        }
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
