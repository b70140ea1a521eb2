import Foundation

// MARK: - Defaults a new user meets, chosen from what the results show

/// The settings `offramp train` takes when none are given, each with the
/// reason it prints. Tried with the old fixed defaults (3 epochs, [CLS]
/// pooling), WSJ POS (850 sentences: 78 steps) reached 39.8% at the final
/// exit where the recipe's 10 epochs reach 94%, and MiniLM-L6's [CLS] exits
/// 1-3 stayed at chance on MR where mean-pooled ones give the main job's
/// results (issue 18, item 7).
public enum TrainingDefaults {
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
