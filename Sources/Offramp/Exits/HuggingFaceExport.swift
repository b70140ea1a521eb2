import Foundation

// MARK: - Out to HF transformers: the final exit as a <Family>For*Classification

extension MultiExitModel {
    /// The file beside an exported model.safetensors holding the other exits
    /// (Offramp's names, `exits.<l>.*`); HF ignores it, Offramp reads it back.
    public static let exportedExitsFile = "offramp_exits.safetensors"

    /// Writes `out` (replaced whole, atomically) as a directory HF transformers
    /// loads as the model family's `...ForSequenceClassification` (classify)
    /// or `...ForTokenClassification` (label), e.g. `BertForSequenceClassification`:
    /// the encoder under the family's prefix and names (`bert.`, `roberta.`,
    /// DistilBERT's `distilbert.transformer...`), the final exit as the
    /// family's head (`HuggingFaceHead.keyAliases`), and config.json with
    /// `architectures`, `id2label`, `label2id`, `num_labels`. The lower exits go to `exportedExitsFile` and
    /// the "offramp" section stays in config.json, so `MultiExitModel.load`
    /// reads the directory back as the same multi-exit model.
    ///
    /// Only what HF can compute is exported: a linear final exit after the
    /// last layer, on [CLS] for sequences, with the family's head activation
    /// (the exits below it may be of any kind: they stay Offramp's). HF runs the whole
    /// model: no early exit, no PoWER-BERT elimination.
    public func exportHuggingFace(to out: URL) throws {
        try requireFP32Weights("export hf")
        guard let last = settings.exits.last, last == config.numHiddenLayers else {
            throw OfframpError("export hf: the last exit is after layer \(settings.exits.last ?? 0), HF's head reads layer \(config.numHiddenLayers)")
        }
        guard settings.head(at: last) == .linear else {
            throw OfframpError("export hf: this model's final exit is a FastBERT head, which HF's classifiers cannot compute (linear heads can)")
        }
        guard settings.task == .label || settings.pooling(at: last) == .cls else {
            throw OfframpError("export hf: this model's final exit pools the mean of the tokens; HF's pooler reads [CLS] (train with --pooling cls)")
        }
        let family = config.family
        if settings.task == .classify, (settings.poolerActivation ?? .tanh) != family.headActivation {
            throw OfframpError("export hf: this model's sequence heads use \((settings.poolerActivation ?? .tanh).rawValue) after the pooler; "
                + "\(family.classPrefix)ForSequenceClassification computes \(family.headActivation.rawValue)")
        }
        let aliases = HuggingFaceHead.keyAliases(settings, family: family)
        let arch = family.classPrefix + (settings.task == .classify ? "ForSequenceClassification" : "ForTokenClassification")
        try replaceDirectoryAtomically(out) { tmp in
            var model = SafeTensorsWriter(), exits = SafeTensorsWriter()
            for e in store.entries {
                let values = UnsafeBufferPointer(start: store[e.name], count: e.count)
                if let hf = aliases[e.name] {
                    try model.add(hf, shape: e.shape, floats: values)
                } else if e.name.hasPrefix("exits.") {
                    try exits.add(e.name, shape: e.shape, floats: values)
                } else if !e.name.hasPrefix("pooler.") {  // the encoder's own pooler: HF's is the exit's
                    try model.add(CheckpointKeys.huggingFace(e.name, family: family), shape: e.shape, floats: values)
                }
            }
            model.metadata = ["format": "pt", "producer": "offramp"]
            try model.write(to: tmp.appendingPathComponent("model.safetensors"))
            if settings.exits.count > 1 { try exits.write(to: tmp.appendingPathComponent(Self.exportedExitsFile)) }
            var cfg = config
            try settings.write(into: &cfg)
            cfg.extra["architectures"] = .array([.string(arch)])
            cfg.extra["id2label"] = .object(Dictionary(uniqueKeysWithValues: labels.enumerated().map { ("\($0)", .string($1)) }))
            cfg.extra["label2id"] = .object(Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, .number(Double($0))) }))
            cfg.extra["num_labels"] = .number(Double(labels.count))
            cfg.extra["problem_type"] = settings.task == .classify ? .string("single_label_classification") : nil
            try cfg.save(to: tmp.appendingPathComponent("config.json"))
            for name in Self.tokenizerFiles where FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path) {
                try FileManager.default.copyItem(at: directory.appendingPathComponent(name), to: tmp.appendingPathComponent(name))
            }
        }
    }
}
