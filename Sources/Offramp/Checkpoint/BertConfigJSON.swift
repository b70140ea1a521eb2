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

    /// The JSON names of the fields this type interprets (everything else goes to `extra`).
    public static var knownKeys: Set<String> {
        Set(intFields.map(\.0) + doubleFields.map(\.0) + stringFields.map(\.0) + boolFields.map(\.0) + optionalDoubleFields.map(\.0))
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
        for (key, value) in members {
            func wrongType(_ expected: String) -> OfframpError {
                OfframpError("\(file): '\(key)' must be \(expected), got \(value.preview)")
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
            } else {
                extra[key] = JSONValue(value)
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

    /// The config as transformers writes it: every field, keys sorted,
    /// two-space indent, integers without a fraction, a final newline.
    /// A key of `extra` that names a known field is overridden by the field.
    public func jsonData() throws -> Data {
        var members: [String: StrictJSON.Node] = extra.mapValues(\.node)
        for (key, path) in Self.intFields { members[key] = .int(self[keyPath: path]) }
        for (key, path) in Self.doubleFields { members[key] = .double(self[keyPath: path]) }
        for (key, path) in Self.stringFields { members[key] = .string(self[keyPath: path]) }
        for (key, path) in Self.boolFields { members[key] = .bool(self[keyPath: path]) }
        for (key, path) in Self.optionalDoubleFields { members[key] = self[keyPath: path].map { .double($0) } ?? .null }
        do {
            let text = try StrictJSON.write(.object(members.map { ($0.key, $0.value) }), indent: 2)
            return Data((text + "\n").utf8)
        } catch {
            throw OfframpError("config: \(error.message)")
        }
    }
}
