import Foundation
import Offramp

// MARK: - What each fuzz target feeds and what it asserts

/// The parsers that take bytes from outside: a safetensors header, a
/// config.json (with its "offramp" section), text through the tokenizer,
/// the training-data readers (`data`: TSV, CSV, JSONL, text, CoNLL,
/// word/TAG) and the server's request body (`requestBody`). Each target must either succeed with results that satisfy
/// its invariants or throw an `OfframpError`; a trap, a memory error
/// (the fuzz build runs AddressSanitizer) or a broken invariant is a crash.
enum FuzzTarget: String, CaseIterable {
    case safetensors, config, tokenizer, data
    case requestBody = "request-body"

    func run(_ data: UnsafeRawBufferPointer) {
        switch self {
        case .safetensors: Self.safetensors(data)
        case .config: Self.config(data)
        case .tokenizer: Self.tokenizer(data)
        case .data: Self.data(data)
        case .requestBody: Self.requestBody(data)
        }
    }

    /// Every tensor the header lists must lie inside the file's data and
    /// hold exactly its shape's bytes.
    static func safetensors(_ data: UnsafeRawBufferPointer) {
        guard let header = try? SafeTensorsFile.readHeader(data, path: "fuzz") else { return }
        for t in header.tensors {
            check(t.byteRange.lowerBound >= 8 && t.byteRange.upperBound <= data.count, "\(t.name): \(t.byteRange) outside \(data.count) bytes")
            check(t.byteRange.count == t.elementCount * t.dtype.byteSize, "\(t.name): \(t.byteRange.count) bytes for \(t.elementCount) elements")
            check(t.shape.allSatisfy { $0 >= 0 } && t.shape.reduce(1, *) == t.elementCount, "\(t.name): shape \(t.shape)")
        }
    }

    /// A config that loads must validate: positive sizes, heads dividing
    /// the width, a readable "offramp" section consistent with the layers.
    static func config(_ data: UnsafeRawBufferPointer) {
        // What BertConfig.load does after reading the file.
        guard let config = try? BertConfig(jsonData: Data(data), file: "fuzz"), (try? config.validate(file: "fuzz")) != nil else { return }
        check(config.hiddenSize > 0 && config.numAttentionHeads > 0 && config.hiddenSize % config.numAttentionHeads == 0,
              "hidden \(config.hiddenSize) heads \(config.numAttentionHeads)")
        check(config.numHiddenLayers > 0 && config.vocabSize > 0 && config.maxPositionEmbeddings > 0, "sizes")
        if let settings = try? ExitSettings.read(from: config, file: "fuzz") {
            check(settings.exits.allSatisfy { (1...config.numHiddenLayers).contains($0) }, "exits \(settings.exits)")
        }
        _ = try? config.jsonData()
    }

