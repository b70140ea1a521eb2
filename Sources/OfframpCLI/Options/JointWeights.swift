import ArgumentParser

// MARK: - --weights

/// How joint training weighs each exit's loss (`offramp train --weights`).
enum JointWeights: String, CaseIterable, ExpressibleByArgument {
    /// w_l = l: deeper exits count more (DeeBERT's and PABEE's choice).
    case layer
    /// Every exit the same.
    case uniform

    /// The library's switch (`TrainingOptions.layerWeighted`).
    var isLayerWeighted: Bool { self == .layer }
}
