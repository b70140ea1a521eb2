import Foundation

// MARK: - Every candidate on every calibration example, measured once

/// What Learn-then-Test needs of the model, run once: full depth's and each
/// candidate's predictions and FLOPs on every calibration example. Every
/// choice after that (`LearnThenTest.choose`) is arithmetic on these, over
/// all examples or any subset of them: the same code picks the setting that
/// `offramp calibrate` saves and the settings of the validity benchmark's
/// thousand random splits.
public struct CalibrationMeasurements: Sendable {
    public let task: ExitTask
    public let candidates: [ExitPolicy]
    /// Per example: gold labels, one per query (-1: unlabeled).
    public let gold: [[Int32]]
    /// Per example: full depth's prediction per query.
    public let full: [[Int]]
    /// Per example: the FLOPs of full depth (every layer, the last exit only).
    public let fullDepthFlops: [Double]
    /// Per candidate, per example: the prediction per query.
    public let predictions: [[[Int]]]
    /// Per candidate, per example: the FLOPs the example spent.
    public let flops: [[Double]]
    /// Per candidate, per example: the sum of its queries' exit layers.
    public let exitLayerSums: [[Int]]
    /// The PoWER-BERT elimination the candidates ran with (nil: none). Full
    /// depth, the reference of the risks and of the speed-ups, runs without.
    public let retention: Retention?

    public var count: Int { gold.count }
    /// Queries per example (1 for classification, words for labeling).
    public var queryCounts: [Int] { full.map(\.count) }

    /// Measurements made elsewhere (one array per example, per candidate and example).
    public init(task: ExitTask, candidates: [ExitPolicy], gold: [[Int32]], full: [[Int]], fullDepthFlops: [Double],
                predictions: [[[Int]]], flops: [[Double]], exitLayerSums: [[Int]], retention: Retention? = nil) {
        precondition(full.count == gold.count && fullDepthFlops.count == gold.count, "one entry per example")
        precondition(predictions.count == candidates.count && flops.count == candidates.count && exitLayerSums.count == candidates.count,
                     "one entry per candidate")
        self.task = task; self.candidates = candidates; self.gold = gold; self.full = full; self.fullDepthFlops = fullDepthFlops
        self.predictions = predictions; self.flops = flops; self.exitLayerSums = exitLayerSums
        self.retention = retention
    }

    /// Runs full depth and every candidate on `examples`. With word-vector
    /// elimination (`retention`, default: the model's saved configuration)
    /// the candidates are exits on top of it, with elimination alone (`.full`)
    /// first among them; full depth stays the model without elimination.
    public static func measure(runner: EarlyExitRunner, examples: [EncodedExample], candidates: [ExitPolicy],
                               batchSize: Int = 32, retention: WordVectorRetention = .saved,
                               log: (String) -> Void = { _ in }) throws -> CalibrationMeasurements {
        guard !candidates.isEmpty else { throw OfframpError("no candidate policies to calibrate") }
        for policy in candidates { try runner.validate(policy) }
        let elimination = try runner.model.resolve(retention)
        let candidates = elimination != nil && !candidates.contains(.full) ? [.full] + candidates : candidates
        let retention = elimination.map { WordVectorRetention.configuration($0) } ?? .all
        let full = try runner.run(examples, policy: .full, batchSize: batchSize, retention: .all)
        var predictions: [[[Int]]] = [], flops: [[Double]] = [], layers: [[Int]] = []
        for (j, policy) in candidates.enumerated() {
            log("candidate \(j + 1)/\(candidates.count): \(policy)")
            let run = try runner.run(examples, policy: policy, batchSize: batchSize, retention: retention)
            predictions.append(run.results.map(\.labels))
            flops.append(run.results.map(\.flops))
            layers.append(run.results.map { $0.exitLayers.reduce(0, +) })
        }
        return CalibrationMeasurements(task: runner.model.settings.task, candidates: candidates, gold: examples.map(\.labels),
                                       full: full.results.map(\.labels), fullDepthFlops: examples.map(runner.fullDepthFlops),
                                       predictions: predictions, flops: flops, exitLayerSums: layers, retention: elimination)
    }

    /// Per candidate, per example: the loss of `risk` (`CalibrationRisk.exampleLosses`).
    public func losses(_ risk: CalibrationRisk) throws -> [[Double]] {
        try predictions.map { try risk.exampleLosses(exit: $0, full: full, gold: gold) }
    }

    /// Candidate `j`'s FLOPs speed-up over the examples `subset` (all when nil).
    public func flopsSpeedup(_ j: Int, over subset: [Int]? = nil) -> Double {
        let indices = subset ?? Array(0..<count)
        let spent = indices.reduce(0.0) { $0 + flops[j][$1] }
        return indices.reduce(0.0) { $0 + fullDepthFlops[$1] } / max(spent, 1)
    }

    /// Candidate `j`'s mean exit layer over the queries of `subset` (all when nil).
    public func averageExitLayer(_ j: Int, over subset: [Int]? = nil) -> Double {
        let indices = subset ?? Array(0..<count)
        let queries = indices.reduce(0) { $0 + full[$1].count }
        return queries == 0 ? 0 : Double(indices.reduce(0) { $0 + exitLayerSums[j][$1] }) / Double(queries)
    }
}

extension ExitPolicy {
    /// The one-parameter family a policy's setting belongs to: thresholds
    /// (or patiences) of one family order from safest to fastest by
    /// themselves, so each family is one sequence for fixed-sequence testing.
    /// TOKEE's window and patience-confidence's patience split their grids.
    public var calibrationFamily: String {
        switch self {
        case .tokee(let k, _, let criterion): "tokee k=\(k) \(criterion)"
        case .sentee(_, let criterion): "sentee \(criterion)"
        case .patienceConfidence(let p, _): "patience-confidence p=\(p)"
        case .full: "elimination alone"
        default: name
        }
    }
}
