import ArgumentParser
import Foundation
import Offramp

// MARK: - offramp calibrate

extension CalibrationRisk: ExpressibleByArgument {}

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Choose the model's default exit policy on calibration data and save it in its config.json.",
        discussion: """
        With --delta D (Learn-then-Test, docs/methods.md#calibration): the fastest setting whose risk is at most \
        --max-drop points with probability at least 1 - D over the draw of the --dev examples; the guarantee is \
        saved with the policy. --risk consistency needs no labels (any unlabeled texts work); accuracy bounds \
        P(full depth right and the exit wrong); accuracy-drop bounds the accuracy drop itself (looser).
        With --delta none (the default): the fastest setting whose dev accuracy is within --max-drop points of \
        full depth, a point estimate with no guarantee.
        """)

    @OptionGroup var checkpoint: ModelOptions
    @Option(help: "Calibration file (labeled, or unlabeled texts for --risk consistency).") var dev: String
    @Option var test: String?
    @Option(help: "Largest drop allowed, in points (of accuracy; of entity F1 for BIO tags; with --delta, the bound on the risk).")
    var maxDrop: Double = 1.0
    @Option(help: "Learn-then-Test level delta in (0, 1), or none for the point estimate.") var delta: String = "none"
    @Option(help: "With --delta: consistency, accuracy or accuracy-drop (default: accuracy when --dev is labeled, else consistency).")
    var risk: CalibrationRisk?
    @Option(help: ArgumentHelp("Policies to try (\(defaultSweepPoliciesHelp)).")) var policies: String?
    @Option(help: "With --delta: per-family (each policy's settings one sequence, delta split over them), or speedup (one sequence by FLOPs speed-up).")
    var order: CandidateOrder = .perFamily
    @OptionGroup var batch: BatchOptions
    @OptionGroup var retentionOptions: RetentionOptions

    /// --delta as a number; nil: none (the point estimate).
    var level: Double? {
        get throws {
            if delta == "none" { return nil }
            guard let d = Double(delta), d > 0, d < 1 else { throw ValidationError("--delta must be a number in (0, 1) or none, got \(delta)") }
            return d
        }
    }

    func validate() throws {
        try requireNumber(maxDrop, "--max-drop", "in [0, 100] (points)") { (0...100).contains($0) }
        if try level == nil {
            try requireAbsent(risk, "--risk", "applies with --delta only (the point estimate compares accuracy)")
        } else {
            try require(maxDrop > 0 && maxDrop < 100,
                        "--max-drop with --delta is the bound on the risk in points and must be in (0, 100), got \(maxDrop)")
        }
    }

    func run() throws {
        let dir = checkpoint.directory
        let m = try checkpoint.load()
        let runner = try EarlyExitRunner(model: m)
        let grid = ExitSweep.policies(try sweepPolicyKinds(policies, for: m).map(\.name), layers: m.layerCount)
        let retention = try retentionOptions.resolve(m)
        var settings = m.settings
        // The elimination calibrated under is the one saved with the policy.
        switch retention {
        case .saved: break
        case .all:
            if settings.retention != nil { printError("--retention none: the saved PoWER-BERT configuration is removed from config.json") }
            settings.retention = nil
        case .configuration(let r):
            settings.retention = r.lengths
            settings.extractSelection = r.selection
        }
        if let d = try level {
            let (policy, guarantee) = try guaranteed(runner, grid: grid, delta: d, retention: retention)
            settings.policy = policy.encoded
            settings.guarantee = try guarantee?.jsonValue()
        } else {
            settings.policy = try pointEstimate(runner, grid: grid, retention: retention).encoded
            settings.guarantee = nil
        }
        var config = try BertConfig.load(from: dir.appendingPathComponent("config.json"))
        try settings.write(into: &config)
        try config.save(to: dir.appendingPathComponent("config.json"))
        print("saved \(settings.policy ?? "full") as the default policy in \(dir.appendingPathComponent("config.json").path)")
    }

    /// The fastest dev setting within --max-drop points of full depth (no guarantee).
    private func pointEstimate(_ runner: EarlyExitRunner, grid: [ExitPolicy], retention: WordVectorRetention) throws -> ExitPolicy {
        let m = runner.model, batchSize = batch.batchSize
        let devPoints = try ExitSweep.run(runner, examples: try loadLabeled(dev, model: m, maxLength: nil), policies: grid, batchSize: batchSize,
                                          retention: retention)
        guard let best = ExitSweep.calibrate(devPoints, maxDrop: maxDrop) else { throw OfframpError("no setting found") }
        print(String(format: "dev: full %.2f; chosen %@ at %.2f (%.2fx FLOPs, %.2fx wall, exit layer %.2f)",
                     100 * devPoints[0].score, best.exitPolicy.description, 100 * best.score, best.flopsSpeedup, best.wallSpeedup, best.averageExitLayer))
        try report(on: test, best.exitPolicy, retention: retention)
        return best.exitPolicy
    }

    /// Learn-then-Test on --dev: the fastest setting whose risk is at most
    /// --max-drop points with probability 1 - delta, and its guarantee.
    private func guaranteed(_ runner: EarlyExitRunner, grid: [ExitPolicy], delta: Double,
                            retention: WordVectorRetention) throws -> (ExitPolicy, CalibrationGuarantee?) {
        let m = runner.model
        let examples = try loadExamples(dev, task: m.settings.task, labels: LabelSet(m.labels), tokenizer: m.tokenizer,
                                        maxLength: m.settings.maxLength ?? 128, requireLabels: false)
        let labeled = examples.allSatisfy { $0.labels.allSatisfy { $0 >= 0 } }
        let risk = self.risk ?? (labeled ? .accuracy : .consistency)
        if risk.needsLabels && !labeled {
            throw UsageError("--risk \(risk.rawValue) needs labels, and \(dev) has unlabeled examples (use --risk consistency)")
        }
        let date = ISO8601DateFormatter().string(from: Date())
        let r = try LearnThenTest.calibrate(runner: runner, examples: examples, candidates: grid, risk: risk, eps: maxDrop / 100,
                                            delta: delta, batchSize: batch.batchSize, retention: retention, order: order, date: date,
                                            log: printError)
        if r.sequences.count > 1 {
            print(String(format: "%d sequences (one per policy family), each walked at delta %g / %d = %.4g",
                         r.sequences.count, delta, r.sequences.count, delta / Double(r.sequences.count)))
        }
        print("candidate                      FLOPs  exit layer   risk    p-value  passed")
        for (i, c) in r.candidates.enumerated() {
            if r.sequences.count > 1, let s = r.sequences.first(where: { $0.lowerBound == i }) {
                print("-- \(c.policy.calibrationFamily) (\(s.count) settings)")
            }
            let mark = i == r.chosen ? "  <- chosen" : (r.stops.contains(i) ? "  <- first failure: this walk stops" : "")
            let name = c.policy.description.padding(toLength: max(28, c.policy.description.count), withPad: " ", startingAt: 0)
            print(String(format: "%@ %6.2fx %8.2f %9.4f %10.3g  %@%@", name, c.flopsSpeedup, c.averageExitLayer,
                         c.test.empiricalRisk, c.test.pValue, c.test.passed ? "yes" : "no", mark))
        }
        if let smallest = r.smallestEps {
            print(String(format: "smallest bound these %d examples support at delta %g: %.2f points", r.n, delta, 100 * smallest))
        }
        guard let g = r.guarantee else {
            print("no setting passed: full depth stays the default (more calibration data or a larger --max-drop would help)")
            return (.full, nil)
        }
        print("guarantee: \(g.summary)")
        try report(on: test, r.policy, retention: retention)
        return (r.policy, g)
    }

    /// Accuracy of the chosen policy against full depth on --test, when given.
    private func report(on test: String?, _ policy: ExitPolicy, retention: WordVectorRetention) throws {
        guard let test else { return }
        let runner = try EarlyExitRunner(model: checkpoint.load())
        let points = try ExitSweep.run(runner, examples: try loadLabeled(test, model: runner.model, maxLength: nil), policies: [policy],
                                       batchSize: batch.batchSize, retention: retention)
        // With elimination the sweep puts "power" (elimination alone) before the policy.
        let last = points[points.count - 1]
        print(String(format: "test: full %.2f; %@ %.2f (%.2fx FLOPs, %.2fx wall, exit layer %.2f)", 100 * points[0].score,
                     policy.description, 100 * last.score, last.flopsSpeedup, last.wallSpeedup, last.averageExitLayer))
    }
}
