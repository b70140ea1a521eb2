import Foundation
import Offramp
import Testing

/// RoBERTa, XLM-R, DistilBERT and ELECTRA directories as transformers saved
/// them (scripts/fixtures/dump_hf_families.py: tiny, seeded, random weights):
/// base models load as encoders and classifiers as one-exit models, and both
/// reproduce HF's hidden states of every layer and its logits; exported
/// models carry each family's names and read back as the same model.
@Suite struct HuggingFaceFamiliesTests {
    static let reference = TestSupport.fixture("hf-families/reference.safetensors")
    static func directory(_ name: String) -> URL { TestSupport.fixture("hf-families/\(name)") }
    static let models = ["roberta-base", "roberta-seq", "roberta-tok", "xlm-roberta-seq", "distilbert-base", "distilbert-seq",
                         "distilbert-tok", "electra-base", "electra-seq", "electra-tok"]
    static let words = try! String(contentsOf: TestSupport.fixture("hf-heads/words.txt"), encoding: .utf8)
        .split(separator: "\n").map { $0.split(separator: " ").map(String.init) }

    static func sequenceExamples(_ ids: [[Int32]]) -> [EncodedExample] {
        ids.map { EncodedExample(ids: $0, typeIds: $0.map { _ in 0 }, queryPositions: [0], labels: [-1]) }
    }

    /// The largest |Offramp − HF| over the logits HF computed for what the exit reads, relative to HF's largest |logit|.
    static func logitError(_ model: MultiExitModel, _ ref: SafeTensorsFile, _ name: String, examples: [EncodedExample]) throws -> Float {
        let logits = try model.allExitLogits(ExampleBatch(examples))[0]
        let want = try ref.floats("\(name).logits"), n = model.labels.count
        let scale = want.map(abs).max()!
        guard model.settings.task == .label else {
            return zip(logits, want).map { abs($0 - $1) }.max()! / scale
        }
        let t = try ref.integers("\(name).ids").count / examples.count
        var worst: Float = 0, row = 0
        for (b, e) in examples.enumerated() {
            for pos in e.queryPositions {
                for c in 0..<n { worst = max(worst, abs(logits[row * n + c] - want[(b * t + pos) * n + c])) }
                row += 1
            }
        }
        return worst / scale
    }

    @Test(arguments: models)
    func familyModelReproducesHF(_ name: String) throws {
        let ref = try SafeTensorsFile(url: Self.reference)
        let ids = try HuggingFaceHeadTests.hfIds(ref, name)
        guard !name.hasSuffix("-base") else {
            let encoder = try BertEncoder.load(directory: Self.directory(name))
            let errors = try HuggingFaceHeadTests.hiddenStateErrors(encoder, ref, name, ids: ids)
            #expect(errors.allSatisfy { $0 < 1e-4 }, "\(name): hidden states against HF: \(errors)")
            return
        }
        let model = try MultiExitModel.load(directory: Self.directory(name))
        let family = model.config.family
        #expect(name.hasPrefix(family.rawValue + "-") && model.settings.exits == [2])
        let errors = try HuggingFaceHeadTests.hiddenStateErrors(model.encoder, ref, name, ids: ids)
        #expect(errors.allSatisfy { $0 < 1e-4 }, "\(name): hidden states against HF: \(errors)")
        let examples: [EncodedExample]
        if name.hasSuffix("-seq") {
            #expect(model.labels == ["negative", "neutral", "positive"])
            #expect((model.settings.poolerActivation ?? .tanh) == family.headActivation)
            #expect(try HuggingFaceHeadTests.sentences.map { try model.tokenizer.encode($0).ids } == ids)
            examples = Self.sequenceExamples(ids)
            let labels = try EarlyExitRunner(model: model).run(examples, policy: .full).results.map(\.label)
            #expect(Set(labels).count > 1, "the labels differ from sentence to sentence")
        } else {
            #expect(model.settings.task == .label && model.labels.count == 5)
            examples = try Self.words.map { ExampleEncoder.wordExample(try model.tokenizer.encode(words: $0, maxLength: nil), labels: nil).example }
            #expect(examples.map(\.ids) == ids)
        }
        let error = try Self.logitError(model, ref, name, examples: examples)
        #expect(error <= 1e-4, "\(name): logits against HF, worst \(error) of the largest")
    }

