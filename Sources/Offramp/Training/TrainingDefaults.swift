import Foundation

// MARK: - Defaults a new user meets, chosen from what the results show

/// The settings `offramp train` takes when none are given, each with the
/// reason it prints. Tried with the old fixed defaults (3 epochs, [CLS]
/// pooling), WSJ POS (850 sentences: 78 steps) reached 39.8% at the final
/// exit where the recipe's 10 epochs reach 94%, and MiniLM-L6's [CLS] exits
/// 1-3 stayed at chance on MR where mean-pooled ones give the main job's
/// results (issue 18, item 7).
public enum TrainingDefaults {
    /// The exit heads' learning rate, as a multiple of the backbone's, when
    /// `--head-lr` is not given: new heads start from random weights while
    /// the backbone is pretrained. Measured with bench/defaults.sh (every
    /// other option at its default, 2026-12-06): 10x against 1x gave MR
    /// 86.96 against 86.48 at the final exit (exit 1: 78.26 against 72.68)
    /// and WSJ POS 94.85 against 93.38 (exit 1: 89.94 against 65.34).
    public static let headLearningRateFactor: Float = 10

    /// Whether `mode` takes `headLearningRateFactor` by default: the modes
    /// that train new heads beside the backbone. Distillation scales its
    /// students' rate by its own factor (--distill-lr-factor) already.
    public static func scalesHeadLearningRate(_ mode: TrainingMode) -> Bool {
        switch mode {
        case .distill, .twoStage: false
        default: true
        }
    }

    /// Optimizer steps a default run aims at: the number the MR main job
    /// takes in its 3 epochs (8,454 sentences at batch 32: 795).
    public static let targetSteps = 800
    /// Default epochs are kept in this range (small sets get more epochs;
    /// `--keep best` keeps the best dev epoch, so extra epochs cost time, not accuracy).
    public static let epochRange = 3...30

    /// Epochs for `examples` at `batchSize`: the nearest to `targetSteps`
    /// steps, within `epochRange`.
    public static func epochs(examples: Int, batchSize: Int) -> Int {
        let stepsPerEpoch = max(1, (examples + max(1, batchSize) - 1) / max(1, batchSize))
        let wanted = Int((Double(targetSteps) / Double(stepsPerEpoch)).rounded())
        return min(max(wanted, epochRange.lowerBound), epochRange.upperBound)
    }

    /// The pooling a checkpoint was trained for: a sentence-transformers
    /// directory says it in 1_Pooling/config.json (`pooling_mode_mean_tokens`
    /// or `pooling_mode_cls_token`); nil when it does not say (a plain BERT,
    /// whose [CLS] the pre-training's pooler reads). A file there that is not
    /// a JSON object is an error naming it, not a silent [CLS].
    public static func pooling(ofCheckpoint directory: URL) throws -> (pooling: HeadPooling, reason: String)? {
        let file = directory.appendingPathComponent("1_Pooling/config.json")
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        guard let data = try? Data(contentsOf: file),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw OfframpError("\(file.path): not a readable JSON object (sentence-transformers' pooling settings)")
        }
        if object["pooling_mode_mean_tokens"] as? Bool == true {
            return (.mean, "the checkpoint's sentence-transformers pooling: 1_Pooling/config.json sets pooling_mode_mean_tokens")
        }
        if object["pooling_mode_cls_token"] as? Bool == true {
            return (.cls, "the checkpoint's sentence-transformers pooling: 1_Pooling/config.json sets pooling_mode_cls_token")
        }
        return nil
    }
}
