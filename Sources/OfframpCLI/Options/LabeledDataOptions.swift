import ArgumentParser
import Offramp

// MARK: - --data and --max-length: a labeled file to score a model on

/// The labeled file eval and sweep score a model on, and how long its inputs may be.
struct LabeledDataOptions: ParsableArguments {
    @Option(help: "Labeled file.") var data: String
    @Option(help: "Maximum tokens per input (default: the model's training length).") var maxLength: Int?

    func examples(for model: MultiExitModel) throws -> [EncodedExample] {
        try loadLabeled(data, model: model, maxLength: maxLength)
    }
}
