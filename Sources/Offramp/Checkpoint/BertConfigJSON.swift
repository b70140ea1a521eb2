import Foundation

/// config.json reading and writing for `BertConfig`, by hand rather than
/// Codable so that a wrong-typed field gets a message naming it, and so
/// unknown keys can be collected into `extra`.
extension BertConfig {
    // The JSON name of every field, by type. (Computed: key paths are not
    // Sendable, so they cannot live in a static let.)
    private static var intFields: [(String, WritableKeyPath<BertConfig, Int>)] {
        [
            ("vocab_size", \.vocabSize), ("hidden_size", \.hiddenSize), ("num_hidden_layers", \.numHiddenLayers),
            ("num_attention_heads", \.numAttentionHeads), ("intermediate_size", \.intermediateSize),
            ("max_position_embeddings", \.maxPositionEmbeddings), ("type_vocab_size", \.typeVocabSize),
            ("pad_token_id", \.padTokenId),
        ]
    }
    private static var doubleFields: [(String, WritableKeyPath<BertConfig, Double>)] {
        [
            ("hidden_dropout_prob", \.hiddenDropoutProb), ("attention_probs_dropout_prob", \.attentionProbsDropoutProb),
            ("initializer_range", \.initializerRange), ("layer_norm_eps", \.layerNormEps),
        ]
    }
    private static var stringFields: [(String, WritableKeyPath<BertConfig, String>)] {
        [
            ("hidden_act", \.hiddenAct), ("position_embedding_type", \.positionEmbeddingType),
        ]
    }
    private static var boolFields: [(String, WritableKeyPath<BertConfig, Bool>)] {
        [("use_cache", \.useCache)]
    }
    private static var optionalDoubleFields: [(String, WritableKeyPath<BertConfig, Double?>)] {
        [("classifier_dropout", \.classifierDropout)]
    }
    private static var optionalIntFields: [(String, WritableKeyPath<BertConfig, Int?>)] {
        [("embedding_size", \.embeddingSize)]
    }

    /// The JSON names of the fields this type interprets (everything else goes to `extra`).
    public static var knownKeys: Set<String> {
        Set(intFields.map(\.0) + doubleFields.map(\.0) + stringFields.map(\.0) + boolFields.map(\.0) + optionalDoubleFields.map(\.0)
            + optionalIntFields.map(\.0) + ["model_type"])
    }

    /// DistilBERT's names for BERT's fields (transformers' `DistilBertConfig`);
    /// nil: DistilBERT has no such field (it has no token types, and a fixed
    /// LayerNorm epsilon of 1e-12), so it is neither read nor written.
    private static let distilBertNames: [String: String?] = [
        "hidden_size": "dim", "num_hidden_layers": "n_layers", "num_attention_heads": "n_heads",
        "intermediate_size": "hidden_dim", "hidden_act": "activation", "hidden_dropout_prob": "dropout",
        "attention_probs_dropout_prob": "attention_dropout", "type_vocab_size": nil, "layer_norm_eps": nil,
        "position_embedding_type": nil, "use_cache": nil, "classifier_dropout": nil,
    ]

    /// The name of BERT's field `key` in a config.json of `family`, or nil when the family has none.
    private static func jsonName(_ key: String, _ family: ModelFamily) -> String? {
        guard family == .distilbert, let renamed = distilBertNames[key] else { return key }
        return renamed
    }

    // MARK: - Reading

