import Foundation

// MARK: - The "offramp" section of a multi-exit checkpoint's config.json

/// What the exits predict.
public enum ExitTask: String, Codable, Sendable, CaseIterable {
    /// One label per input (sequence classification).
    case classify
    /// One label per word, predicted on its first piece (token classification).
    case label
}

/// The classifier after each layer (docs/methods.md#exit-heads).
public enum HeadKind: String, Codable, Sendable, CaseIterable {
    /// DeeBERT/PABEE: pooler dense+tanh, dropout, linear (token task: dropout, linear).
    case linear
    /// FastBERT student: linear(H→128)+tanh, 2-head self-attention at 128, then two linears.
    case fastbert
}

/// How a linear sequence head reduces a layer's token vectors to one.
public enum HeadPooling: String, Codable, Sendable, CaseIterable {
    /// The [CLS] vector (DeeBERT, PABEE).
    case cls
    /// The mean of the sequence's token vectors (sentence encoders like MiniLM).
    case mean
}

/// Everything Offramp adds to a BERT config.json, under the key "offramp".
public struct ExitSettings: Codable, Sendable, Equatable {
    public var task: ExitTask
    public var labels: [String]
    public var head: HeadKind
    public var pooling: HeadPooling
    /// The linear sequence head's activation after its pooler; nil: tanh
    /// (BERT's). A HF DistilBERT or ELECTRA classifier's head, and exits
    /// added to such a model, use their family's (`ModelFamily.headActivation`).
    public var poolerActivation: PoolerActivation?
    /// 1-based layers with an exit (default: every layer).
    public var exits: [Int]
    /// The final exit is a fine-tuned HF classifier's head (`HuggingFaceHead`:
    /// linear on [CLS], the family's activation), whatever `head` and
    /// `pooling` say of the exits below it. FastBERT's recipe keeps the
    /// teacher exactly as HF computes it, while the students distilled from
    /// it may pool the mean of the tokens or attend over them, which the
    /// shallow layers of a [CLS]-tuned model need (their [CLS] vectors
    /// still carry little of the sentence).
    public var huggingFaceFinalExit: Bool?
    /// The mode the checkpoint was last trained with (informational).
    public var trainingMode: String?
    /// Width of the FastBERT head.
    public var fastbertWidth: Int
    public var fastbertHeads: Int
    /// The maximum length the model was trained with (the default for inference).
    public var maxLength: Int?
    /// The default exit policy (`offramp calibrate` writes it), e.g. "entropy:0.3".
    public var policy: String?
    /// PoWER-BERT: word-vectors kept after each layer's attention (written
    /// by `offramp power search` / `retrain`; the default for inference).
    public var retention: [Int]?
    /// How those word-vectors are chosen (default: attention).
    public var extractSelection: ExtractSelection?
    /// The statistical guarantee `offramp calibrate --delta` proved for
    /// `policy` (risk, eps, delta, n, p-value, date; Calibration's
    /// `CalibrationGuarantee` as JSON), or nil for a point estimate.
    public var guarantee: JSONValue?

    public init(task: ExitTask, labels: [String], head: HeadKind = .linear, pooling: HeadPooling = .cls,
                exits: [Int], trainingMode: String? = nil) {
        self.task = task; self.labels = labels; self.head = head; self.pooling = pooling
        self.exits = exits; self.trainingMode = trainingMode
        fastbertWidth = 128; fastbertHeads = 2
    }

    enum CodingKeys: String, CodingKey {
        case task, labels, head, pooling, exits
        case poolerActivation = "pooler_activation"
        case huggingFaceFinalExit = "hf_final_exit"
        case trainingMode = "training_mode", fastbertWidth = "fastbert_width", fastbertHeads = "fastbert_heads"
        case maxLength = "max_length"
        case policy, retention
        case extractSelection = "extract_selection"
        case guarantee
    }

    /// Whether the exit after `layer` is the HF classifier's head (`huggingFaceFinalExit`).
    func isHuggingFaceHead(_ layer: Int) -> Bool { huggingFaceFinalExit == true && layer == exits.last }

