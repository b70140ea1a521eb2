import Foundation

// MARK: - A BERT encoder with an exit head after every layer

/// The backbone and its exit heads, all in one parameter store (so training
/// has one flat parameter buffer and one gradient buffer), and the tokenizer.
///
/// A checkpoint is a directory: model.safetensors (backbone under HF's key
/// names, heads under "exits.<layer>.*"), config.json (the BERT config plus an
/// "offramp" section: `ExitSettings`), and the tokenizer files.
public final class MultiExitModel: @unchecked Sendable {
    public let directory: URL
    public private(set) var config: BertConfig
    public internal(set) var settings: ExitSettings
    public let store: ParameterStore
    public let encoder: BertEncoder
    /// heads[i] is the exit after layer settings.exits[i].
    public let heads: [ExitHead]
    public let tokenizer: any TextTokenizer
    let workspace = Workspace()
    /// The exit heads' inference buffers.
    let headScratch = HeadActivations(pass: .deterministic())

    public var labels: [String] { settings.labels }
    public var layerCount: Int { config.numHiddenLayers }

    /// Tokens per input at inference unless told otherwise: the training length, else 128.
    public var defaultMaxLength: Int { settings.maxLength ?? min(128, config.maxTokens) }

    /// The retention configuration a choice stands for (nil: no elimination).
    public func resolve(_ choice: WordVectorRetention) throws -> Retention? {
        switch choice {
        case .all: return nil
        case .configuration(let r):
            guard settings.task == .classify else { throw OfframpError("PoWER-BERT elimination applies to classification models only") }
            return r
        case .saved:
            return try settings.retention.map { try Retention($0, layers: layerCount, selection: settings.extractSelection ?? .attention) }
        }
    }

    /// The policy saved by `offramp calibrate`, else full depth.
    public func calibratedPolicy() throws -> ExitPolicy {
        try settings.policy.map { try ExitPolicy(encoded: $0, layers: layerCount) } ?? .full
    }

    static func specs(_ config: BertConfig, _ settings: ExitSettings) -> [(name: String, shape: [Int])] {
        BertEncoder.parameterSpecs(config)
            + settings.exits.flatMap { ExitHead.parameterSpecs(settings, hidden: config.hiddenSize, layer: $0) }
    }

    init(directory: URL, config: BertConfig, settings: ExitSettings, store: ParameterStore, hasPooler: Bool,
         tokenizer: any TextTokenizer, stored: QuantizedEncoderWeights? = nil) throws {
        self.directory = directory
        self.config = config
        self.settings = settings
        self.store = store
        self.tokenizer = tokenizer
        encoder = try BertEncoder(config: config, parameters: store, hasPooler: hasPooler, stored: stored)
        heads = settings.exits.map { ExitHead(store: store, settings: settings, hidden: config.hiddenSize, layer: $0) }
    }

    // MARK: Loading

    /// Loads a multi-exit checkpoint (a config.json with an "offramp" section),
    /// or a HF `BertForSequenceClassification` / `BertForTokenClassification`
    /// as a model with one exit, its fine-tuned head (`HuggingFaceHead`).
    /// `precision`: the encoder layers' products (the heads stay fp32); nil:
    /// the precision a quantized checkpoint was saved in, else fp32. A
    /// quantized checkpoint (`offramp quantize`) loads without fp32 layer weights.
    public static func load(directory: URL, precision: Precision? = nil) throws -> MultiExitModel {
        let configURL = directory.appendingPathComponent("config.json")
        let config = try BertConfig.load(from: configURL)
        let saved = try ExitSettings.read(from: config, file: configURL.path)
        let hf = saved == nil ? try HuggingFaceHead.settings(config, file: configURL.path) : nil
        guard let settings = saved ?? hf else {
            throw OfframpError("\(configURL.path): not a multi-exit model (no \"offramp\" section, and its architectures name no "
                + "\(config.family.classPrefix)ForSequenceClassification or \(config.family.classPrefix)ForTokenClassification); "
                + "train one with `offramp train`")
        }
        let file = try CheckpointWeights.open(directory: directory)
        let (store, stored) = try BertEncoder.store(specs: specs(config, settings), config: config, weights: file, file: configURL.path)
        // A HF classifier, or an exported directory (`exportHuggingFace`): the final exit under HF's
        // names (tried first, used only where the file has them), the other exits beside.
        let exitsURL = directory.appendingPathComponent(exportedExitsFile)
        let aliases = HuggingFaceHead.keyAliases(settings, family: config.family)
        let besides = FileManager.default.fileExists(atPath: exitsURL.path)
            ? Set(store.entries.map(\.name).filter { $0.hasPrefix("exits.") && aliases[$0] == nil }) : []
        let missing = try store.load(from: file, optional: besides.union(["pooler.dense.weight", "pooler.dense.bias"]), aliases: aliases)
        if !besides.isEmpty {
            try store.load(from: try SafeTensorsFile(url: exitsURL), optional: Set(store.entries.map(\.name)).subtracting(besides))
        }
        let model = try MultiExitModel(directory: directory, config: config, settings: settings, store: store,
                                       hasPooler: !missing.contains("pooler.dense.weight"), tokenizer: try Tokenizers.load(directory: directory),
                                       stored: stored)
        try model.encoder.prepare(precision: precision ?? model.encoder.precision)
        return model
    }

