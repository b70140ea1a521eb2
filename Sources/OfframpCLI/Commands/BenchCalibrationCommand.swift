import ArgumentParser
import Foundation
import Offramp

// MARK: - offramp bench calibration

extension CandidateOrder: ExpressibleByArgument {}

/// Learn-then-Test's validity and price on real data: random
/// calibration/evaluation splits of a pooled labeled set.
struct BenchCalibrationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibration",
        abstract: "Validity and price of calibration with a guarantee over random calibration/evaluation splits.",
        discussion: """
        Runs the model once per candidate on the pooled --data files, then, for each of --splits random \
        splits (half for calibration, the rest for evaluation), calibrates with Learn-then-Test and with the \
        point estimate (--delta none) for every --risks x --eps x --delta, and measures the chosen settings on \
        the evaluation part: how often their risk exceeds eps (the guarantee: at most about delta), and their \
        FLOPs speed-up. Then, at --size-eps and --size-delta, the median speed-up as the calibration set grows \
        (--sizes). FLOPs only: the figures do not depend on the machine. Writes OUT/validity.md, \
        OUT/validity.jsonl and OUT/validity.svg.
        """)

    @OptionGroup var checkpoint: ModelOptions
    @Option(help: "Labeled files, comma-separated, pooled.") var data: String
    @Option(help: ArgumentHelp("Policies (\(defaultSweepPoliciesHelp)).")) var policies: String?
    @Option(help: "TOKEE window half-widths, comma-separated (default 0,1,2,4).") var windows: String?
    @Option(help: "Random splits.") var splits = 1000
    @Option(help: "Bounds in points, comma-separated.") var eps = "0.5,1,2"
    @Option(help: "Levels, comma-separated.") var delta = "0.05,0.1"
    @Option(help: "Risks, comma-separated (consistency, accuracy, accuracy-drop).") var risks = "consistency,accuracy"
    @Option(help: "Candidate order: per-family, speedup or given.") var order: CandidateOrder = .perFamily
    @Option(help: "Calibration sizes for the price curve, comma-separated (default: 10%, 20%, ..., 90% of the pool).") var sizes: String?
    @Option(help: "Splits per size of the price curve.") var sizeSplits = 200
    @Option(help: "Bound of the price curve, in points.") var sizeEps = 1.0
    @Option(help: "Level of the price curve.") var sizeDelta = 0.05
    @Flag(help: "Read only the texts (words) of --data, not their labels: risk consistency only, on text from anywhere.")
    var ignoreLabels = false
    @Option(help: "Output folder.") var out: String
    @OptionGroup var batch: BatchOptions
    @OptionGroup var retentionOptions: RetentionOptions

    func validate() throws {
        guard splits > 0 else { throw ValidationError("--splits must be positive, got \(splits)") }
        guard sizeSplits > 0 else { throw ValidationError("--size-splits must be positive, got \(sizeSplits)") }
        guard sizeEps > 0, sizeEps < 100 else { throw ValidationError("--size-eps must be in (0, 100) points, got \(sizeEps)") }
        guard sizeDelta > 0, sizeDelta < 1 else { throw ValidationError("--size-delta must be in (0, 1), got \(sizeDelta)") }
    }

    func run() throws {
        let epsList: [Double] = try parseList(eps, option: "--eps", valid: { $0 > 0 && $0 < 100 }, range: "a bound in (0, 100) points")
        let deltas: [Double] = try parseList(delta, option: "--delta", valid: { $0 > 0 && $0 < 1 }, range: "a level in (0, 1)")
        let riskList = try risks.split(separator: ",").map { name -> CalibrationRisk in
            guard let r = CalibrationRisk(rawValue: String(name)) else {
                throw UsageError("--risks: unknown risk \"\(name)\" (known: consistency, accuracy, accuracy-drop)")
            }
            return r
        }
        if ignoreLabels, let r = riskList.first(where: \.needsLabels) {
            throw UsageError("--risks \(r.rawValue) needs labels, which --ignore-labels leaves out (use --risks consistency)")
        }
        let m = try checkpoint.load()
        let names = (policies ?? defaultSweepPolicies(m)).split(separator: ",").map(String.init)
        let known = ExitPolicy.names(for: m.settings.task).filter { $0 != "full" }
        for n in names where !known.contains(n) {
            throw UsageError("--policies: \"\(n)\" does not apply to this model (\(m.settings.task.rawValue); known: \(known.joined(separator: ", ")))")
        }
        let ks: [Int]? = try windows.map { try parseList($0, option: "--windows", valid: { $0 >= 0 }, range: "a window half-width (0 or more)") }
        let grid = ExitSweep.policies(names, layers: m.layerCount, windows: ks)
        var examples: [EncodedExample] = []
        for path in data.split(separator: ",").map(String.init) {
            examples += try ignoreLabels ? loadTexts(path, model: m) : loadLabeled(path, model: m, maxLength: nil)
        }
        let sizeList: [Int] = try sizes.map { try parseList($0, option: "--sizes", valid: { $0 > 0 && $0 < examples.count },
                                                           range: "a calibration size below the pool's \(examples.count) examples") }
            ?? (1...9).map { examples.count * $0 / 10 }

        let outDir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)
        printError("measuring \(grid.count) candidates on \(examples.count) examples")
        let measured = try CalibrationMeasurements.measure(runner: try EarlyExitRunner(model: m), examples: examples,
                                                           candidates: grid, batchSize: batch.batchSize,
                                                           retention: try retentionOptions.resolve(m), log: printError)
        let half = examples.count / 2
        var targets: [CalibrationValidity.Target] = [], tooSmall: [String] = []
        for r in riskList {
            for e in epsList {
                for d in deltas {
                    let needed = LearnThenTest.minimumExamples(candidates: measured.candidates, test: r.test(for: m.settings.task), eps: e / 100, delta: d, order: order)
                    if needed <= half { targets.append(CalibrationValidity.Target(risk: r, eps: e / 100, delta: d)) }
                    else { tooSmall.append("\(r.rawValue) at eps \(e) points, delta \(d): needs at least \(needed) calibration examples, a split has \(half)") }
                }
            }
        }
        tooSmall.forEach { printError("skipped: \($0)") }
        let outcomes = try CalibrationValidity.run(measured, targets: targets, splits: splits, calibrationSize: half, order: order) { s in
            if s % 100 == 0 { printError("validity: split \(s)/\(splits)") }
        }

        var md = validityTable(outcomes, pool: examples.count, candidates: grid.count)
        if !tooSmall.isEmpty { md += "\nNot run (no setting can pass with this many examples):\n" + tooSmall.map { "- \($0)\n" }.joined() }
        var priceRows: [(size: Int, outcomes: [CalibrationValidity.Outcome])] = []
        for size in sizeList {
            let sized = riskList.map { CalibrationValidity.Target(risk: $0, eps: sizeEps / 100, delta: sizeDelta) }
            guard sized.allSatisfy({ LearnThenTest.minimumExamples(candidates: measured.candidates, test: $0.risk.test(for: m.settings.task), eps: $0.eps,
                                                                   delta: $0.delta, order: order) <= size }) else {
                printError("price: calibration size \(size) is too small for any setting to pass; skipped")
                continue
            }
            priceRows.append((size, try CalibrationValidity.run(measured, targets: sized, splits: sizeSplits, calibrationSize: size, order: order)))
            printError("price: calibration size \(size) done")
        }
        md += "\n" + priceTable(priceRows, risks: riskList, measured: measured)
        print(md)
        try writeAtomically(Data(md.utf8), to: outDir.appendingPathComponent("validity.md"))
        let lines = outcomes.map(jsonLine) + priceRows.flatMap { $0.outcomes.map(jsonLine) }
        try writeAtomically(Data((lines.joined(separator: "\n") + "\n").utf8), to: outDir.appendingPathComponent("validity.jsonl"))
        try writeAtomically(Data(plot(outcomes, risks: riskList, eps: epsList, deltas: deltas).render().utf8),
                            to: outDir.appendingPathComponent("validity.svg"))
        printError("written: \(out)/validity.md, validity.jsonl, validity.svg")
    }

    /// The texts (words) of a file, without its labels.
    func loadTexts(_ path: String, model m: MultiExitModel) throws -> [EncodedExample] {
        let maxLength = m.settings.maxLength ?? 128
        switch m.settings.task {
        case .classify:
            return try loadExamples(path, task: .classify, labels: nil, tokenizer: m.tokenizer, maxLength: maxLength, requireLabels: false)
        case .label:
            return try TokenLabelData.load(URL(fileURLWithPath: path)).map {
                ExampleEncoder.wordExample(try m.tokenizer.encode(words: $0.words, maxLength: maxLength), labels: nil).example
            }
        }
    }

    // MARK: - Tables

    func validityTable(_ outcomes: [CalibrationValidity.Outcome], pool: Int, candidates: Int) -> String {
        let q = CalibrationValidity.quantile
        var lines = [
            "Validity over \(splits) random splits of \(pool) examples (calibration \(pool / 2), evaluation \(pool - pool / 2)); "
                + "\(candidates) candidates, order \(order.rawValue). Risks and bounds in points.",
            "",
            "| risk | eps | delta | guaranteed: P(eval risk > eps) | (accuracy drop > eps) | point estimate: P(eval risk > eps) "
                + "| guaranteed speed-up median / 10th pct | point-estimate speed-up median / 10th pct |",
            "|---|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for o in outcomes {
            let g = o.splits.map(\.guaranteedSpeedup), p = o.splits.map(\.pointSpeedup)
            lines.append(String(format: "| %@ | %g | %g | %.3f | %.3f | %.3f | %.2fx / %.2fx | %.2fx / %.2fx |",
                                o.target.risk.rawValue, 100 * o.target.eps, o.target.delta, o.guaranteedViolations,
                                o.guaranteedDropViolations, o.pointViolations, q(g, 0.5), q(g, 0.1), q(p, 0.5), q(p, 0.1)))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func priceTable(_ rows: [(size: Int, outcomes: [CalibrationValidity.Outcome])], risks: [CalibrationRisk],
                    measured: CalibrationMeasurements) -> String {
        let q = CalibrationValidity.quantile
        var lines = [
            String(format: "Guaranteed speed-up by calibration size, eps %g points, delta %g (%d splits each; median / 10th percentile):",
                   sizeEps, sizeDelta, sizeSplits),
            "",
            "| calibration examples | " + risks.map { "\($0.rawValue) median / 10th pct" }.joined(separator: " | ") + " |",
            "|--:|" + risks.map { _ in "--:|" }.joined(),
        ]
        for row in rows {
            let cells = row.outcomes.map { o -> String in
                let s = o.splits.map(\.guaranteedSpeedup)
                return String(format: "%.2fx / %.2fx", q(s, 0.5), q(s, 0.1))
            }
            lines.append("| \(row.size) | " + cells.joined(separator: " | ") + " |")
        }
        guard !rows.isEmpty else { return lines.joined(separator: "\n") + "\n\nEvery size was too small for any setting to pass.\n" }
        for (i, risk) in risks.enumerated() {
            let reached = rows.first { q($0.outcomes[i].splits.map(\.guaranteedSpeedup), 0.5) >= 2 }
            lines.append("")
            if let reached {
                lines.append("\(risk.rawValue): a median 2x first at \(reached.size) calibration examples.")
            } else if let losses = try? measured.losses(risk) {
                // Why not: the pooled risk of the settings that reach 2x.
                let fast = measured.candidates.indices.filter { measured.flopsSpeedup($0) >= 2 }
                let safest = fast.map { j in losses[j].reduce(0, +) / Double(measured.count) }.min()
                lines.append(safest.map { r in
                    String(format: "%@: no size up to %d reaches a median 2x; the safest setting at 2x or more has a pooled risk of %.2f points%@",
                           risk.rawValue, rows.last?.size ?? 0, 100 * r,
                           r >= sizeEps / 100 ? ", above the bound: no amount of calibration data certifies it." : ".")
                } ?? "\(risk.rawValue): no candidate reaches 2x on this pool.")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func jsonLine(_ o: CalibrationValidity.Outcome) -> String {
        let q = CalibrationValidity.quantile
        let g = o.splits.map(\.guaranteedSpeedup), p = o.splits.map(\.pointSpeedup)
        return String(format: "{\"risk\":\"%@\",\"eps\":%g,\"delta\":%g,\"calibration\":%d,\"splits\":%d,\"guaranteed_violations\":%.4f,"
                      + "\"guaranteed_drop_violations\":%.4f,\"point_violations\":%.4f,\"guaranteed_speedup_median\":%.4f,"
                      + "\"guaranteed_speedup_p10\":%.4f,\"point_speedup_median\":%.4f,\"point_speedup_p10\":%.4f}",
                      o.target.risk.rawValue, o.target.eps, o.target.delta, o.calibrationSize, o.splits.count, o.guaranteedViolations,
                      o.guaranteedDropViolations, o.pointViolations, q(g, 0.5), q(g, 0.1), q(p, 0.5), q(p, 0.1))
    }

    // MARK: - Plot

    /// Per risk, the evaluation risk against eps: Learn-then-Test's
    /// (1 - delta) quantile (below the eps line when the guarantee holds)
    /// and the point estimate's median and 90th percentile.
    func plot(_ outcomes: [CalibrationValidity.Outcome], risks: [CalibrationRisk], eps: [Double], deltas: [Double]) -> SVGPlot {
        var p = SVGPlot(title: "Evaluation risk of the calibrated setting over \(splits) splits (points)",
                        panels: risks.map { "risk: \($0.rawValue); x: eps (points)" }, yLabel: "evaluation risk (points)")
        for (panel, risk) in risks.enumerated() {
            let mine = outcomes.filter { $0.target.risk == risk }
            p.add(series: "eps (the bound)", panel: panel, points: eps.map { ($0, $0) })
            for d in deltas {
                let pts = mine.filter { $0.target.delta == d }.map { o in
                    (100 * o.target.eps, 100 * CalibrationValidity.quantile(o.splits.map(\.guaranteedRisk), 1 - d))
                }
                p.add(series: String(format: "LTT delta %g: %g%% quantile", d, 100 * (1 - d)), panel: panel, points: pts)
            }
            let point = mine.filter { $0.target.delta == deltas[0] }
            for (label, level) in [("median", 0.5), ("90% quantile", 0.9)] {
                p.add(series: "point estimate: \(label)", panel: panel, points: point.map { o in
                    (100 * o.target.eps, 100 * CalibrationValidity.quantile(o.splits.map(\.pointRisk), level))
                })
            }
        }
        p.legendWidth = 230
        p.xSuffix = ""
        return p
    }
}
