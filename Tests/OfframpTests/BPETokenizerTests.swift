import Foundation
import Offramp
import Testing

// The reference outputs come from scripts/fixtures/make_bpe_tokenizer.py (HF
// RobertaTokenizerFast and `tokenizers` on a byte-level BPE trained on MR). As for
// WordPiece, the corpora are read from the cache and checked against the count and
// checksum the script recorded.

@Suite("BPE tokenizer")
struct BPETokenizerTests {
    /// A committed tokenizer file with make_bpe_tokenizer.py's VARIANTS replacements, loaded.
    static func load(_ file: String, _ replacements: [(String, String)] = []) throws -> any TextTokenizer {
        var text = try String(contentsOf: TestSupport.fixture("tokenizer-bpe/" + file), encoding: .utf8)
        for (old, new) in replacements {
            guard text.contains(old) else { throw OfframpError("\(file) has no \(old)") }
            text = text.replacingOccurrences(of: old, with: new)
        }
        return try loadText(text)
    }

    static func loadText(_ text: String) throws -> any TextTokenizer {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(text.utf8).write(to: dir.appendingPathComponent("tokenizer.json"))
        return try Tokenizers.load(directory: dir)
    }

    static let variants: [String: (String, [(String, String)])] = [
        "prefix": ("tokenizer.json", [("\"add_prefix_space\": false", "\"add_prefix_space\": true")]),
        "untrimmed": ("tokenizer.json", [("\"trim_offsets\": true", "\"trim_offsets\": false")]),
        "small": ("small.json", []),
        "small ignore merges": ("small.json", [("\"ignore_merges\": false", "\"ignore_merges\": true")]),
        "small no prefix space": ("small.json", [("\"add_prefix_space\": true", "\"add_prefix_space\": false")]),
    ]

    // MARK: - Corpora against Hugging Face

    @Test("every MR sentence: ids, word ids and offsets as HF")
    func movieReviews() throws {
        let tokenizer = try Self.load("tokenizer.json")
        let fixture = try SentenceFixture(TestSupport.fixture("tokenizer-bpe/mr.txt.gz"))
        let texts = try TokenizerCorpora.movieReviews()
        try fixture.checkCorpus(count: texts.count, checksum: TokenizerCorpora.checksum(texts: texts), name: "MR")
        let failures = try fixture.failures(texts, label: { "MR line \($0 + 1)" }, encode: { try tokenizer.encode($0) })
        #expect(failures.isEmpty, "\(failures.count) of \(texts.count) sentences differ; first: \(failures.prefix(3))")
    }

    @Test("every WSJ and WNUT-16 sentence as pre-split words, with and without add_prefix_space, as HF")
    func wordCorpora() throws {
        let plain = try Self.load("tokenizer.json")
        let (file, replacements) = Self.variants["prefix"]!
        let prefix = try Self.load(file, replacements)
        for (name, sentences) in [("wsj", try TokenizerCorpora.wsj()), ("wnut", try TokenizerCorpora.wnut())] {
            for (suffix, tokenizer) in [("", plain), ("_prefix", prefix)] {
                let failures = try SentenceFixture.wordFailures(TestSupport.fixture("tokenizer-bpe/\(name)\(suffix).txt.gz"),
                                                                name: name + suffix, sentences, tokenizer)
                #expect(failures.isEmpty, "\(failures.count) of \(sentences.count) differ; first: \(failures.prefix(3))")
            }
        }
    }

    @Test("code points over all planes: the regex's classes and the byte map, as HF")
    func sweep() throws {
        let tokenizer = try Self.load("tokenizer.json")
        let fixture = try SentenceFixture(TestSupport.fixture("tokenizer-bpe/sweep.txt.gz"))
        #expect(fixture.rows.count == Int(fixture.header["count"] ?? "") ?? -1)
        var failures: [String] = []
        for row in fixture.rows {
            // make_bpe_tokenizer.py's `bpe_sweep_text`: each code point c as "ac1c c ".
            var scalars = String.UnicodeScalarView()
            for c in row.prefix {
                let s = Unicode.Scalar(UInt32(c))!
                scalars.append(contentsOf: ["a", s, "1", s, " ", s, " "])
            }
            if let difference = row.difference(from: try tokenizer.encode(String(scalars))) {
                failures.append(String(format: "U+%04X...: ", row.prefix.first ?? 0) + difference)
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(fixture.rows.count) rows differ; first: \(failures.prefix(3))")
    }

    @Test("hand cases, pairs, truncation and variants (cases.json.gz) as HF")
    func cases() throws {
        let standard = try Self.load("tokenizer.json")
        let file = try JSONDecoder().decode(TokenizerCaseFile.self,
                                            from: TestSupport.gunzip(TestSupport.fixture("tokenizer-bpe/cases.json.gz")))
        let (failures, pairs, truncations, variants) = try file.run(standard: standard) { name in
            guard let (file, replacements) = Self.variants[name] else { throw OfframpError("unknown variant \(name)") }
            return try Self.load(file, replacements)
        }
        #expect(file.cases.count > 800 && pairs > 100 && truncations > 150 && variants == Self.variants.count)
        #expect(failures.isEmpty, "\(failures.count) of \(file.cases.count) cases differ; first: \(failures.prefix(3))")
    }

    // MARK: - Hand-written expectations

    @Test("RoBERTa's special ids, <mask> taking the space before it, pairs with </s> </s>")
    func roberta() throws {
        let t = try Self.load("tokenizer.json")
        #expect(t.clsId == t.id(for: "<s>") && t.sepId == t.id(for: "</s>") && t.padId == t.id(for: "<pad>") && t.unkId == t.id(for: "<unk>"))
        let e = try t.encode("a <mask>")
        #expect(e.ids[2] == t.id(for: "<mask>") && e.offsets[2] == 2..<8 && e.count == 4)
        let pair = try t.encode("a", pair: "b", maxLength: nil)
        #expect(pair.ids.count == 6 && pair.ids[2] == t.sepId && pair.ids[3] == t.sepId && pair.typeIds.allSatisfy { $0 == 0 })
        #expect(pair.sequenceIds == [-1, 0, -1, -1, 1, -1])
    }

    // MARK: - Bad input

    @Test("unsupported or broken files are refused, naming the field")
    func errors() throws {
        let base = try String(contentsOf: TestSupport.fixture("tokenizer-bpe/small.json"), encoding: .utf8)
        func message(_ old: String, _ new: String) -> String {
            #expect(base.contains(old), "small.json has no \(old)")
            do {
                _ = try Self.loadText(base.replacingOccurrences(of: old, with: new))
                return "loaded"
            } catch {
                return "\(error)"
            }
        }
        #expect(message("\"dropout\": null", "\"dropout\": 0.1").contains("model.dropout"))
        #expect(message("\"type\": \"ByteLevel\",\n        \"add_prefix_space\": true", "\"type\": \"Whitespace\",\n        \"add_prefix_space\": true")
            .contains("pre_tokenizer.pretokenizers[0].type is Whitespace"))
        #expect(message("\"merges\": [\n      \"", "\"merges\": [\n      \"x y z\", \"").contains("model.merges[0]"))
        #expect(message("\"merges\": [\n      \"", "\"merges\": [\n      \"qqq rrr\", \"").contains("model.merges[0]"))
        #expect(message("\"normalizer\": null", "\"normalizer\": {\"type\": \"NFC\"}").contains("normalizer.type is NFC"))
        #expect(message("\"lstrip\": true", "\"lstrip\": 3").contains("added_tokens[4].lstrip"))
    }
}