    /// The first byte picks the maximum length; the rest is text (invalid
    /// UTF-8 repaired as String does). Tokens must be in the vocabulary,
    /// within the maximum length, with word ids and offsets that fit.
    static func tokenizer(_ data: UnsafeRawBufferPointer) {
        guard let first = data.first else { return }
        let maxLength = 2 + Int(first % 64)
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: data.dropFirst()), as: UTF8.self)
        let scalars = text.unicodeScalars.count
        let t = Self.loadedTokenizer
        if let e = try? t.encode(text, pair: nil, maxLength: maxLength) {
            check(e.count <= maxLength && e.count >= 2, "\(e.count) tokens for max \(maxLength)")
            checkShape(e, vocabulary: t.vocabularySize)
            check(e.offsets.allSatisfy { $0.lowerBound >= 0 && $0.upperBound <= scalars }, "offsets past \(scalars) scalars")
        }
        let words = text.split(whereSeparator: \.isWhitespace).map(String.init)
        if let e = try? t.encode(words: words, maxLength: maxLength) {
            checkShape(e, vocabulary: t.vocabularySize)
            check(e.wordIds.allSatisfy { $0 >= -1 && Int($0) < words.count }, "word id out of \(words.count) words")
            check(e.wordIds.filter { $0 >= 0 } == e.wordIds.filter { $0 >= 0 }.sorted(), "word ids out of order")
        }
        if let full = try? t.encode(text, pair: nil, maxLength: nil), full.count <= maxLength {
            check((try? t.encode(text, pair: nil, maxLength: maxLength))?.ids == full.ids, "truncation changed a text that fits")
        }
    }

    // MARK: Seeds

    /// A few valid inputs per target for libFuzzer to start from (it
    /// mutates them; starting from valid files reaches the deep paths).
    static func writeSeeds(to dir: URL) throws {
        func put(_ target: FuzzTarget, _ name: String, _ data: Data) throws {
            let folder = dir.appendingPathComponent(target.rawValue)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try data.write(to: folder.appendingPathComponent(name))
        }
        var w = SafeTensorsWriter()
        w.metadata = ["format": "pt"]
        try w.add("embeddings.word_embeddings.weight", shape: [3, 2], floats: [1, 2, 3, 4, 5, 6])
        try w.add("encoder.layer.0.output.dense.bias", shape: [2], floats: [0.5, -0.5])
        try w.add("position_ids", shape: [1, 4], int64s: [0, 1, 2, 3])
        try w.add("half", dtype: .f16, shape: [2], rawBytes: Data([0, 60, 0, 64]))
        try w.add("scalar", shape: [], floats: [7])
        try put(.safetensors, "small.safetensors", try w.serialized())

        var config = BertConfig()
        config.numHiddenLayers = 4
        try put(.config, "bert.json", try config.jsonData())
        var settings = ExitSettings(task: .label, labels: ["O", "B-PER", "I-PER"], head: .fastbert, pooling: .mean, exits: [1, 2, 4])
        settings.policy = "tokee:2:0.3"
        settings.retention = nil
        try settings.write(into: &config)
        try put(.config, "offramp.json", try config.jsonData())

        let texts = ["A gorgeous, witty, seductive movie.", "Ünïcödé naïve café — “quotes” and ﬁ ligatures",
                     "東京で映画を見た。 한국어 텍스트", "emoji 👍🏽 and ZWJ 👩‍👩‍👧 sequences", "tab\tnew\nline\u{0}nul \u{7f}",
                     String(repeating: "supercalifragilistic", count: 8), "[CLS] [SEP] [MASK] [UNK] ##ing",
                     // SentencePiece's charsmap (the Precompiled normalizer): NFKC folds, a deletion at the
                     // start, graphemes of 6 bytes and more, <mask> taking the space before it.
                     "\u{1}ＡＢＣ１２ ﬁne ㍿ ① e\u{301}\u{302}\u{303} x\u{308}\u{308}\u{308} ｶﾀｶﾅ 🇫🇷 a <mask>  <s>b</s>",
                     "\u{2581}a\u{2581}\u{2581}b \u{200B}\u{FEFF}\u{85} \u{3000}ideo\u{2028}y  \u{1100}\u{1161}\u{11A8}"]
        for (i, t) in texts.enumerated() { try put(.tokenizer, "text\(i)", Data([UInt8(20 + i * 9)]) + Data(t.utf8)) }
        try writeDataSeeds(put)
    }

    static func checkShape(_ e: Encoding, vocabulary: Int) {
        let n = e.ids.count
        check(e.typeIds.count == n && e.wordIds.count == n && e.sequenceIds.count == n && e.offsets.count == n, "ragged encoding")
        check(e.ids.allSatisfy { $0 >= 0 && Int($0) < vocabulary }, "id outside the vocabulary of \(vocabulary)")
    }

    /// The tokenizer under test: $OFFRAMP_FUZZ_MODEL (WordPiece, Unigram or BPE, as
    /// its tokenizer.json says; a directory holding only a tokenizer.json will do,
    /// e.g. the XLM-R-layout fixture, see docs/fuzzing.md), else the cached MiniLM-L6.
    static let loadedTokenizer: any TextTokenizer = {
        let env = ProcessInfo.processInfo.environment
        let dir = env["OFFRAMP_FUZZ_MODEL"] ?? CorpusPreparation.defaultHome.appendingPathComponent("models/minilm-l6").path
        do {
            return try Tokenizers.load(directory: URL(fileURLWithPath: dir))
        } catch {
            fatalError("offramp-fuzz: cannot load the tokenizer in \(dir): \(error) (set OFFRAMP_FUZZ_MODEL)")
        }
    }()

    static func check(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fatalError("invariant broken: \(message())") }
    }
}
