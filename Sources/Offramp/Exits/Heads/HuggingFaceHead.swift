import Foundation

// MARK: - A fine-tuned HF classifier's head as the final exit

/// HF transformers' `BertForSequenceClassification` and
/// `BertForTokenClassification` as Offramp models with one exit, after the
/// last layer, computing what HF computes: for sequences the pooler
/// (dense + tanh on [CLS]) then `classifier`, which is exactly Offramp's
/// linear head with [CLS] pooling; for tokens `classifier` on every token,
/// read at each word's first piece. `id2label` gives the labels in id order.
/// So `offramp eval` at full depth reproduces the HF model, and training
/// (distill, two-stage) adds exits below the fine-tuned head.
enum HuggingFaceHead {
    static let architectures: [String: ExitTask] = [
        "BertForSequenceClassification": .classify, "BertForTokenClassification": .label,
    ]

    /// The exit settings of a HF classifier's config.json, or nil when its
    /// `architectures` name none of the supported heads.
    static func settings(_ config: BertConfig, file: String) throws -> ExitSettings? {
        let names = config.extra["architectures"]?.arrayValue?.compactMap(\.stringValue) ?? []
        guard let arch = names.first(where: { architectures[$0] != nil }), let task = architectures[arch] else { return nil }
        if task == .classify, let problem = config.extra["problem_type"]?.stringValue, problem != "single_label_classification" {
            throw OfframpError("\(file): problem_type \"\(problem)\" is not supported: Offramp's exits are single-label classifiers "
                + "(problem_type single_label_classification)")
        }
        guard let table = config.extra["id2label"]?.objectValue, !table.isEmpty else {
            throw OfframpError("\(file): \(arch) without id2label: the labels' names are needed")
        }
        var labels = [String?](repeating: nil, count: table.count)
        for (key, value) in table {
            guard let id = Int(key), (0..<table.count).contains(id), let name = value.stringValue else {
                throw OfframpError("\(file): id2label must map the ids 0..<\(table.count) to names; found \"\(key)\"")
            }
            labels[id] = name
        }
        var settings = ExitSettings(task: task, labels: labels.map { $0! }, head: .linear, pooling: .cls,
                                    exits: [config.numHiddenLayers], trainingMode: "hf:\(arch)")
        // Inputs may be as long as the position table (BERT's 512).
        settings.maxLength = config.maxPositionEmbeddings
        try settings.validate(layers: config.numHiddenLayers, file: file)
        return settings
    }

    /// The HF names of the final exit's parameters, by Offramp's names.
    static func keyAliases(_ settings: ExitSettings) -> [String: String] {
        let e = "exits.\(settings.exits.last!)."
        var aliases = [e + "classifier.weight": "classifier.weight", e + "classifier.bias": "classifier.bias"]
        if settings.task == .classify {
            aliases[e + "pooler.weight"] = "bert.pooler.dense.weight"
            aliases[e + "pooler.bias"] = "bert.pooler.dense.bias"
        }
        return aliases
    }
}

extension MultiExitModel {
    /// The exit settings of the HF `BertForSequenceClassification` /
    /// `BertForTokenClassification` saved in `directory` (task, `id2label`'s
    /// labels, one exit after the last layer), or nil when its config.json
    /// names neither. Training from such a directory with these labels keeps
    /// the fine-tuned head as the last exit.
    public static func huggingFaceClassifier(at directory: URL) throws -> ExitSettings? {
        let url = directory.appendingPathComponent("config.json")
        return try HuggingFaceHead.settings(try BertConfig.load(from: url), file: url.path)
    }
}