    /// The kind of the exit after `layer`: `head`, but the HF head stays linear.
    public func head(at layer: Int) -> HeadKind { isHuggingFaceHead(layer) ? .linear : head }

    /// The pooling of the exit after `layer`: `pooling`, but the HF head reads [CLS].
    public func pooling(at layer: Int) -> HeadPooling { isHuggingFaceHead(layer) ? .cls : pooling }

    /// The kind (and for sequences the pooling) of the exits, for messages:
    /// "linear/mean heads", "linear/mean heads below the HF classifier's head (linear on [CLS])".
    public var headsDescription: String {
        let kind = task == .classify ? "\(head.rawValue)/\(pooling.rawValue)" : head.rawValue
        guard huggingFaceFinalExit == true else { return kind + " heads" }
        let hf = task == .classify ? "the HF classifier's head (linear on [CLS])" : "the HF classifier's head"
        return exits.count == 1 ? hf : "\(kind) heads below \(hf)"
    }

    /// Reads the section from a config's extra keys; nil when the config has none.
    public static func read(from config: BertConfig, file: String) throws -> ExitSettings? {
        guard let value = config.extra["offramp"] else { return nil }
        do {
            let data = try JSONEncoder().encode(value)
            let s = try JSONDecoder().decode(ExitSettings.self, from: data)
            try s.validate(layers: config.numHiddenLayers, file: file)
            if let m = s.maxLength, m > config.maxTokens {
                throw OfframpError("\(file): offramp.max_length \(m) is more than the model's \(config.maxTokensDescription)")
            }
            return s
        } catch let e as OfframpError {
            throw e
        } catch {
            throw OfframpError("\(file): the \"offramp\" section is malformed: \(error)")
        }
    }

    /// Writes the section into a config's extra keys.
    public func write(into config: inout BertConfig) throws {
        let data = try JSONEncoder().encode(self)
        config.extra["offramp"] = try JSONDecoder().decode(JSONValue.self, from: data)
    }

    public func validate(layers: Int, file: String) throws {
        guard labels.count >= 2 else { throw OfframpError("\(file): offramp.labels needs at least 2 labels, found \(labels.count)") }
        guard Set(labels).count == labels.count else { throw OfframpError("\(file): offramp.labels has duplicates") }
        guard !exits.isEmpty, exits.allSatisfy({ (1...layers).contains($0) }), exits == exits.sorted(), Set(exits).count == exits.count else {
            throw OfframpError("\(file): offramp.exits must be increasing layer numbers in 1...\(layers), got \(exits)")
        }
        guard fastbertWidth > 0, fastbertHeads > 0, fastbertWidth % fastbertHeads == 0 else {
            throw OfframpError("\(file): fastbert_width must be a positive multiple of fastbert_heads")
        }
        if poolerActivation != nil && (task != .classify || (head != .linear && huggingFaceFinalExit != true)) {
            throw OfframpError("\(file): offramp.pooler_activation applies to linear sequence heads only")
        }
        if let maxLength, maxLength < 2 {
            throw OfframpError("\(file): offramp.max_length must be at least 2 ([CLS] and [SEP]), got \(maxLength)")
        }
        // The policy is checked here, at load, so that predict, serve and
        // AdaptiveClassifier meet a clear error naming the file, not a bad
        // policy in the middle of a run.
        if let policy {
            let parsed: ExitPolicy
            do { parsed = try ExitPolicy(encoded: policy, layers: layers) } catch let e as OfframpError {
                throw OfframpError("\(file): offramp.policy: \(e.message)")
            }
            guard parsed.kind.applies(to: task) else {
                throw OfframpError("\(file): offramp.policy \"\(policy)\" does not apply to a \(task.rawValue) model")
            }
        }
        if let retention {
            do { _ = try Retention(retention, layers: layers) } catch let e as OfframpError { throw OfframpError("\(file): offramp.retention: \(e.message)") }
            guard task == .classify else { throw OfframpError("\(file): offramp.retention applies to classification models only") }
        }
    }
}
