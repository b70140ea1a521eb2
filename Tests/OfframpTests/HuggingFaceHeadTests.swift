import Foundation
import Offramp
import Testing

/// HF `BertForSequenceClassification` and `BertForTokenClassification`
/// directories, as transformers saved them (scripts/fixtures/dump_hf_heads.py:
/// tiny, seeded, random weights), load as one-exit models that reproduce HF:
/// the same token ids, hidden states of every layer and logits.
@Suite struct HuggingFaceHeadTests {
    static let reference = TestSupport.fixture("hf-heads/reference.safetensors")
    static func directory(_ name: String) -> URL { TestSupport.fixture("hf-heads/\(name)") }
    /// The sentences, one per line, as the fixture script ran them.
    static let sentences = try! String(contentsOf: TestSupport.fixture("hf-heads/sentences.txt"), encoding: .utf8)
        .split(separator: "\n").map(String.init)

    /// HF's padded batch `name.ids` (B, T) as one id list per sentence, padding dropped.
    static func hfIds(_ ref: SafeTensorsFile, _ name: String) throws -> [[Int32]] {
        let ids = try ref.integers("\(name).ids"), mask = try ref.integers("\(name).mask")
        let t = ids.count / sentences.count
        return (0..<sentences.count).map { b in (0..<t).filter { mask[b * t + $0] == 1 }.map { Int32(ids[b * t + $0]) } }
    }

    /// The largest |a - b| over the real tokens of every sentence, per hidden state, relative to the state's max |value|.
    static func hiddenStateErrors(_ encoder: BertEncoder, _ ref: SafeTensorsFile, _ name: String, ids: [[Int32]]) throws -> [Float] {
        let out = try encoder(PackedBatch(ids: ids), hiddenStates: true)
        let h = encoder.config.hiddenSize, t = try ref.integers("\(name).ids").count / sentences.count
        let maxAbs = try ref.floats("\(name).maxabs")
        return try (0...encoder.config.numHiddenLayers).map { l in
            let want = try ref.floats("\(name).h\(l)")  // (B, T, H)
            var worst: Float = 0
            for (b, seq) in ids.enumerated() {
                for tok in seq.indices {
                    let row = out.row(out.hiddenStates[l], sequence: b, token: tok)
                    for c in 0..<h { worst = max(worst, abs(row[c] - want[(b * t + tok) * h + c]) / maxAbs[l]) }
                }
            }
            return worst
        }
    }

    @Test func sequenceClassifierReproducesHF() throws {
        let ref = try SafeTensorsFile(url: Self.reference)
        let model = try MultiExitModel.load(directory: Self.directory("seq"))
        #expect(model.settings.task == .classify && model.labels == ["negative", "neutral", "positive"] && model.settings.exits == [2])
        let ids = try Self.hfIds(ref, "seq")
        let encoded = try Self.sentences.map { try model.tokenizer.encode($0) }
        #expect(encoded.map(\.ids) == ids, "Offramp's WordPiece from HF's tokenizer.json gives HF's ids")
        let errors = try Self.hiddenStateErrors(model.encoder, ref, "seq", ids: ids)
        #expect(errors.allSatisfy { $0 < 1e-4 }, "hidden states h0...h2 against HF: \(errors)")
        let examples = ids.map { EncodedExample(ids: $0, typeIds: $0.map { _ in 0 }, queryPositions: [0], labels: [-1]) }
        let logits = try model.allExitLogits(ExampleBatch(examples))[0]
        let want = try ref.floats("seq.logits")
        let scale = want.map(abs).max()!
        #expect(zip(logits, want).allSatisfy { abs($0 - $1) <= 1e-4 * scale }, "logits \(logits) against HF \(want)")
        let predicted = try EarlyExitRunner(model: model).run(examples, policy: .full).results.map(\.label)
        let hfLabels = (0..<Self.sentences.count).map { b in (0..<3).max { want[b * 3 + $0] < want[b * 3 + $1] }! }
        #expect(predicted == hfLabels && Set(predicted).count > 1, "the labels differ from sentence to sentence")
    }