    /// Parses config.json bytes without validating them (see `validate`).
    /// Missing fields keep transformers' defaults; `file` is named in errors.
    public init(jsonData: Data, file: String) throws {
        let root: StrictJSON.Node
        do {
            root = try StrictJSON.parse(jsonData)
        } catch {
            throw OfframpError("\(file): \(error.message)")
        }
        guard case let .object(members) = root else {
            throw OfframpError("\(file): a config must be a JSON object, got \(root.typeName)")
        }
        self.init()
        // The family first: its defaults, and (DistilBERT) the names of the other fields.
        if let value = members.first(where: { $0.0 == "model_type" })?.1 {
            guard case let .string(name) = value else { throw OfframpError("\(file): 'model_type' must be a string, got \(value.preview)") }
            family = try ModelFamily(modelType: name, file: file)
        }
        applyFamilyDefaults()
        var bertName: [String: String] = [:]
        for known in Self.knownKeys { if let name = Self.jsonName(known, family) { bertName[name] = known } }
        for (fileKey, value) in members where fileKey != "model_type" {
            // A DistilBERT file's key under BERT's name; a BERT name DistilBERT lacks stays in `extra`.
            let key = bertName[fileKey] ?? (Self.knownKeys.contains(fileKey) ? "" : fileKey)
            func wrongType(_ expected: String) -> OfframpError {
                OfframpError("\(file): '\(fileKey)' must be \(expected), got \(value.preview)")
            }
            if let path = Self.intFields.first(where: { $0.0 == key })?.1 {
                guard case let .int(i) = value else { throw wrongType("an integer") }
                self[keyPath: path] = i
            } else if let path = Self.doubleFields.first(where: { $0.0 == key })?.1 {
                guard let d = Self.number(value) else { throw wrongType("a number") }
                self[keyPath: path] = d
            } else if let path = Self.stringFields.first(where: { $0.0 == key })?.1 {
                guard case let .string(s) = value else { throw wrongType("a string") }
                self[keyPath: path] = s
            } else if let path = Self.boolFields.first(where: { $0.0 == key })?.1 {
                guard case let .bool(b) = value else { throw wrongType("true or false") }
                self[keyPath: path] = b
            } else if let path = Self.optionalDoubleFields.first(where: { $0.0 == key })?.1 {
                if case .null = value {
                    self[keyPath: path] = nil
                } else {
                    guard let d = Self.number(value) else { throw wrongType("a number or null") }
                    self[keyPath: path] = d
                }
            } else if let path = Self.optionalIntFields.first(where: { $0.0 == key })?.1 {
                if case .null = value {
                    self[keyPath: path] = nil
                } else {
                    guard case let .int(i) = value else { throw wrongType("an integer or null") }
                    self[keyPath: path] = i
                }
            } else {
                extra[fileKey] = JSONValue(value)
            }
        }
    }

    private static func number(_ node: StrictJSON.Node) -> Double? {
        switch node {
        case let .int(i): return Double(i)
        case let .double(d): return d
        default: return nil
        }
    }

    // MARK: - Writing

    /// The config as transformers writes it: every field (under the family's
    /// names), keys sorted, two-space indent, integers without a fraction, a
    /// final newline. A key of `extra` that names a known field is overridden by the field.
    public func jsonData() throws -> Data {
        var members: [String: StrictJSON.Node] = extra.mapValues(\.node)
        func set(_ key: String, _ node: StrictJSON.Node) {
            if let name = Self.jsonName(key, family) { members[name] = node }
        }
        for (key, path) in Self.intFields where key != "type_vocab_size" || family.hasTokenTypes { set(key, .int(self[keyPath: path])) }
        for (key, path) in Self.doubleFields { set(key, .double(self[keyPath: path])) }
        for (key, path) in Self.stringFields { set(key, .string(self[keyPath: path])) }
        for (key, path) in Self.boolFields { set(key, .bool(self[keyPath: path])) }
        for (key, path) in Self.optionalDoubleFields { set(key, self[keyPath: path].map { .double($0) } ?? .null) }
        for (key, path) in Self.optionalIntFields { if let v = self[keyPath: path] { set(key, .int(v)) } }
        members["model_type"] = .string(family.rawValue)
        do {
            let text = try StrictJSON.write(.object(members.map { ($0.key, $0.value) }), indent: 2)
            return Data((text + "\n").utf8)
        } catch {
            throw OfframpError("config: \(error.message)")
        }
    }
}