    /// A new multi-exit model from a pretrained encoder directory: backbone
    /// weights from the checkpoint, heads initialised as HF initialises linear
    /// layers (normal(0, initializer_range), zero bias); the last exit's pooler
    /// starts from the checkpoint's pooler when it has one.
    /// A linear sequence head's pooler activation defaults to the family's
    /// (`ModelFamily.headActivation`), so that the exits look like its HF head.
    public static func create(pretrained directory: URL, settings: ExitSettings, seed: UInt64) throws -> MultiExitModel {
        let configURL = directory.appendingPathComponent("config.json")
        var config = try BertConfig.load(from: configURL)
        var settings = settings
        if settings.task == .classify, settings.head(at: settings.exits.last ?? 0) == .linear, settings.poolerActivation == nil {
            settings.poolerActivation = HuggingFaceHead.defaultActivation(config.family)
        }
        if let saved = try SavedQuantization.read(from: config, file: configURL.path) {
            throw saved.needsFP32("training", path: directory.path)
        }
        try settings.validate(layers: config.numHiddenLayers, file: "settings")
        try settings.write(into: &config)
        let file = try CheckpointWeights.open(directory: directory)
        let specs = specs(config, settings)
        let store = ParameterStore(specs: specs)
        let headNames = Set(specs.map(\.name).filter { $0.hasPrefix("exits.") })
        let missing = try store.load(from: file, optional: headNames.union(["pooler.dense.weight", "pooler.dense.bias"]))
        var rng = SeededRandom(seed: seed)
        let std = Float(config.initializerRange)
        for e in store.entries where headNames.contains(e.name) {
            let p = store[e.name]
            if e.name.hasSuffix(".bias") { p.update(repeating: 0, count: e.count) } else {
                for i in 0..<e.count { p[i] = rng.nextNormal() * std }
            }
        }
        let hasPooler = !missing.contains("pooler.dense.weight")
        // A fine-tuned HF classifier with these labels: its head becomes the last exit (the teacher of distillation).
        if let hf = try HuggingFaceHead.settings(config, file: configURL.path), hf.task == settings.task, hf.labels == settings.labels,
           let last = settings.exits.last, last == config.numHiddenLayers,
           settings.head(at: last) == .linear, settings.pooling(at: last) == .cls,
           settings.poolerActivation == hf.poolerActivation {
            let aliases = HuggingFaceHead.keyAliases(settings, family: config.family)
            for (name, stored) in aliases where file.tensors[stored] != nil {
                try file.readFloats(stored, into: UnsafeMutableBufferPointer(start: store[name], count: store.entry(name)!.count))
            }
            return try MultiExitModel(directory: directory, config: config, settings: settings, store: store,
                                      hasPooler: hasPooler, tokenizer: try Tokenizers.load(directory: directory))
        }
        if hasPooler, settings.head == .linear, settings.task == .classify, let last = settings.exits.last,
           last == config.numHiddenLayers {
            store["exits.\(last).pooler.weight"].update(from: store["pooler.dense.weight"], count: config.hiddenSize * config.hiddenSize)
            store["exits.\(last).pooler.bias"].update(from: store["pooler.dense.bias"], count: config.hiddenSize)
        }
        return try MultiExitModel(directory: directory, config: config, settings: settings, store: store,
                                  hasPooler: hasPooler, tokenizer: try Tokenizers.load(directory: directory))
    }

    // MARK: Saving

    /// An error when the model was loaded from a quantized checkpoint, whose
    /// layers hold no fp32 weights: what saving, export and training need.
    public func requireFP32Weights(_ what: String) throws {
        if let saved = encoder.savedQuantization { throw saved.needsFP32(what, path: directory.path) }
    }

    /// The tokenizer files copied along with a checkpoint.
    static let tokenizerFiles = ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]

    /// Writes the checkpoint to `out`, replacing it whole: files go to a
    /// temporary sibling directory which is then swapped in, so a crash
    /// leaves either the old checkpoint or the new one. `extraFiles` (name,
    /// bytes) are written alongside (the trainer's state); `step`, the
    /// training steps taken, goes into model.safetensors' metadata.
    public func save(to out: URL, trainingMode: String? = nil, step: Int? = nil, extraFiles: [(String, Data)] = []) throws {
        try requireFP32Weights("saving the whole model")
        try replaceDirectoryAtomically(out) { tmp in
            let fm = FileManager.default
            var writer = SafeTensorsWriter()
            for e in store.entries {
                try writer.add(e.name, shape: e.shape, floats: UnsafeBufferPointer(start: store[e.name], count: e.count))
            }
            writer.metadata = ["format": "pt", "producer": "offramp"]
            if let step { writer.metadata["offramp_step"] = String(step) }
            try writer.write(to: tmp.appendingPathComponent("model.safetensors"))
            var cfg = config
            var s = settings
            if let trainingMode { s.trainingMode = trainingMode }
            try s.write(into: &cfg)
            try cfg.save(to: tmp.appendingPathComponent("config.json"))
            for name in Self.tokenizerFiles {
                let src = directory.appendingPathComponent(name)
                if fm.fileExists(atPath: src.path), src.standardizedFileURL != tmp.appendingPathComponent(name).standardizedFileURL {
                    try fm.copyItem(at: src, to: tmp.appendingPathComponent(name))
                }
            }
            for (name, data) in extraFiles { try writeAtomically(data, to: tmp.appendingPathComponent(name)) }
        }
    }
}
