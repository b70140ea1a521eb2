import ArgumentParser
import Offramp

// MARK: - --data and --max-length: a labeled file to score a model on

/// The labeled file eval and sweep score a model on, and how long its inputs may be.
struct LabeledDataOptions: ParsableArguments {
    @Option(help: "Labeled file.") var data: String
    @Option(help: "Maximum tokens per input (default: the model's training length).") var maxLength: Int?

    func validate() throws {
        if let maxLength { try requireCount(maxLength, "--max-length", in: 2...(1 << 16)) }
    }

    func examples(for model: MultiExitModel) throws -> [EncodedExample] {
        if let maxLength, maxLength > model.config.maxTokens {
            throw UsageError("--max-length \(maxLength) is more than the model's \(model.config.maxTokensDescription)")
        }
        return try loadLabeled(data, model: model, maxLength: maxLength)
    }
}
