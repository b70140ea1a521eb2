import ArgumentParser
import Offramp

// MARK: - --mode of the PoWER-BERT steps

/// The losses `power search` and `power retrain` train with: a subset of
/// `TrainingMode`, so --help and a wrong value list only these two.
enum PowerTrainingMode: String, CaseIterable, ExpressibleByArgument {
    /// Every exit's loss.
    case joint
    /// The final exit's loss.
    case finetune

    var mode: TrainingMode { self == .joint ? .joint : .finetune }
}