    /// What differs per family: positions from padding_idx + 1 (RoBERTa), no token types
    /// (DistilBERT), the embedding projection (ELECTRA), DistilBERT's config names.
    @Test func familyDifferencesComeFromTheConfig() throws {
        let roberta = try BertConfig.load(from: Self.directory("roberta-seq").appendingPathComponent("config.json"))
        #expect(roberta.family == .roberta && roberta.padTokenId == 1 && roberta.firstPosition == 2 && roberta.maxTokens == 64)
        let tooLong = #expect(throws: OfframpError.self) {
            try BertEncoder.load(directory: Self.directory("roberta-base"))(PackedBatch(ids: [[Int32](repeating: 5, count: 65)]))
        }
        #expect(tooLong?.message.contains("at most 64 (max_position_embeddings 66") == true)
        let electra = try BertConfig.load(from: Self.directory("electra-seq").appendingPathComponent("config.json"))
        #expect(electra.family == .electra && electra.embeddingWidth == 16 && electra.hiddenSize == 32)
        let distil = try BertConfig.load(from: Self.directory("distilbert-seq").appendingPathComponent("config.json"))
        #expect(distil.family == .distilbert && distil.hiddenSize == 32 && distil.numHiddenLayers == 2
            && distil.numAttentionHeads == 4 && distil.intermediateSize == 64 && distil.hiddenAct == "gelu")
        // Written back under DistilBERT's names, and read back the same.
        let text = String(decoding: try distil.jsonData(), as: UTF8.self)
        #expect(text.contains("\"dim\": 32") && text.contains("\"n_layers\": 2") && text.contains("\"model_type\": \"distilbert\""))
        #expect(!text.contains("hidden_size") && !text.contains("type_vocab_size"))
        #expect(try BertConfig(jsonData: Data(text.utf8), file: "again") == distil)
        // DistilBERT reads no token types: a pair's second part is not an error.
        let encoder = try BertEncoder.load(directory: Self.directory("distilbert-base"))
        let types = try encoder(PackedBatch(ids: [[2, 7, 3, 8, 3]], typeIds: [[0, 0, 0, 1, 1]]))
        let zeros = try encoder(PackedBatch(ids: [[2, 7, 3, 8, 3]]))
        #expect(types.lastHidden.array == zeros.lastHidden.array)
    }

    @Test func badFamilyConfigsAreNamed() throws {
        let cases: [(String, [String])] = [
            (#"{"model_type": "gpt2"}"#, ["'model_type' \"gpt2\" is not supported", "\"roberta\""]),
            (#"{"model_type": 7}"#, ["'model_type' must be a string"]),
            (#"{"model_type": "bert", "embedding_size": 128}"#, ["'embedding_size'", "ELECTRA only"]),
            (#"{"model_type": "distilbert", "dim": "wide"}"#, ["'dim' must be an integer"]),
            (#"{"model_type": "roberta", "max_position_embeddings": 3}"#, ["'max_position_embeddings'", "first position 2"]),
        ]
        for (json, mentions) in cases {
            let error = #expect(throws: OfframpError.self) {
                let config = try BertConfig(jsonData: Data(json.utf8), file: "bad/config.json")
                try config.validate(file: "bad/config.json")
            }
            for m in mentions + ["bad/config.json"] { #expect(error?.message.contains(m) == true, "\(json): \(error?.message ?? "")") }
        }
    }

    /// The saved head activation: an unknown name, or one on heads that have no pooler, names the section and field.
    @Test func badPoolerActivationsAreNamed() throws {
        var config = try BertConfig.load(from: Self.directory("distilbert-base").appendingPathComponent("config.json"))
        for (task, head, activation, mention) in [(ExitTask.classify, HeadKind.linear, JSONValue.string("sigmoid"), "sigmoid"),
                                                  (.label, .linear, .string("relu"), "pooler_activation applies to linear sequence heads only"),
                                                  (.classify, .fastbert, .string("gelu"), "pooler_activation applies to linear sequence heads only")] {
            try ExitSettings(task: task, labels: ["a", "b"], head: head, exits: [2]).write(into: &config)
            guard case var .object(section) = config.extra["offramp"]! else { Issue.record("no offramp section"); return }
            section["pooler_activation"] = activation
            config.extra["offramp"] = .object(section)
            let error = #expect(throws: OfframpError.self) { try ExitSettings.read(from: config, file: "m/config.json") }
            #expect(error?.message.contains("m/config.json") == true && error?.message.contains(mention) == true, "\(error?.message ?? "")")
        }
    }

    /// A classifier head with another number of labels than id2label says: the tensor is named with both shapes.
    @Test func wrongLabelCountNamesTheHeadTensor() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for file in ["model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: Self.directory("roberta-seq").appendingPathComponent(file), to: dir.appendingPathComponent(file))
        }
        var config = try BertConfig.load(from: Self.directory("roberta-seq").appendingPathComponent("config.json"))
        config.extra["id2label"] = .object(["0": .string("a"), "1": .string("b"), "2": .string("c"), "3": .string("d")])
        try config.save(to: dir.appendingPathComponent("config.json"))
        let error = #expect(throws: OfframpError.self) { try MultiExitModel.load(directory: dir) }
        #expect(error?.message.contains("classifier.out_proj.weight has shape [3, 32]") == true && error?.message.contains("[4, 32]") == true,
                "\(error?.message ?? "")")
    }

    /// Exits trained onto a family's classifier keep its head as the last exit; the export
    /// writes that family's names and reads back as the same multi-exit model.
    @Test(arguments: ["roberta-seq", "roberta-tok", "xlm-roberta-seq", "distilbert-seq", "distilbert-tok", "electra-seq", "electra-tok"])
    func exportWritesTheFamilysNames(_ name: String) throws {
        let source = try MultiExitModel.load(directory: Self.directory(name))
        var settings = ExitSettings(task: source.settings.task, labels: source.labels, exits: [1, 2])
        settings.maxLength = 64
        let model = try MultiExitModel.create(pretrained: Self.directory(name), settings: settings, seed: 5)
        try model.encoder.prepare(precision: .fp32)  // as loading does: inference on the packed weights
        let ref = try SafeTensorsFile(url: Self.reference)
        let examples = model.settings.task == .classify ? Self.sequenceExamples(try HuggingFaceHeadTests.hfIds(ref, name))
            : try Self.words.map { ExampleEncoder.wordExample(try model.tokenizer.encode(words: $0, maxLength: nil), labels: nil).example }
        let logits = try model.allExitLogits(ExampleBatch(examples))
        #expect(logits[1] == (try source.allExitLogits(ExampleBatch(examples)))[0], "the HF head is the last exit")
        let out = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        try model.exportHuggingFace(to: out)
        let family = model.config.family
        let file = try SafeTensorsFile(url: out.appendingPathComponent("model.safetensors"))
        var expected = [CheckpointKeys.huggingFace("encoder.layer.1.output.dense.bias", family: family),
                        CheckpointKeys.huggingFace("embeddings.word_embeddings.weight", family: family)]
        switch (family, model.settings.task) {
        case (.distilbert, .classify): expected += ["pre_classifier.weight", "classifier.weight", "distilbert.transformer.layer.1.ffn.lin2.bias"]
        case (.electra, .classify): expected += ["classifier.dense.weight", "classifier.out_proj.weight", "electra.embeddings_project.weight"]
        case (_, .classify): expected += ["classifier.dense.weight", "classifier.out_proj.bias", "roberta.encoder.layer.0.attention.self.query.weight"]
        case (_, .label): expected += ["classifier.weight"]
        }
        for key in expected { #expect(file.tensors[key] != nil, "\(name): \(key) in the export") }
        #expect(!file.tensors.keys.contains { $0.hasPrefix("exits.") || $0.hasPrefix("bert.") })
        let config = try BertConfig.load(from: out.appendingPathComponent("config.json"))
        let task = model.settings.task == .classify ? "ForSequenceClassification" : "ForTokenClassification"
        #expect(config.family == family && config.extra["architectures"]?.arrayValue?.first?.stringValue == family.classPrefix + task)
        #expect(try MultiExitModel.load(directory: out).allExitLogits(ExampleBatch(examples)) == logits)
    }

    /// A head whose activation is not the family's has no HF counterpart.
    @Test func exportRefusesAnotherPoolerActivation() throws {
        var settings = ExitSettings(task: .classify, labels: ["negative", "neutral", "positive"], exits: [1, 2])
        settings.poolerActivation = .tanh
        let model = try MultiExitModel.create(pretrained: Self.directory("distilbert-base"), settings: settings, seed: 5)
        let out = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let refused = #expect(throws: OfframpError.self) { try model.exportHuggingFace(to: out) }
        #expect(refused?.message.contains("DistilBertForSequenceClassification computes relu") == true, "\(refused?.message ?? "")")
        settings.poolerActivation = nil  // the family's by default
        let relu = try MultiExitModel.create(pretrained: Self.directory("distilbert-base"), settings: settings, seed: 5)
        #expect(relu.settings.poolerActivation == .relu)
        try relu.exportHuggingFace(to: out)
    }
}
