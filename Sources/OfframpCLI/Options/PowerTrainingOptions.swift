import ArgumentParser
import Foundation
import Offramp

// MARK: - Options both PoWER-BERT training steps take

/// The model, data and training settings of `power search` and `power retrain`.
struct PowerTrainingOptions: ParsableArguments {
    @Option(help: "A trained multi-exit classification checkpoint (offramp train).") var model: String
    @OptionGroup var training: TrainingRunOptions
    @Option(help: "The loss: joint (every exit) or finetune (final exit).") var mode: PowerTrainingMode = .joint
    @Option var epochs: Int = 2
    @Option(help: "Maximum tokens per input (default: the model's).") var maxLength: Int?
    @Option(help: "attention (Attn-WS), attention-no-self, head (Head-WS) or random (Rand-WS); default: search attention, retrain the saved one.")
    var selection: ExtractSelection?

    func validate() throws {
        try requireCount(epochs, "--epochs", in: 1...10_000)
        if let maxLength { try requireCount(maxLength, "--max-length", in: 2...(1 << 16)) }
    }

    /// What a step trains: the model (from --out with --resume), the data
    /// encoded at the length used, and the training options.
    struct Prepared {
        let model: MultiExitModel
        let train: [EncodedExample], dev: [EncodedExample]
        var options: Offramp.TrainingOptions
        let length: Int
    }

    func prepare() throws -> Prepared {
        let m = try MultiExitModel.load(directory: training.resume ? training.resumeSource : URL(fileURLWithPath: model))
        guard m.settings.task == .classify else { throw UsageError("--model \(model): PoWER-BERT needs a classification model (--task classify)") }
        let length = maxLength ?? m.defaultMaxLength
        guard length <= m.config.maxTokens else {
            throw UsageError("--max-length \(length) is more than the model's \(m.config.maxTokensDescription)")
        }
        let train = try loadLabeled(training.train, model: m, maxLength: length)
        let dev = try training.dev.map { try loadLabeled($0, model: m, maxLength: length) } ?? []
        return Prepared(model: m, train: train, dev: dev, options: training.options(mode: mode.mode, epochs: epochs), length: length)
    }

    /// Trains, says where the configuration went, and scores --test with elimination.
    func finish(_ p: Prepared) throws {
        let m = p.model
        try training.run(Trainer(model: m, options: p.options), train: p.train, dev: p.dev)
        printError("retention configuration \(m.settings.retention.map { $0.map(String.init).joined(separator: ",") } ?? "-") saved in \(training.out)/config.json")
        if let test = training.test {
            let data = try loadLabeled(test, model: m, maxLength: p.length)
            let scores = try m.exitScores(data)
            print(Trainer.exitTable(m, scores.accuracy, title: "test (\(data.count) examples), word-vectors eliminated as configured"))
        }
    }
}
