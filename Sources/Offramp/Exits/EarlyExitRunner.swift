import Foundation

// MARK: - Batched early exit: inputs leave the batch as they exit

/// One input's outcome.
public struct ExitResult: Sendable, Equatable {
    /// Index into the model's labels.
    public let label: Int
    public let probabilities: [Float]
    /// 1-based layer whose exit answered.
    public let exitLayer: Int
    /// Normalized entropy at every exit the input visited, in order.
    public let uncertainties: [Double]
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
    public var averageExitLayer: Double {
        results.isEmpty ? 0 : Double(results.reduce(0) { $0 + $1.exitLayer }) / Double(results.count)
    }
}

/// Runs a multi-exit sequence classifier with an exit policy over a stream of
/// inputs, `batchSize` at a time.
///
/// The inputs in flight form cohorts: sequences that entered together and
/// are at the same depth, packed in one buffer. Each tick runs every cohort
/// through its next layer (the same layer step as full depth, on that
/// cohort's active set), evaluates the exit there, and compacts the cohort
/// so the inputs that exited leave. Without `continuous`, a new batch is
/// admitted when the previous one is done; with it, new inputs join as soon
/// as a quarter of the slots are free (continuous batching across depth).
/// Each input's result equals running it alone: sequences never interact.
public final class EarlyExitRunner: @unchecked Sendable {
    public let model: MultiExitModel

    public init(model: MultiExitModel) throws {
        guard model.settings.task == .classify else {
            throw OfframpError("early exit for sequence classification needs a classify model; this one is for --task \(model.settings.task.rawValue)")
        }
        self.model = model
    }

    final class Cohort {
        var inputs: [Int]
        var lengths: [Int]
        let states: FloatBuffer
        var depth = 0
        var decisions: [ExitDecisionState]
        var uncertainties: [[Double]]

        init(inputs: [Int], lengths: [Int], width: Int) {
            self.inputs = inputs
            self.lengths = lengths
            states = FloatBuffer(count: lengths.reduce(0, +) * width)
            decisions = inputs.map { _ in ExitDecisionState() }
            uncertainties = inputs.map { _ in [] }
        }

        var starts: [Int] {
            var s: [Int] = [], acc = 0
            for n in lengths { s.append(acc); acc += n }
            return s
        }
    }

    /// Runs `examples` (their ids and type ids; labels are ignored) under `policy`.
    public func run(_ examples: [EncodedExample], policy: ExitPolicy, batchSize: Int = 32, continuous: Bool = false) throws -> ExitRun {
        guard batchSize > 0 else { throw OfframpError("batch size must be positive") }
        if case .budget(let k) = policy, !model.settings.exits.contains(k) {
            throw OfframpError("budget layer \(k) has no exit (exits: \(model.settings.exits))")
        }
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
            fullFlops += encoder.layerFlops(lengths: [e.ids.count]) * Double(lastLayer)
            fullFlops += headAt[lastLayer]!.flops(lengths: [e.ids.count])
        }
        let start = Date()
        var next = 0
        var cohorts: [Cohort] = []
        let logits = FloatBuffer(count: batchSize * n)
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
                let c = Cohort(inputs: take, lengths: batch.lengths, width: h)
                encoder.embed(batch, into: c.states.pointer)
                cohorts.append(c)
            }
            // One layer for every cohort.
            for c in cohorts {
                let starts = c.starts
                encoder.layerStep(c.depth, c.states.pointer, active: ActiveSet(starts: starts, lengths: c.lengths))
                flops += encoder.layerFlops(lengths: c.lengths)
                c.depth += 1
                guard let head = headAt[c.depth] else { continue }
                let s = c.inputs.count
                head.forward(c.states.pointer, input: .sequences(starts: starts, lengths: c.lengths), logits: logits.pointer,
                             workspace: model.workspace)
                flops += head.flops(lengths: c.lengths)
                var keep: [Int] = []
                for i in 0..<s {
                    let row = UnsafeMutableBufferPointer(start: logits.pointer + i * n, count: n)
                    softmaxInPlace(row.baseAddress!, count: n)
                    let p = UnsafeBufferPointer(row)
                    c.uncertainties[i].append(normalizedEntropy(p))
                    if policy.shouldExit(probabilities: p, layer: c.depth, isLast: c.depth == lastLayer, state: &c.decisions[i]) {
                        let label = p.indices.max { p[$0] < p[$1] } ?? 0
                        results[c.inputs[i]] = ExitResult(label: label, probabilities: Array(p), exitLayer: c.depth,
                                                          uncertainties: c.uncertainties[i])
                    } else {
                        keep.append(i)
                    }
                }
                if keep.count < s { compact(c, keeping: keep, starts: starts, width: h) }
            }
            cohorts.removeAll { $0.inputs.isEmpty }
        }
        return ExitRun(results: results.map { $0! }, flops: flops, fullDepthFlops: fullFlops,
                       seconds: Date().timeIntervalSince(start))
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
        c.decisions = keep.map { c.decisions[$0] }
        c.uncertainties = keep.map { c.uncertainties[$0] }
    }
}

extension ExitHead {
    /// Multiply-add FLOPs (×2) of this head on sequences of these lengths.
    public func flops(lengths: [Int]) -> Double {
        let h = Double(hidden), n = Double(classes), s = Double(lengths.count)
        let t = Double(lengths.reduce(0, +))
        switch (settings.head, settings.task) {
        case (.linear, .classify): return s * 2 * (h * h + h * n)
        case (.linear, .label): return t * 2 * h * n
        case (.fastbert, let task):
            let w = Double(settings.fastbertWidth)
            let q = task == .classify ? s : t
            let attention = lengths.reduce(0.0) { $0 + 2 * 2 * Double(task == .classify ? 1 : $1) * Double($1) * w }
            return t * 2 * (h * w + 3 * w * w) + attention + q * 2 * (2 * w * w + w * n)
        }
    }
}
