import Foundation

// MARK: - A fine-tuned HF classifier's head as the final exit

/// HF transformers' `<Family>ForSequenceClassification` and
/// `<Family>ForTokenClassification` (BERT, RoBERTa, XLM-R, DistilBERT,
/// ELECTRA) as Offramp models with one exit, after the last layer, computing
/// what HF computes. For sequences every family's head is dense, an
/// activation and a linear layer on the first token ([CLS] or <s>), which is
/// exactly Offramp's linear head with [CLS] pooling: BERT's pooler (tanh) and
/// `classifier`, RoBERTa's and XLM-R's `classifier.dense` (tanh) and
/// `classifier.out_proj`, DistilBERT's `pre_classifier` (ReLU) and
/// `classifier`, ELECTRA's `classifier.dense` (GELU) and `classifier.out_proj`.
/// For tokens, `classifier` on every token, read at each word's first piece.
/// `id2label` gives the labels in id order. So `offramp eval` at full depth
/// reproduces the HF model, and training (distill, two-stage) adds exits
/// below the fine-tuned head.
enum HuggingFaceHead {
    /// The task of a HF class name of `family`, if it is one of its classifiers.
    static func task(_ architecture: String, family: ModelFamily) -> ExitTask? {
        switch architecture {
        case family.classPrefix + "ForSequenceClassification": return .classify
        case family.classPrefix + "ForTokenClassification": return .label
        default: return nil
        }
    }

    /// The classifier class names Offramp reads, for messages.
    static var supportedNames: String {
        ModelFamily.allCases.map { "\($0.classPrefix)ForSequenceClassification / ...ForTokenClassification" }.joined(separator: ", ")
    }

    /// The exit settings of a HF classifier's config.json, or nil when its
    /// `architectures` name none of its family's supported heads.
    static func settings(_ config: BertConfig, file: String) throws -> ExitSettings? {
        let names = config.extra["architectures"]?.arrayValue?.compactMap(\.stringValue) ?? []
        guard let arch = names.first(where: { task($0, family: config.family) != nil }),
              let task = task(arch, family: config.family) else { return nil }
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
        if task == .classify { settings.poolerActivation = defaultActivation(config.family) }
        settings.huggingFaceFinalExit = true
        // Inputs may be as long as the position table allows (BERT's 512, RoBERTa's 514 - 2).
        settings.maxLength = config.maxTokens
        try settings.validate(layers: config.numHiddenLayers, file: file)
        return settings
    }

    /// The pooler activation of `family`'s sequence head as ExitSettings holds it (nil: tanh).
    static func defaultActivation(_ family: ModelFamily) -> PoolerActivation? {
        family.headActivation == .tanh ? nil : family.headActivation
    }

    /// The HF names of the final exit's parameters in `family`'s classifiers, by Offramp's names.
    static func keyAliases(_ settings: ExitSettings, family: ModelFamily) -> [String: String] {
        let e = "exits.\(settings.exits.last!)."
        guard settings.task == .classify else { return [e + "classifier.weight": "classifier.weight", e + "classifier.bias": "classifier.bias"] }
        let (dense, out): (String, String)
        switch family {
        case .bert: (dense, out) = ("bert.pooler.dense", "classifier")
        case .roberta, .xlmRoberta, .electra: (dense, out) = ("classifier.dense", "classifier.out_proj")
        case .distilbert: (dense, out) = ("pre_classifier", "classifier")
        }
        return [e + "pooler.weight": dense + ".weight", e + "pooler.bias": dense + ".bias",
                e + "classifier.weight": out + ".weight", e + "classifier.bias": out + ".bias"]
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
