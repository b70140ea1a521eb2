import Foundation
import Offramp

// MARK: - Labeled files as encoded examples

/// Loads labeled data for a task as encoded examples.
func loadExamples(_ path: String, task: ExitTask, labels: LabelSet?, tokenizer: any TextTokenizer,
                  maxLength: Int, requireLabels: Bool = true) throws -> [EncodedExample] {
    let url = URL(fileURLWithPath: path)
    switch task {
    case .classify:
        let data = try ClassificationData.load(url, requireLabels: requireLabels)
        guard !data.isEmpty else { throw OfframpError("\(path): no examples") }
        let labeled = data.allSatisfy { $0.label != nil }
        return try ExampleEncoder.encode(data, labels: labeled ? labels : nil, tokenizer: tokenizer, maxLength: maxLength, file: path)
    case .label:
        let data = try TokenLabelData.load(url)
        guard !data.isEmpty, let labels else { throw OfframpError("\(path): no sentences") }
        return try ExampleEncoder.encode(data, labels: labels, tokenizer: tokenizer, maxLength: maxLength, file: path)
    }
}

/// The label set of a training file.
func collectLabels(_ path: String, task: ExitTask) throws -> LabelSet {
    let url = URL(fileURLWithPath: path)
    switch task {
    case .classify: return LabelSet.collect(try ClassificationData.load(url))
    case .label: return LabelSet.collect(try TokenLabelData.load(url))
    }
}

/// Labeled examples for a multi-exit model: its task, labels and tokenizer,
/// at `maxLength` (default: the length it was trained at, else 128).
func loadLabeled(_ path: String, model: MultiExitModel, maxLength: Int?) throws -> [EncodedExample] {
    try loadExamples(path, task: model.settings.task, labels: LabelSet(model.labels), tokenizer: model.tokenizer,
                     maxLength: maxLength ?? model.settings.maxLength ?? 128)
}
