import Foundation

// MARK: - Did training learn anything? A check against the majority class

/// What a user should hear when a model came out no better than a constant.
public enum TrainingDiagnostics {
    /// The commonest gold label of `examples` (over their queries: inputs, or
    /// words for labeling) and the accuracy of always answering it; nil
    /// without labels.
    public static func majorityBaseline(_ examples: [EncodedExample]) -> (label: Int, accuracy: Double)? {
        var counts: [Int32: Int] = [:], total = 0
        for e in examples { for l in e.labels where l >= 0 { counts[l, default: 0] += 1; total += 1 } }
        // Ties go to the smaller label index, so the answer does not depend on dictionary order.
        guard total > 0, let top = counts.max(by: { ($0.value, -$0.key) < ($1.value, -$1.key) }) else { return nil }
        return (Int(top.key), Double(top.value) / Double(total))
    }

    /// A warning when the final exit's best dev accuracy over the epochs is
    /// within `margin` of the majority baseline of `dev`, else nil.
    public static func weakModelWarning(dev: [EncodedExample], finalExitAccuracies: [Double], labels: [String],
                                        margin: Double = 0.02) -> String? {
        guard let best = finalExitAccuracies.max(), let base = majorityBaseline(dev), base.label < labels.count,
              best < base.accuracy + margin else { return nil }
        return String(format: "warning: the final exit's best dev accuracy, %.2f, is within %g points of always answering \"%@\" (%.2f): "
                      + "the model has learned little. More epochs, a larger --lr or --head-lr, or --pooling mean for a sentence "
                      + "encoder may help (docs/cli.md#training has recipes that work).",
                      100 * best, 100 * margin, labels[base.label], 100 * base.accuracy)
    }
}