    @Test func tokenClassifierReproducesHFAtFirstPieces() throws {
        let ref = try SafeTensorsFile(url: Self.reference)
        let model = try MultiExitModel.load(directory: Self.directory("tok"))
        #expect(model.settings.task == .label && model.labels == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])
        let words = try String(contentsOf: TestSupport.fixture("hf-heads/words.txt"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        let ids = try Self.hfIds(ref, "tok")
        let examples = try words.map { ExampleEncoder.wordExample(try model.tokenizer.encode(words: $0, maxLength: nil), labels: nil).example }
        #expect(examples.map(\.ids) == ids)
        #expect(examples[5].queryPositions.count < examples[5].ids.count - 2, "WordPiece split some words of the last sentence")
        let errors = try Self.hiddenStateErrors(model.encoder, ref, "tok", ids: ids)
        #expect(errors.allSatisfy { $0 < 1e-4 }, "hidden states against HF: \(errors)")
        let logits = try model.allExitLogits(ExampleBatch(examples))[0]  // (words, 5)
        let want = try ref.floats("tok.logits"), t = try ref.integers("tok.ids").count / Self.sentences.count
        let scale = want.map(abs).max()!
        var row = 0
        for (b, e) in examples.enumerated() {
            for pos in e.queryPositions {
                for c in 0..<5 { #expect(abs(logits[row * 5 + c] - want[(b * t + pos) * 5 + c]) <= 1e-4 * scale) }
                row += 1
            }
        }
    }

    /// Training exits onto a HF classifier starts from its fine-tuned head:
    /// the new model's last exit is HF's classifier, the lower exits are new.
    @Test func newExitsKeepTheFineTunedHeadAsTheLastExit() throws {
        let ref = try SafeTensorsFile(url: Self.reference)
        var settings = ExitSettings(task: .classify, labels: ["negative", "neutral", "positive"], exits: [1, 2])
        settings.maxLength = 64
        let model = try MultiExitModel.create(pretrained: Self.directory("seq"), settings: settings, seed: 1)
        let ids = try Self.hfIds(ref, "seq")
        let examples = ids.map { EncodedExample(ids: $0, typeIds: $0.map { _ in 0 }, queryPositions: [0], labels: [-1]) }
        let logits = try model.allExitLogits(ExampleBatch(examples))
        let want = try ref.floats("seq.logits"), scale = want.map(abs).max()!
        #expect(zip(logits[1], want).allSatisfy { abs($0 - $1) <= 1e-4 * scale })
        // Other labels: the head cannot be the teacher, and is new.
        settings.labels = ["bad", "good"]
        let other = try MultiExitModel.create(pretrained: Self.directory("seq"), settings: settings, seed: 1)
        #expect(try other.allExitLogits(ExampleBatch(examples))[1].count == 2 * examples.count)
    }

    /// FastBERT's recipe on a HF classifier: its head stays the final exit
    /// (linear on [CLS], reproducing HF), while the students below it pool
    /// the mean of the tokens or are FastBERT heads; the export carries the
    /// HF head and keeps the students beside it.
    @Test func studentsOfAnyKindBelowTheHFHead() throws {
        let ref = try SafeTensorsFile(url: Self.reference)
        let examples = try Self.hfIds(ref, "seq").map { EncodedExample(ids: $0, typeIds: $0.map { _ in 0 }, queryPositions: [0], labels: [-1]) }
        let want = try ref.floats("seq.logits"), scale = want.map(abs).max()!
        let labels = ["negative", "neutral", "positive"]
        var mean = ExitSettings(task: .classify, labels: labels, pooling: .mean, exits: [1, 2])
        mean.maxLength = 64
        var plainMean = mean
        mean.huggingFaceFinalExit = true
        let model = try MultiExitModel.create(pretrained: Self.directory("seq"), settings: mean, seed: 3)
        let logits = try model.allExitLogits(ExampleBatch(examples))
        #expect(zip(logits[1], want).allSatisfy { abs($0 - $1) <= 1e-4 * scale }, "the final exit is HF's head")
        // The student is mean-pooled: the same as exit 1 of an all-mean model from the same seed, unlike a [CLS] one.
        plainMean.huggingFaceFinalExit = nil
        #expect(try MultiExitModel.create(pretrained: Self.directory("seq"), settings: plainMean, seed: 3).allExitLogits(ExampleBatch(examples))[0] == logits[0])
        var cls = mean
        cls.pooling = .cls
        #expect(try MultiExitModel.create(pretrained: Self.directory("seq"), settings: cls, seed: 3).allExitLogits(ExampleBatch(examples))[0] != logits[0])
        #expect(model.settings.headsDescription == "linear/mean heads below the HF classifier's head (linear on [CLS])")

        var fastbert = mean
        fastbert.head = .fastbert
        let students = try MultiExitModel.create(pretrained: Self.directory("seq"), settings: fastbert, seed: 3)
        #expect(students.store.entry("exits.1.reduce.weight") != nil && students.store.entry("exits.2.pooler.weight") != nil)
        #expect(zip(try students.allExitLogits(ExampleBatch(examples))[1], want).allSatisfy { abs($0 - $1) <= 1e-4 * scale })
        for m in [model, students] {
            try m.encoder.prepare(precision: .fp32)  // as loading does: inference on the packed weights
            let out = try TestSupport.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: out) }
            try m.exportHuggingFace(to: out)
            let back = try MultiExitModel.load(directory: out)
            #expect(back.settings == m.settings)
            #expect(try back.allExitLogits(ExampleBatch(examples)) == m.allExitLogits(ExampleBatch(examples)))
        }
    }

    /// `exportHuggingFace`: HF's names and config fields, and Offramp reads the directory back as the same multi-exit model.
    @Test func exportWritesHFNamesAndReadsBack() throws {
        let out = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        var settings = ExitSettings(task: .classify, labels: ["negative", "neutral", "positive"], exits: [1, 2])
        settings.maxLength = 64
        let model = try MultiExitModel.create(pretrained: Self.directory("seq"), settings: settings, seed: 5)
        try model.exportHuggingFace(to: out)
        let file = try SafeTensorsFile(url: out.appendingPathComponent("model.safetensors"))
        for key in ["classifier.weight", "bert.pooler.dense.weight", "bert.embeddings.word_embeddings.weight", "bert.encoder.layer.1.output.dense.bias"] {
            #expect(file.tensors[key] != nil, "\(key) in the exported model.safetensors")
        }
        #expect(!file.tensors.keys.contains { $0.hasPrefix("exits.") })
        let config = try BertConfig.load(from: out.appendingPathComponent("config.json"))
        #expect(config.extra["architectures"]?.arrayValue?.first?.stringValue == "BertForSequenceClassification")
        #expect(config.extra["id2label"]?["2"]?.stringValue == "positive" && config.extra["label2id"]?["neutral"]?.intValue == 1)
        #expect(config.extra["num_labels"]?.intValue == 3)
        let back = try MultiExitModel.load(directory: out)
        #expect(back.settings.exits == [1, 2])
        let examples = try Self.hfIds(try SafeTensorsFile(url: Self.reference), "seq").map {
            EncodedExample(ids: $0, typeIds: $0.map { _ in 0 }, queryPositions: [0], labels: [-1])
        }
        try model.encoder.prepare(precision: .fp32)  // as loading does: inference on the packed weights
        #expect(try back.allExitLogits(ExampleBatch(examples)) == model.allExitLogits(ExampleBatch(examples)))
        // One exit only (the HF model itself): no file beside, and it reads back too.
        let single = try MultiExitModel.load(directory: Self.directory("seq"))
        let singleOut = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: singleOut) }
        try single.exportHuggingFace(to: singleOut)
        #expect(!FileManager.default.fileExists(atPath: singleOut.appendingPathComponent(MultiExitModel.exportedExitsFile).path))
        #expect(try MultiExitModel.load(directory: singleOut).allExitLogits(ExampleBatch(examples)) == single.allExitLogits(ExampleBatch(examples)))
        // Mean-pooled heads have no HF counterpart.
        settings.pooling = .mean
        let mean = try MultiExitModel.create(pretrained: Self.directory("seq"), settings: settings, seed: 5)
        let refused = #expect(throws: OfframpError.self) { try mean.exportHuggingFace(to: out) }
        #expect(refused?.message.contains("[CLS]") == true)
        #expect(try MultiExitModel.load(directory: out).settings.pooling == .cls, "a refused export leaves the old directory")
    }

    /// A checkpoint split into shards by model.safetensors.index.json loads as the single file does;
    /// PyTorch's pickle alone is an error saying how to convert it.
    @Test func shardedCheckpointsLoadAndPickleIsExplained() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = Self.directory("seq")
        for file in ["config.json", "tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(file), to: dir.appendingPathComponent(file))
        }
        let whole = try SafeTensorsFile(url: source.appendingPathComponent("model.safetensors"))
        var shards = [SafeTensorsWriter(), SafeTensorsWriter()], map: [String] = []
        for (i, name) in whole.names.enumerated() {
            let shard = i < whole.names.count / 2 ? 0 : 1
            try shards[shard].add(name, shape: whole.tensors[name]!.shape, floats: try whole.floats(name))
            map.append("\"\(name)\": \"model-0000\(shard + 1)-of-00002.safetensors\"")
        }
        for (i, w) in shards.enumerated() { try w.write(to: dir.appendingPathComponent("model-0000\(i + 1)-of-00002.safetensors")) }
        let index = "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {\(map.joined(separator: ", "))}}"
        try Data(index.utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        let examples = try Self.hfIds(try SafeTensorsFile(url: Self.reference), "seq").map {
            EncodedExample(ids: $0, typeIds: $0.map { _ in 0 }, queryPositions: [0], labels: [-1])
        }
        let sharded = try MultiExitModel.load(directory: dir)
        #expect(try sharded.allExitLogits(ExampleBatch(examples)) == MultiExitModel.load(directory: source).allExitLogits(ExampleBatch(examples)))
        // A shard that does not hold what the index says.
        try Data(index.replacingOccurrences(of: "00001-of", with: "00002-of").utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        let wrong = #expect(throws: OfframpError.self) { try MultiExitModel.load(directory: dir) }
        #expect(wrong?.message.contains("which does not hold it") == true)
        // A shard the index names that is not there.
        try Data(index.replacingOccurrences(of: "00001-of", with: "00003-of").utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        let absent = #expect(throws: OfframpError.self) { try MultiExitModel.load(directory: dir) }
        #expect(absent?.message.contains("model.safetensors.index.json: weight_map names the shard model-00003-of-00002.safetensors") == true,
                "\(absent?.message ?? "")")
        // Only a pickle.
        for f in try FileManager.default.contentsOfDirectory(atPath: dir.path) where f.hasPrefix("model") {
            try FileManager.default.removeItem(at: dir.appendingPathComponent(f))
        }
        try Data([0x80, 0x02]).write(to: dir.appendingPathComponent("pytorch_model.bin"))
        let pickle = #expect(throws: OfframpError.self) { try MultiExitModel.load(directory: dir) }
        #expect(pickle?.message.contains("pytorch_model.bin") == true && pickle?.message.contains("safe_serialization=True") == true)
    }

    @Test func unsupportedHeadsAreNamed() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for file in ["model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: Self.directory("seq").appendingPathComponent(file), to: dir.appendingPathComponent(file))
        }
        var config = try BertConfig.load(from: Self.directory("seq").appendingPathComponent("config.json"))
        config.extra["problem_type"] = .string("regression")
        try config.save(to: dir.appendingPathComponent("config.json"))
        let regression = #expect(throws: OfframpError.self) { try MultiExitModel.load(directory: dir) }
        #expect(regression?.message.contains("problem_type \"regression\"") == true)
        config.extra["problem_type"] = nil
        config.extra["architectures"] = .array([.string("BertForMaskedLM")])
        try config.save(to: dir.appendingPathComponent("config.json"))
        let masked = #expect(throws: OfframpError.self) { try MultiExitModel.load(directory: dir) }
        #expect(masked?.message.contains("not a multi-exit model") == true && masked?.message.contains("BertForSequenceClassification") == true)
    }
}
