import Foundation

// MARK: - What a guarantee bounds: the risks (docs/methods.md#calibration)

/// The risk R(setting) a calibration keeps below eps, from per-query
/// outcomes: the exit's prediction, full depth's, and the gold label.
///
/// The guarantee is over the draw of the calibration *examples*, so each
/// example contributes one loss. For classification an example is one
/// query. For labeling it is the mean of its words' losses: words of one
/// sentence are not independent draws (SENTEE moves a whole sentence, a
/// hard sentence fails in many words), so a test that counted words as
/// independent would be too sure of itself. The labeling risk is therefore
/// the expected fraction of a sentence's words that are hurt, a loss in
/// [0, 1] tested with Hoeffding-Bentkus.
public enum CalibrationRisk: String, Sendable, Codable, CaseIterable {
    /// 1{exit prediction != full depth's}: needs no labels.
    case consistency
    /// The accuracy drop, bounded through 1{full depth correct and exit
    /// wrong}: its mean is at least the drop, so a guarantee on it holds
    /// for the drop, and for classification its exact binomial test is far
    /// tighter than the rescaled one below.
    case accuracy
    /// The accuracy drop itself, (full correct) - (exit correct) in [-1, 1],
    /// rescaled to [0, 1] with eps for Hoeffding-Bentkus. Credits exits
    /// that fix full depth's mistakes, at the price of a looser bound
    /// (roughly 2 log(1/delta) / eps^2 examples before any setting passes).
    case accuracyDrop = "accuracy-drop"

    public var needsLabels: Bool { self != .consistency }

    /// The test of the per-example losses for a task.
    public func test(for task: ExitTask) -> RiskTest {
        switch self {
        case .accuracyDrop: .signedHoeffdingBentkus
        case .consistency, .accuracy: task == .classify ? .binomial : .hoeffdingBentkus
        }
    }

    /// One query's loss.
    func loss(exit: Int, full: Int, gold: Int) -> Double {
        switch self {
        case .consistency: exit == full ? 0 : 1
        case .accuracy: full == gold && exit != gold ? 1 : 0
        case .accuracyDrop: (full == gold ? 1 : 0) - (exit == gold ? 1 : 0)
        }
    }

    // MARK: - Losses from a run

    /// One loss per example: the mean over its queries (an example without
    /// queries loses nothing). `gold` holds each example's labels, one per
    /// query (unused by consistency).
    public func exampleLosses(exit: [ExitResult], full: [ExitResult], gold: [[Int32]]) throws -> [Double] {
        try exampleLosses(exit: exit.map(\.labels), full: full.map(\.labels), gold: gold)
    }

    /// The same from each example's predicted labels, one per query.
    public func exampleLosses(exit: [[Int]], full: [[Int]], gold: [[Int32]]) throws -> [Double] {
        precondition(exit.count == full.count, "the runs cover different examples")
        if needsLabels { try Self.checkLabeled(gold, queries: full.map(\.count), risk: self) }
        return exit.indices.map { i in
            let e = exit[i], f = full[i]
            precondition(e.count == f.count, "example \(i + 1) has different queries in the two runs")
            guard !f.isEmpty else { return 0 }
            let total = f.indices.reduce(0.0) { sum, q in
                sum + loss(exit: e[q], full: f[q], gold: needsLabels ? Int(gold[i][q]) : -1)
            }
            return total / Double(f.count)
        }
    }

    /// Throws unless every query has a gold label (not -1), naming how many
    /// do not and where the first is.
    static func checkLabeled(_ gold: [[Int32]], queries: [Int], risk: CalibrationRisk) throws {
        var missing = 0, first: Int?
        for (i, count) in queries.enumerated() {
            let labels = i < gold.count ? gold[i] : []
            let unlabeled = labels.count == count ? labels.filter { $0 < 0 }.count : count
            if unlabeled > 0 { missing += unlabeled; first = first ?? i + 1 }
        }
        guard let first else { return }
        let total = queries.reduce(0, +)
        throw OfframpError("risk \(risk.rawValue) needs gold labels, but \(missing) of \(total) calibration queries are unlabeled "
            + "(label -1 or missing; the first in example \(first)); risk consistency needs none")
    }
}
