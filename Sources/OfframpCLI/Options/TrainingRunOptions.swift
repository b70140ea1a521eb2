import ArgumentParser
import Foundation
import Offramp

// MARK: - Files and optimizer settings of every training command

/// What train, power search and power retrain all take: the data, where the
/// checkpoint goes, and the optimizer's settings.
struct TrainingRunOptions: ParsableArguments {
    @Option(help: "Training file (.tsv/.csv/.jsonl for classify; CoNLL or word/TAG for label).") var train: String
    @Option(help: "Dev file, evaluated on every exit after each epoch.") var dev: String?
    @Option(help: "Test file, evaluated on every exit at the end.") var test: String?
    @Option(help: "Output checkpoint directory (written after every epoch it keeps).") var out: String
    @Flag(help: "Continue an unfinished run from its state in OUT.resume.") var resume = false
    @Option(help: "Which epoch --out holds: best (the best dev score of the final exit; without --dev, the last) or last.")
    var keep: CheckpointChoice = .best
    @Flag(help: "Also keep the optimizer state in --out (twice the weights; by default it lives in OUT.resume until the run finishes).")
    var keepOptimizerState = false
    @OptionGroup var batch: BatchOptions
    @Option(help: "Learning rate (AdamW).") var lr: Float = 3e-5
    @Option(help: "Learning rate of the exit heads (default: train: 10x --lr, except distill and two-stage; power: --lr).") var headLr: Float?
    @Option var seed: UInt64 = 42

    var outURL: URL { URL(fileURLWithPath: out) }

    func validate() throws {
        // Above 1, AdamW's steps are as large as the weights: the run diverges.
        try requireNumber(lr, "--lr", "in (0, 1]") { $0 > 0 && $0 <= 1 }
        if let headLr { try requireNumber(headLr, "--head-lr", "in (0, 1]") { $0 > 0 && $0 <= 1 } }
    }

    /// The library's training options for `mode` and `epochs`, with these settings.
    func options(mode: TrainingMode, epochs: Int) -> Offramp.TrainingOptions {
        var o = Offramp.TrainingOptions()
        o.mode = mode; o.epochs = epochs; o.batchSize = batch.batchSize
        o.learningRate = lr; o.headLearningRate = headLr; o.seed = seed
        o.keep = keep; o.keepOptimizerState = keepOptimizerState
        return o
    }

    /// The checkpoint a run starts from with --resume: OUT.resume (see `Trainer.resumeSource`).
    var resumeSource: URL { Trainer.resumeSource(for: outURL) }

    /// Trains, writing the checkpoint to --out after every epoch it keeps (resuming with --resume).
    func run(_ trainer: Trainer, train: [EncodedExample], dev: [EncodedExample]) throws {
        try trainer.run(train: train, dev: dev, out: outURL, resume: resume, log: printError)
    }
}
