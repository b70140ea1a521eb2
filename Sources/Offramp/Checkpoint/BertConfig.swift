import Foundation

/// A Hugging Face encoder config (config.json) of the BERT family
/// (`ModelFamily`: BERT, RoBERTa, XLM-R, DistilBERT, ELECTRA), every field
/// with the defaults of that family's transformers config class, so a file
/// that omits a field means what it means to transformers. Fields carry
/// BERT's names here; DistilBERT's own (`dim`, `n_layers`...) are read and
/// written by `BertConfigJSON`.
///
/// Keys Offramp does not interpret (architectures, transformers_version, an
/// "offramp" section...) are kept in `extra` and written back by `save`.
public struct BertConfig: Sendable, Equatable {
    public var vocabSize = 30522
    public var hiddenSize = 768
    public var numHiddenLayers = 12
    public var numAttentionHeads = 12
    public var intermediateSize = 3072
    public var hiddenAct = "gelu"
    public var hiddenDropoutProb = 0.1
    public var attentionProbsDropoutProb = 0.1
    public var maxPositionEmbeddings = 512
    public var typeVocabSize = 2
    public var initializerRange = 0.02
    public var layerNormEps = 1e-12
    public var padTokenId = 0
    public var positionEmbeddingType = "absolute"
    public var useCache = true
    public var classifierDropout: Double? = nil
    /// `model_type`: which member of the family (written back as such).
    public var family: ModelFamily = .bert
    /// ELECTRA's embedding width, projected up to `hiddenSize`; nil: `hiddenSize`.
    public var embeddingSize: Int? = nil
    /// Every other key of the file, by its JSON name.
    public var extra: [String: JSONValue] = [:]

    public init() {}

    /// Per-head width. (0 rather than a trap when the head count is not
    /// positive; `validate` reports that case.)
    public var headDim: Int { numAttentionHeads > 0 ? hiddenSize / numAttentionHeads : 0 }

    /// The width of the embedding tables (ELECTRA's `embedding_size`, else H).
    public var embeddingWidth: Int { embeddingSize ?? hiddenSize }

    /// The position id of each sequence's first token (RoBERTa's padding_idx + 1, else 0).
    public var firstPosition: Int { family.firstPosition(padTokenId: padTokenId) }

    /// The most tokens an input may have: the position table's rows from `firstPosition` on
    /// (RoBERTa's 514 rows hold 512).
    public var maxTokens: Int { maxPositionEmbeddings - firstPosition }

    /// `maxTokens` as the messages that enforce it say it.
    public var maxTokensDescription: String {
        firstPosition == 0 ? "max_position_embeddings = \(maxPositionEmbeddings)"
            : "\(maxTokens) (max_position_embeddings \(maxPositionEmbeddings) from \(family.rawValue)'s first position \(firstPosition))"
    }

    /// The defaults of the family's transformers config class where they differ from BERT's.
    mutating func applyFamilyDefaults() {
        switch family {
        case .bert: break
        // dim 768, n_heads 12 and hidden_dim 3072 are BERT's; no token types (one row, never read).
        case .distilbert: numHiddenLayers = 6; typeVocabSize = 1
        case .roberta: vocabSize = 50265; padTokenId = 1
        case .xlmRoberta: padTokenId = 1
        case .electra: embeddingSize = 128; hiddenSize = 256; numAttentionHeads = 4; intermediateSize = 1024
        }
    }

    /// The activations the encoder implements, by their transformers names.
    public static let supportedActivations: Set<String> = ["gelu", "gelu_new", "gelu_pytorch_tanh", "relu"]

    // MARK: - Files

    /// Reads and validates a config.json. Errors name the file, and the field
    /// at fault.
    public static func load(from url: URL) throws -> BertConfig {
        // Foundation's error for a directory is an opaque "error 256".
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw OfframpError("\(url.path): is a directory, not a config.json file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            let reason = (error as NSError).localizedFailureReason ?? error.localizedDescription
            throw OfframpError("\(url.path): cannot read the config: \(reason)")
        }
        let config = try BertConfig(jsonData: data, file: url.path)
        try config.validate(file: url.path)
        return config
    }

    /// Writes `jsonData()` to `url` atomically.
    public func save(to url: URL) throws {
        let data: Data
        do {
            data = try jsonData()
        } catch let error as OfframpError {
            throw OfframpError("\(url.path): \(error.message)")
        }
        try writeAtomically(data, to: url)
    }

    // MARK: - Validation

    /// Checks that the encoder can be built from this config. `file` is named
    /// in the messages.
    public func validate(file: String) throws {
        func fail(_ field: String, _ problem: String) -> OfframpError {
            OfframpError("\(file): '\(field)' \(problem)")
        }
        let positive: [(String, Int)] = [
            ("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
            ("num_attention_heads", numAttentionHeads), ("intermediate_size", intermediateSize),
            ("max_position_embeddings", maxPositionEmbeddings), ("type_vocab_size", typeVocabSize),
        ]
        for (field, value) in positive where value <= 0 {
            throw fail(field, "must be positive, got \(value)")
        }
        if let e = embeddingSize, e <= 0 { throw fail("embedding_size", "must be positive, got \(e)") }
        if embeddingSize != nil && family != .electra {
            throw fail("embedding_size", "applies to ELECTRA only (model_type is \"\(family.rawValue)\")")
        }
        guard maxTokens >= 2 else {
            throw fail("max_position_embeddings", "(\(maxPositionEmbeddings)) leaves \(maxTokens) positions after \(family.rawValue)'s first position \(firstPosition); at least 2 are needed")
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw fail("hidden_size", "(\(hiddenSize)) must be divisible by num_attention_heads (\(numAttentionHeads))")
        }
        guard Self.supportedActivations.contains(hiddenAct) else {
            throw fail("hidden_act", "\"\(hiddenAct)\" is not supported (supported: \(Self.supportedActivations.sorted().joined(separator: ", ")))")
        }
        guard positionEmbeddingType == "absolute" else {
            throw fail("position_embedding_type", "\"\(positionEmbeddingType)\" is not supported (only \"absolute\")")
        }
        guard layerNormEps > 0, layerNormEps.isFinite else {
            throw fail("layer_norm_eps", "must be a positive number, got \(layerNormEps)")
        }
        // PyTorch's nn.Embedding requires padding_idx inside the vocabulary.
        guard (0..<vocabSize).contains(padTokenId) else {
            throw fail("pad_token_id", "(\(padTokenId)) must be in 0..<vocab_size (\(vocabSize))")
        }
        // Unused at inference, but a probability outside [0, 1] means the file is wrong.
        let probabilities: [(String, Double?)] = [
            ("hidden_dropout_prob", hiddenDropoutProb), ("attention_probs_dropout_prob", attentionProbsDropoutProb),
            ("classifier_dropout", classifierDropout),
        ]
        for case let (field, value?) in probabilities where !(0...1).contains(value) {
            throw fail(field, "must be a probability in [0, 1], got \(value)")
        }
    }
}
