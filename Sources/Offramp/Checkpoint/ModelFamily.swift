// MARK: - The BERT family: one encoder, a few differences, each named here

/// The HF `model_type`s whose encoders Offramp runs. All are BERT's post-LN
/// encoder; they differ only where this type says:
/// - RoBERTa and XLM-R number positions from `padding_idx + 1` and keep one
///   token type;
/// - DistilBERT has no token types, and other key and config names;
/// - ELECTRA's embeddings are `embedding_size` wide and projected up to
///   `hidden_size` (`embeddings_project`).
/// Their classification heads differ too: see `headActivation`.
public enum ModelFamily: String, Sendable, CaseIterable {
    case bert
    case roberta
    case xlmRoberta = "xlm-roberta"
    case distilbert
    case electra

    /// The family of a config.json's `model_type` (absent: BERT, as in
    /// configs written before the field existed). Unknown names are an error.
    public init(modelType: String?, file: String) throws {
        guard let modelType else { self = .bert; return }
        guard let family = ModelFamily(rawValue: modelType) else {
            let names = ModelFamily.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw OfframpError("\(file): 'model_type' \"\(modelType)\" is not supported (supported: \(names))")
        }
        self = family
    }

    /// The prefix of HF class names: `<prefix>ForSequenceClassification`.
    public var classPrefix: String {
        switch self {
        case .bert: return "Bert"
        case .roberta: return "Roberta"
        case .xlmRoberta: return "XLMRoberta"
        case .distilbert: return "DistilBert"
        case .electra: return "Electra"
        }
    }

    /// Where a HF task model keeps its encoder (`base_model_prefix` + ".").
    public var keyPrefix: String {
        switch self {
        case .bert: return "bert."
        case .roberta, .xlmRoberta: return "roberta."
        case .distilbert: return "distilbert."
        case .electra: return "electra."
        }
    }

    /// Whether the embeddings add a token-type (segment) vector.
    public var hasTokenTypes: Bool { self != .distilbert }

    /// The position id of a sequence's first token: RoBERTa and XLM-R count
    /// from `padding_idx + 1` (fairseq's convention), the others from 0.
    func firstPosition(padTokenId: Int) -> Int {
        self == .roberta || self == .xlmRoberta ? padTokenId + 1 : 0
    }

    /// The activation between the sequence classifier's two linear layers
    /// (HF's pooler or classification head): tanh for BERT, RoBERTa and
    /// XLM-R, ReLU for DistilBERT's pre_classifier, GELU for ELECTRA's head.
    public var headActivation: PoolerActivation {
        switch self {
        case .bert, .roberta, .xlmRoberta: return .tanh
        case .distilbert: return .relu
        case .electra: return .gelu
        }
    }
}

/// The activation of a sequence head's pooler (dense, activation, classifier).
public enum PoolerActivation: String, Codable, Sendable, CaseIterable {
    case tanh
    case relu
    /// Exact (erf) GELU, as HF's `get_activation("gelu")`.
    case gelu
}
