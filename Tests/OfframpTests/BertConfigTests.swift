import Foundation
import Offramp
import Testing

/// Writes `text` as config.json in a new temporary directory.
private func configFile(_ text: String) throws -> URL {
    let url = try TestSupport.temporaryDirectory().appendingPathComponent("config.json")
    try Data(text.utf8).write(to: url)
    return url
}

private func removeDirectory(of url: URL) {
    try? FileManager.default.removeItem(at: url.deletingLastPathComponent())
}

/// One config.json that must fail to load, and what its error must mention
/// (besides the path, which every message must start with).
struct BadConfig: Sendable, CustomTestStringConvertible {
    let name: String
    let json: String
    let mentions: [String]
    var testDescription: String { name }

    static let wrongTypes: [BadConfig] = [
        .init(name: "string size", json: #"{"hidden_size": "big"}"#, mentions: ["'hidden_size'", "an integer", "\"big\""]),
        .init(name: "fractional size", json: #"{"vocab_size": 3.5}"#, mentions: ["'vocab_size'", "an integer", "3.5"]),
        .init(name: "size written as float", json: #"{"num_hidden_layers": 6.0}"#, mentions: ["'num_hidden_layers'", "an integer"]),
        .init(name: "size too large", json: #"{"intermediate_size": 1e30}"#, mentions: ["'intermediate_size'", "an integer"]),
        .init(name: "null size", json: #"{"pad_token_id": null}"#, mentions: ["'pad_token_id'", "got null"]),
        .init(name: "string eps", json: #"{"layer_norm_eps": "1e-12"}"#, mentions: ["'layer_norm_eps'", "a number"]),
        .init(name: "numeric activation", json: #"{"hidden_act": 5}"#, mentions: ["'hidden_act'", "a string"]),
        .init(name: "integer bool", json: #"{"use_cache": 1}"#, mentions: ["'use_cache'", "true or false"]),
        .init(name: "string classifier dropout", json: #"{"classifier_dropout": "none"}"#, mentions: ["'classifier_dropout'", "a number or null"]),
        .init(name: "list dropout", json: #"{"hidden_dropout_prob": [0.1]}"#, mentions: ["'hidden_dropout_prob'", "a list"]),
    ]

    static let invalid: [BadConfig] = [
        .init(name: "heads do not divide hidden", json: #"{"hidden_size": 384, "num_attention_heads": 5}"#, mentions: ["'hidden_size'", "divisible", "(5)"]),
        .init(name: "zero heads", json: #"{"num_attention_heads": 0}"#, mentions: ["'num_attention_heads'", "positive"]),
        .init(name: "negative layers", json: #"{"num_hidden_layers": -1}"#, mentions: ["'num_hidden_layers'", "positive", "-1"]),
        .init(name: "zero vocab", json: #"{"vocab_size": 0}"#, mentions: ["'vocab_size'", "positive"]),
        .init(name: "zero intermediate", json: #"{"intermediate_size": 0}"#, mentions: ["'intermediate_size'", "positive"]),
        .init(name: "zero positions", json: #"{"max_position_embeddings": 0}"#, mentions: ["'max_position_embeddings'", "positive"]),
        .init(name: "zero token types", json: #"{"type_vocab_size": 0}"#, mentions: ["'type_vocab_size'", "positive"]),
        .init(name: "unsupported activation", json: #"{"hidden_act": "swish"}"#, mentions: ["'hidden_act'", "\"swish\"", "not supported", "gelu_new"]),
        .init(name: "relative positions", json: #"{"position_embedding_type": "relative_key"}"#, mentions: ["'position_embedding_type'", "\"relative_key\"", "not supported"]),
        .init(name: "zero eps", json: #"{"layer_norm_eps": 0}"#, mentions: ["'layer_norm_eps'", "positive"]),
        .init(name: "negative eps", json: #"{"layer_norm_eps": -1e-12}"#, mentions: ["'layer_norm_eps'", "positive"]),
        .init(name: "pad outside vocab", json: #"{"vocab_size": 10, "pad_token_id": 10}"#, mentions: ["'pad_token_id'", "(10)"]),
        .init(name: "dropout above one", json: #"{"attention_probs_dropout_prob": 1.5}"#, mentions: ["'attention_probs_dropout_prob'", "1.5"]),
        .init(name: "negative classifier dropout", json: #"{"classifier_dropout": -0.1}"#, mentions: ["'classifier_dropout'"]),
    ]

    static let notJSON: [BadConfig] = [
        .init(name: "empty file", json: "", mentions: ["invalid JSON", "end of text"]),
        .init(name: "trailing comma", json: "{\n  \"hidden_size\": 384,\n}", mentions: ["invalid JSON", "line 3, column 1"]),
        .init(name: "single quotes", json: "{'hidden_size': 384}", mentions: ["invalid JSON", "line 1, column 2"]),
        .init(name: "NaN", json: #"{"layer_norm_eps": NaN}"#, mentions: ["invalid JSON"]),
        .init(name: "duplicate key", json: #"{"hidden_size": 384, "hidden_size": 768}"#, mentions: ["duplicate key \"hidden_size\""]),
        .init(name: "top-level list", json: "[1, 2]", mentions: ["must be a JSON object", "a list"]),
        .init(name: "number out of range", json: #"{"x": 1e999}"#, mentions: ["1e999", "out of range"]),
    ]
}

@Suite("BertConfig")
struct BertConfigTests {
    // MARK: - Loading

    @Test func realMiniLMConfig() throws {
        let config = try BertConfig.load(from: TestSupport.cached("models/minilm-l6/config.json"))
        #expect(config.hiddenSize == 384)
        #expect(config.numAttentionHeads == 12)
        #expect(config.numHiddenLayers == 6)
        #expect(config.intermediateSize == 1536)
        #expect(config.vocabSize == 30522)
        #expect(config.maxPositionEmbeddings == 512)
        #expect(config.typeVocabSize == 2)
        #expect(config.layerNormEps == 1e-12)
        #expect(config.hiddenAct == "gelu")
        #expect(config.headDim == 32)
        // Not in the file: the transformers default.
        #expect(config.classifierDropout == nil)
        #expect(config.family == .bert && config.embeddingSize == nil)
        // Keys Offramp does not interpret are kept.
        #expect(config.extra["architectures"] == .array([.string("BertModel")]))
        #expect(config.extra["_name_or_path"] == .string("nreimers/MiniLM-L6-H384-uncased"))
        #expect(config.extra["transformers_version"] == .string("4.8.2"))
        #expect(config.extra["gradient_checkpointing"] == .bool(false))
        #expect(config.extra.count == 4)
    }

    @Test func missingFieldsTakeTransformersDefaults() throws {
        let empty = try BertConfig(jsonData: Data("{}".utf8), file: "config.json")
        #expect(empty == BertConfig())
        // transformers' BertConfig() defaults (bert-base).
        #expect(empty.vocabSize == 30522 && empty.hiddenSize == 768 && empty.numHiddenLayers == 12)
        #expect(empty.numAttentionHeads == 12 && empty.intermediateSize == 3072 && empty.hiddenAct == "gelu")
        #expect(empty.hiddenDropoutProb == 0.1 && empty.attentionProbsDropoutProb == 0.1)
        #expect(empty.maxPositionEmbeddings == 512 && empty.typeVocabSize == 2 && empty.initializerRange == 0.02)
        #expect(empty.layerNormEps == 1e-12 && empty.padTokenId == 0 && empty.positionEmbeddingType == "absolute")
        #expect(empty.useCache && empty.classifierDropout == nil && empty.extra.isEmpty)
        try empty.validate(file: "config.json")

        let partial = try BertConfig(jsonData: Data(#"{"hidden_size": 128, "num_attention_heads": 2, "classifier_dropout": 0.25}"#.utf8), file: "x")
        var expected = BertConfig()
        expected.hiddenSize = 128
        expected.numAttentionHeads = 2
        expected.classifierDropout = 0.25
        #expect(partial == expected)
        #expect(partial.headDim == 64)
    }

    @Test(arguments: BadConfig.wrongTypes)
    func wrongTypedFieldNamesFileAndField(_ bad: BadConfig) throws {
        try expectLoadFails(bad)
    }

    @Test(arguments: BadConfig.invalid)
    func invalidValueNamesFileAndField(_ bad: BadConfig) throws {
        try expectLoadFails(bad)
    }

    @Test(arguments: BadConfig.notJSON)
    func invalidJSONNamesTheFile(_ bad: BadConfig) throws {
        try expectLoadFails(bad)
    }

    @Test func missingFileNamesThePath() throws {
        let url = try TestSupport.temporaryDirectory().appendingPathComponent("config.json")
        defer { removeDirectory(of: url) }
        let error = #expect(throws: OfframpError.self) { try BertConfig.load(from: url) }
        #expect(error?.message.hasPrefix(url.path) == true)
        #expect(error?.message.contains("cannot read") == true)
    }

    @Test func directoryIsRefused() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let error = #expect(throws: OfframpError.self) { try BertConfig.load(from: dir) }
        #expect(error?.message == "\(dir.path): is a directory, not a config.json file")
    }

    @Test func headDimDoesNotTrapOnZeroHeads() {
        var config = BertConfig()
        config.numAttentionHeads = 0
        #expect(config.headDim == 0)
        #expect(throws: OfframpError.self) { try config.validate(file: "in-memory") }
    }

    // MARK: - Saving

    @Test func roundTripKeepsEveryKey() throws {
        let source = TestSupport.cached("models/minilm-l6/config.json")
        var config = try BertConfig.load(from: source)
        config.extra["offramp"] = ["exits": [2, 4], "threshold": 0.5, "note": "ünïcode \"q\"", "off": nil, "on": true, "nested": ["deep": [[]]]]
        let url = try TestSupport.temporaryDirectory().appendingPathComponent("config.json")
        defer { removeDirectory(of: url) }
        try config.save(to: url)
        let reloaded = try BertConfig.load(from: url)
        #expect(reloaded == config)

        // Written as transformers writes it: integers without a fraction,
        // sorted keys, two-space indent, every field present.
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.contains("\n  \"hidden_size\": 384,\n"))
        #expect(!text.contains("384.0"))
        #expect(text.contains("\"layer_norm_eps\": 1e-12,"))
        #expect(text.contains("\"hidden_dropout_prob\": 0.1,"))
        #expect(text.contains("\"classifier_dropout\": null,"))
        #expect(text.contains("\"exits\": [\n      2,\n      4\n    ],"))
        #expect(text.hasPrefix("{\n  \"_name_or_path\": "))
        #expect(text.hasSuffix("\n}\n"))
        let keys = text.split(separator: "\n").filter { $0.hasPrefix("  \"") }.map { $0.split(separator: "\"")[1] }
        #expect(keys == keys.sorted())
        // Every field but ELECTRA's embedding_size, which a BERT config has not.
        #expect(Set(keys.map(String.init)) == BertConfig.knownKeys.subtracting(["embedding_size"]).union(config.extra.keys))

        // Every key of the original file survives with its value (read back
        // with Foundation's parser, as a cross-check of ours).
        let original = try JSONDecoder().decode([String: JSONValue].self, from: Data(contentsOf: source))
        let saved = try JSONDecoder().decode([String: JSONValue].self, from: Data(contentsOf: url))
        #expect(original.count == 20)
        for (key, value) in original {
            #expect(saved[key] == value, "\(key)")
        }
        #expect(saved["offramp"] == config.extra["offramp"])
    }

    @Test func jsonValueCodableRoundTrip() throws {
        let value: JSONValue = ["a": [1, 2.5, "x", true, nil], "b": ["c": -3]]
        let data = try JSONEncoder().encode(value)
        #expect(try JSONDecoder().decode(JSONValue.self, from: data) == value)
        // Whole numbers are encoded as integers.
        let text = String(decoding: try JSONEncoder().encode(JSONValue.number(384)), as: UTF8.self)
        #expect(text == "384")
        #expect(JSONValue.number(384).intValue == 384)
        #expect(JSONValue.number(2.5).intValue == nil)
        #expect(value["b"]?["c"]?.doubleValue == -3)
    }

    @Test func saveIntoMissingDirectoryNamesThePath() {
        let url = URL(fileURLWithPath: "/nonexistent-offramp-dir/config.json")
        let error = #expect(throws: OfframpError.self) { try BertConfig().save(to: url) }
        #expect(error?.message.contains(url.path) == true)
    }

    @Test func nonFiniteExtraCannotBeSaved() {
        var config = BertConfig()
        config.extra["bad"] = .number(.nan)
        let error = #expect(throws: OfframpError.self) { try config.jsonData() }
        #expect(error?.message.contains("non-finite") == true)
    }

    private func expectLoadFails(_ bad: BadConfig, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = try configFile(bad.json)
        defer { removeDirectory(of: url) }
        let error = #expect(throws: OfframpError.self, sourceLocation: sourceLocation) { try BertConfig.load(from: url) }
        guard let message = error?.message else { return }
        #expect(message.hasPrefix(url.path), "message should start with the path: \(message)", sourceLocation: sourceLocation)
        for word in bad.mentions {
            #expect(message.contains(word), "message should mention \(word): \(message)", sourceLocation: sourceLocation)
        }
    }
}
