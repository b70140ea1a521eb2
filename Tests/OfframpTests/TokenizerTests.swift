import Foundation
import Offramp
import Testing

// The reference outputs come from scripts/fixtures/dump_tokenizer.py (HF transformers'
// BertTokenizer on the minilm-l6 tokenizer). The fixtures hold no corpus text: the
// corpora are read here from the cache scripts/setup fills, with the script's rules,
// and checked against the count and checksum the script recorded.

@Suite("Tokenizer")
struct TokenizerTests {
    // MARK: - Corpora against Hugging Face

    @Test("every MR sentence: ids, word ids and offsets as HF")
    func movieReviewsMatchHuggingFace() throws {
        let tokenizer = try TokenizerTestData.tokenizer()
        let fixture = try SentenceFixture(TestSupport.fixture("tokenizer/mr.txt.gz"))
        let texts = try TokenizerCorpora.movieReviews()
        try fixture.checkCorpus(count: texts.count, checksum: TokenizerCorpora.checksum(texts: texts), name: "MR")
        let failures = try fixture.failures(texts, label: { "MR line \($0 + 1)" }, encode: { try tokenizer.encode($0) },
                                            also: { $0.typeIds.contains { $0 != 0 } ? "non-zero type id" : nil })
        #expect(failures.isEmpty, "\(failures.count) of \(texts.count) sentences differ; first: \(failures.prefix(3))")
    }

    @Test("every WSJ sentence as pre-split words, as HF")
    func wsjWordsMatchHuggingFace() throws {
        try checkWordCorpus("wsj", TokenizerCorpora.wsj())
    }

    @Test("every WNUT-16 sentence as pre-split words, as HF")
    func wnutWordsMatchHuggingFace() throws {
        try checkWordCorpus("wnut", TokenizerCorpora.wnut())
    }

    private func checkWordCorpus(_ name: String, _ sentences: [[String]]) throws {
        let failures = try SentenceFixture.wordFailures(TestSupport.fixture("tokenizer/\(name).txt.gz"), name: name, sentences,
                                                        TokenizerTestData.tokenizer())
        #expect(failures.isEmpty, "\(failures.count) of \(sentences.count) sentences differ; first: \(failures.prefix(3))")
    }

    // MARK: - Unicode sweep

    @Test("code point sweep (planes 0-1 and samples beyond) as HF")
    func unicodeSweepMatchesHuggingFace() throws {
        try checkSweep("unicode.txt.gz", TokenizerTestData.tokenizer())
    }

    @Test("code point sweep, lower-casing without accent stripping, as HF")
    func unicodeSweepLowercaseOnlyMatchesHuggingFace() throws {
        let vocab = TestSupport.cached("models/minilm-l6/vocab.txt")
        try checkSweep("unicode_lowercase_only.txt.gz", WordPieceTokenizer(vocabURL: vocab, lowercase: true, stripAccents: false))
    }

    private func checkSweep(_ file: String, _ tokenizer: WordPieceTokenizer) throws {
        let fixture = try SentenceFixture(TestSupport.fixture("tokenizer/" + file))
        #expect(fixture.rows.count == Int(fixture.header["count"] ?? "") ?? -1)
        var failures: [String] = []
        for row in fixture.rows {
            guard row.prefix.count == 2 else { throw OfframpError("\(file): row without its code point range") }
            let text = sweepText(row.prefix[0], row.prefix[1])
            let encoding = try tokenizer.encode(text)
            if let difference = row.difference(from: encoding) {
                failures.append(String(format: "U+%04X..<U+%04X: ", row.prefix[0], row.prefix[1]) + difference)
            }
        }
        #expect(failures.isEmpty, "\(file): \(failures.count) of \(fixture.rows.count) blocks differ; first: \(failures.prefix(3))")
    }

    /// dump_tokenizer.py's `sweep_text`: each code point c as "c Acc ".
    private func sweepText(_ lo: Int, _ hi: Int) -> String {
        var scalars = String.UnicodeScalarView()
        for c in lo..<hi {
            guard let scalar = Unicode.Scalar(UInt32(c)) else { continue }  // surrogates
            scalars.append(scalar)
            scalars.append(" ")
            scalars.append("A")
            scalars.append(scalar)
            scalars.append(scalar)
            scalars.append(" ")
        }
        return String(scalars)
    }

    // MARK: - Edge cases, pairs and truncation against Hugging Face

    @Test("edge cases, pairs and truncation (cases.json.gz) as HF")
    func casesMatchHuggingFace() throws {
        let standard = try TokenizerTestData.tokenizer()
        let file = try JSONDecoder().decode(TokenizerCaseFile.self, from: TestSupport.gunzip(TestSupport.fixture("tokenizer/cases.json.gz")))
        var variants: [TokenizerCaseFile.Config: WordPieceTokenizer] = [:]
        func tokenizer(for config: TokenizerCaseFile.Config?) throws -> WordPieceTokenizer {
            guard let config else { return standard }
            if let t = variants[config] { return t }
            let t = try WordPieceTokenizer(vocabURL: TestSupport.cached("models/minilm-l6/vocab.txt"), lowercase: config.lowercase ?? true,
                                           stripAccents: config.strip_accents, tokenizeChineseChars: config.tokenize_chinese_chars ?? true)
            variants[config] = t
            return t
        }
        let (failures, pairs, truncations) = try file.run(tokenizer)
        #expect(file.cases.count > 500 && pairs > 100 && truncations > 150 && variants.count == 4)
        #expect(failures.isEmpty, "\(failures.count) of \(file.cases.count) cases differ; first: \(failures.prefix(3))")
    }

    // MARK: - Hand-written expectations

    @Test("accents, CJK, control characters, long words, punctuation, empty text")
    func handWrittenEdgeCases() throws {
        let t = try TokenizerTestData.tokenizer()
        func tokens(_ text: String) throws -> [String] {
            try t.encode(text).ids.map { t.token(for: $0) ?? "?" }
        }
        #expect(try tokens("Héllo") == ["[CLS]", "hello", "[SEP]"])
        #expect(try tokens("He\u{301}llo") == ["[CLS]", "hello", "[SEP]"])
        #expect(try t.encode("Héllo").offsets == [0..<0, 0..<5, 0..<0])
        // Each CJK ideograph is a word of its own.
        let cjk = try t.encode("中文字")
        #expect(cjk.wordIds == [-1, 0, 1, 2, -1])
        #expect(cjk.offsets == [0..<0, 0..<1, 1..<2, 2..<3, 0..<0])
        // Controls and zero-width characters vanish; the offsets still point into the input.
        let controls = try t.encode("a\u{0}b\u{7}c\u{200B}d")
        #expect(controls.ids == (try t.encode("abcd")).ids)
        #expect(controls.offsets[1..<(controls.count - 1)].first?.lowerBound == 0)
        #expect(controls.offsets[controls.count - 2].upperBound == 7)
        // 100 characters are still a word; 101 are [UNK], over the whole word.
        #expect(try tokens(String(repeating: "a", count: 100)).contains("[UNK]") == false)
        let long = try t.encode("x " + String(repeating: "a", count: 101) + " y")
        #expect(long.ids == [t.clsId, t.id(for: "x")!, t.unkId, t.id(for: "y")!, t.sepId])
        #expect(long.offsets[2] == 2..<103)
        // Punctuation splits, ASCII and Unicode alike.
        #expect(try tokens("wait...what?!") == ["[CLS]", "wait", ".", ".", ".", "what", "?", "!", "[SEP]"])
        #expect(try tokens("«hi»") == ["[CLS]", "«", "hi", "»", "[SEP]"])
        // An unknown character makes its whole word [UNK].
        #expect(try tokens("ok\u{1F970}ok") == ["[CLS]", "[UNK]", "[SEP]"])
        // Empty and blank texts give just the special tokens.
        for text in ["", "   \t\n", "\u{0}\u{FFFD}"] {
            let e = try t.encode(text)
            #expect(e.ids == [t.clsId, t.sepId] && e.wordIds == [-1, -1] && e.typeIds == [0, 0] && !e.truncated)
        }
        #expect(try t.encode(words: []).ids == [t.clsId, t.sepId])
        // Special tokens written in the text are matched (case-sensitively), as in HF.
        #expect(try tokens("[MASK] [mask]") == ["[CLS]", "[MASK]", "[", "mask", "]", "[SEP]"])
    }

    @Test("pairs get segment ids and longest-first truncation")
    func pairsAndTruncation() throws {
        let t = try TokenizerTestData.tokenizer()
        let pair = try t.encode("How old are you?", pair: "I am six.", maxLength: nil)
        #expect(pair.typeIds == [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
        #expect(pair.sequenceIds == [-1, 0, 0, 0, 0, 0, -1, 1, 1, 1, 1, -1])
        #expect(pair.wordIds == [-1, 0, 1, 2, 3, 4, -1, 0, 1, 2, 3, -1])
        #expect(pair.offsets[7] == 0..<1)
        #expect(t.specialTokenCount(pair: false) == 2 && t.specialTokenCount(pair: true) == 3)

        let long = String(repeating: "word ", count: 50)
        let cut = try t.encode(long, pair: "short", maxLength: 16)
        #expect(cut.count == 16 && cut.truncated)
        #expect(cut.sequenceIds.filter { $0 == 1 }.count == 1)  // the short side keeps its one token
        let fits = try t.encode("a b", pair: "c", maxLength: 16)
        #expect(!fits.truncated && fits.count == 6)
        #expect(throws: OfframpError.self) { try t.encode("a", pair: "b", maxLength: 2) }
        #expect(throws: OfframpError.self) { try t.encode("a", maxLength: 1) }
        #expect(try t.encode("a b c", maxLength: 2).ids == [t.clsId, t.sepId])
    }

    // MARK: - Loading

    @Test("tokenizer.json and vocab.txt give the same tokenizer")
    func tokenizerJSONAndVocabAgree() throws {
        let directory = TestSupport.cached("models/minilm-l6")
        let fromJSON = try WordPieceTokenizer(tokenizerJSON: directory.appendingPathComponent("tokenizer.json"))
        let fromVocab = try WordPieceTokenizer(vocabURL: directory.appendingPathComponent("vocab.txt"))
        #expect(fromJSON.vocabularySize == 30522 && fromVocab.vocabularySize == 30522)
        #expect(fromJSON.lowercase && fromJSON.stripAccents && fromJSON.tokenizeChineseChars && fromJSON.cleanText)
        #expect([fromJSON.clsId, fromJSON.sepId, fromJSON.padId, fromJSON.unkId] == [101, 102, 0, 100])
        #expect([fromVocab.clsId, fromVocab.sepId, fromVocab.padId, fromVocab.unkId] == [101, 102, 0, 100])
        var differences = 0
        for text in try TokenizerCorpora.movieReviews() + ["Héllo [MASK] 中文 \u{0} ok", ""] {
            if try fromJSON.encode(text, pair: "second part", maxLength: nil) != fromVocab.encode(text, pair: "second part", maxLength: nil) {
                differences += 1
            }
        }
        #expect(differences == 0)
    }

    @Test("a directory with only vocab.txt and tokenizer_config.json loads")
    func vocabDirectoryLoads() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = TestSupport.cached("models/minilm-l6")
        for name in ["vocab.txt", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: model.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        let t = try WordPieceTokenizer.load(directory: dir)
        #expect(try t.encode("Héllo World").ids == [101, 7592, 2088, 102])
        // do_lower_case false: a cased pipeline (no lower-casing, no accent stripping).
        try Data(#"{"do_lower_case": false}"#.utf8).write(to: dir.appendingPathComponent("tokenizer_config.json"))
        let cased = try WordPieceTokenizer.load(directory: dir)
        #expect(!cased.lowercase && !cased.stripAccents)
        #expect(try cased.encode("Hello").ids == [101, t.unkId, 102])  // the uncased vocab has no "Hello"
    }

    @Test("a missing vocabulary file is an error naming the path")
    func missingVocabNamesPath() throws {
        let path = "/nonexistent/offramp/vocab.txt"
        let missing = #expect(throws: OfframpError.self) {
            _ = try WordPieceTokenizer(vocabURL: URL(fileURLWithPath: path))
        }
        #expect(missing?.message.contains(path) == true)
        let dir = "/nonexistent/offramp-model"
        let noDirectory = #expect(throws: OfframpError.self) {
            _ = try WordPieceTokenizer.load(directory: URL(fileURLWithPath: dir))
        }
        #expect(noDirectory?.message.contains(dir) == true)
    }

    @Test("duplicate, empty and incomplete vocabularies are clear errors")
    func badVocabularies() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func load(_ contents: String) throws -> WordPieceTokenizer {
            let url = dir.appendingPathComponent("vocab.txt")
            try Data(contents.utf8).write(to: url)
            return try WordPieceTokenizer(vocabURL: url)
        }
        func message(_ contents: String) -> String {
            do {
                _ = try load(contents)
                return ""
            } catch {
                return (error as? OfframpError)?.message ?? "\(error)"
            }
        }
        let duplicate = message("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nworld\nhello\n")
        #expect(duplicate.contains("duplicate") && duplicate.contains("hello") && duplicate.contains("line 5")
            && duplicate.contains("line 7"), "\(duplicate)")
        let empty = message("")
        #expect(empty.contains("empty") && empty.contains("vocab.txt"), "\(empty)")
        let noUnk = message("[PAD]\n[CLS]\n[SEP]\nhello\n")
        #expect(noUnk.contains("[UNK]"), "\(noUnk)")
        // A minimal valid vocabulary, CRLF line ends: ids are line indices.
        let t = try load("[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhello\r\n##s\r\n")
        #expect(try t.encode("Hellos hi").ids == [2, 4, 5, 1, 3])
        #expect(t.token(for: 5) == "##s" && t.id(for: "hello") == 4 && t.id(for: "nope") == nil && t.token(for: 99) == nil)
    }

    @Test("unsupported tokenizer.json parts are refused, naming the field")
    func unsupportedTokenizerJSON() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("tokenizer.json")
        func message(_ json: String) -> String {
            do {
                try Data(json.utf8).write(to: url)
                _ = try WordPieceTokenizer(tokenizerJSON: url)
                return ""
            } catch {
                return (error as? OfframpError)?.message ?? "\(error)"
            }
        }
        let vocab = #""vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "a": 4}"#
        let post = #""post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]}"#
        #expect(message(#"{"model": {"type": "BPE", "vocab": {}}}"#).contains("model.type"))
        #expect(message(#"{"model": {"type": "WordPiece", \#(vocab)}, "pre_tokenizer": {"type": "Whitespace"}, \#(post)}"#)
            .contains("pre_tokenizer"))
        #expect(message(#"{"model": {"type": "WordPiece", \#(vocab)}, "normalizer": {"type": "NFC"}, "pre_tokenizer": {"type": "BertPreTokenizer"}, \#(post)}"#)
            .contains("normalizer"))
        #expect(message(#"{"model": {"type": "WordPiece", "#).contains("invalid JSON"))
        // A minimal supported file: no normalizer (cased, nothing stripped), BertProcessing.
        #expect(message(#"{"model": {"type": "WordPiece", \#(vocab)}, "pre_tokenizer": {"type": "BertPreTokenizer"}, \#(post)}"#) == "")
        let t = try WordPieceTokenizer(tokenizerJSON: url)
        #expect(try t.encode("a A").ids == [2, 4, 1, 3])
    }

    @Test("added tokens from tokenizer.json: raw and normalized matches, as HF")
    func addedTokens() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A tiny tokenizer.json with a normalized added token ("Hello World", matched
        // after lower-casing and accent stripping) and a raw one ("<X>"). The
        // expectations were taken from HF tokenizers 0.23.3 on the same file.
        let url = dir.appendingPathComponent("tokenizer.json")
        try Data(Self.addedTokensJSON.utf8).write(to: url)
        let t = try WordPieceTokenizer(tokenizerJSON: url)
        let cases: [(String, [Int32], [Int32], [Range<Int>])] = [
            ("say HELLO  WORLD now", [2, 4, 6, 7, 5, 3], [-1, 0, 1, 2, 3, -1], [0..<0, 0..<3, 4..<9, 11..<16, 17..<20, 0..<0]),
            ("say Héllo World<X>now", [2, 4, 9, 10, 5, 3], [-1, 0, 1, 2, 3, -1], [0..<0, 0..<3, 4..<15, 15..<18, 18..<21, 0..<0]),
            ("helloworld hello world", [2, 1, 9, 3], [-1, 0, 1, -1], [0..<0, 0..<10, 11..<22, 0..<0]),
            ("<x> <X>", [2, 1, 8, 1, 10, 3], [-1, 0, 1, 2, 3, -1], [0..<0, 0..<1, 1..<2, 2..<3, 4..<7, 0..<0]),
        ]
        for (text, ids, words, offsets) in cases {
            let e = try t.encode(text)
            #expect(e.ids == ids && e.wordIds == words && e.offsets == offsets, "\(text): \(e)")
        }
        #expect(t.id(for: "Hello World") == 9 && t.token(for: 10) == "<X>" && t.vocabularySize == 11)
    }

    static let addedTokensJSON = #"""
        {
          "version": "1.0",
          "added_tokens": [
            {"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 1, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 2, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 3, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 9, "content": "Hello World", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": false},
            {"id": 10, "content": "<X>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": false}
          ],
          "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
          "pre_tokenizer": {"type": "BertPreTokenizer"},
          "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                               "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}
          },
          "model": {
            "type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
            "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "say": 4, "now": 5, "hello": 6, "world": 7, "x": 8}
          }
        }
        """#

    // MARK: - Robustness and speed

    @Test("huge and hostile inputs do not crash")
    func hugeInputs() throws {
        let t = try TokenizerTestData.tokenizer()
        let many = String(repeating: "hello world, ", count: 100_000)
        let e = try t.encode(many)
        #expect(e.count == 300_002)
        #expect(try t.encode(many, maxLength: 512).count == 512)
        let oneWord = String(repeating: "é", count: 1_000_000)
        #expect(try t.encode(oneWord).ids == [t.clsId, t.unkId, t.sepId])
        var odd = String.UnicodeScalarView()
        for v in stride(from: UInt32(0), to: 0x110000, by: 97) { if let s = Unicode.Scalar(v) { odd.append(s) } }
        #expect(try t.encode(String(odd)).count > 2)
        #expect(try t.encode(words: ["", " ", "\u{0}", String(odd)]).count > 2)
    }

    @Test("one tokenizer shared by concurrent tasks gives the same results")
    func concurrentUse() async throws {
        let t = try TokenizerTestData.tokenizer()
        let texts = Array(try TokenizerCorpora.movieReviews().prefix(400))
        let serial = try texts.map { try t.encode($0) }
        let parallel = try await withThrowingTaskGroup(of: (Int, Encoding).self) { group in
            for (i, text) in texts.enumerated() { group.addTask { (i, try t.encode(text)) } }
            var out = [Encoding?](repeating: nil, count: texts.count)
            for try await (i, e) in group { out[i] = e }
            return out
        }
        #expect(parallel == serial.map { Optional($0) })
    }
}

// MARK: - Shared data

enum TokenizerTestData {
    private static let shared = Result { try WordPieceTokenizer.load(directory: TestSupport.cached("models/minilm-l6")) }

    /// The minilm-l6 tokenizer (from its tokenizer.json), loaded once.
    static func tokenizer() throws -> WordPieceTokenizer { try shared.get() }
}

/// The corpora, read with dump_tokenizer.py's rules (see there).
enum TokenizerCorpora {
    static func movieReviews() throws -> [String] {
        let url = TestSupport.cached("corpora/mr/movieReviewSnippets_GroundTruth.txt")
        return try lines(url).enumerated().map { n, line in
            var line = line
            if line.last == 0x0D { line.removeLast() }
            let fields = line.split(separator: 0x09, maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, let text = String(validating: fields[2], as: UTF8.self) else {
                throw OfframpError("\(url.path):\(n + 1): expected id<TAB>rating<TAB>text in UTF-8")
            }
            return text
        }
    }

    static func wsj() throws -> [[String]] {
        let url = TestSupport.cached("corpora/pos/tagged-en-wsj.txt")
        var sentences: [[String]] = []
        for (n, line) in try lines(url).enumerated() {
            var words: [String] = []
            for token in line.split(whereSeparator: isASCIISpace) {
                guard let slash = token.lastIndex(of: UInt8(ascii: "/")) else {
                    throw OfframpError("\(url.path):\(n + 1): token without /TAG")
                }
                words.append(String(decoding: token[..<slash], as: UTF8.self))
                if token[(slash + 1)...].elementsEqual([UInt8(ascii: ".")]) {
                    sentences.append(words)
                    words = []
                }
            }
            if !words.isEmpty { sentences.append(words) }
        }
        return sentences
    }

    static func wnut() throws -> [[String]] {
        var sentences: [[String]] = []
        var words: [String] = []
        for line in try lines(TestSupport.cached("corpora/wnut16/ner.txt")) {
            if line.allSatisfy(isASCIISpace) {
                if !words.isEmpty { sentences.append(words) }
                words = []
            } else {
                let word = line.split(separator: 0x09, maxSplits: 1, omittingEmptySubsequences: false)[0]
                words.append(String(decoding: word, as: UTF8.self))
            }
        }
        if !words.isEmpty { sentences.append(words) }
        return sentences
    }

    /// FNV-1a 64 of each text's UTF-8 followed by "\n" (the script's `text_checksum`).
    static func checksum(texts: [String]) -> String {
        var h = FNV1a()
        for text in texts { h.add(text.utf8); h.add([0x0A]) }
        return h.hex
    }

    /// FNV-1a 64 of each sentence's words joined by TAB, then "\n" (`words_checksum`).
    static func checksum(sentences: [[String]]) -> String {
        var h = FNV1a()
        for words in sentences { h.add(words.joined(separator: "\t").utf8); h.add([0x0A]) }
        return h.hex
    }

    /// The file's bytes split on "\n" only; a final empty piece is dropped.
    private static func lines(_ url: URL) throws -> [ArraySlice<UInt8>] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw OfframpError("corpus not found: \(url.path) (run scripts/setup)")
        }
        var lines = [UInt8](data).split(separator: 0x0A, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines
    }

    private static func isASCIISpace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A || b == 0x0B || b == 0x0C
    }

    struct FNV1a {
        var value: UInt64 = 0xCBF2_9CE4_8422_2325
        mutating func add(_ bytes: some Sequence<UInt8>) {
            for b in bytes { value = (value ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        }
        var hex: String {
            let s = String(value, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
    }
}

// MARK: - Fixture formats

/// A .txt.gz fixture: `key value` header lines, `---`, then `ids|word_ids|offsets`
/// rows (optionally preceded by a `numbers|` prefix field).
struct SentenceFixture {
    struct Row {
        var prefix: [Int] = []
        var ids: [Int32] = []
        var wordIds: [Int32] = []
        /// start, end, start, end...
        var offsets: [Int] = []

        /// nil if `encoding` holds exactly these tokens; else what differs.
        func difference(from encoding: Encoding) -> String? {
            if encoding.ids != ids { return "ids \(encoding.ids), want \(ids)" }
            if encoding.wordIds != wordIds { return "word ids \(encoding.wordIds), want \(wordIds)" }
            let got = encoding.offsets.flatMap { [$0.lowerBound, $0.upperBound] }
            if got != offsets { return "offsets \(got), want \(offsets)" }
            let sequenceIds = wordIds.map { $0 < 0 ? Int32(-1) : 0 }
            if encoding.sequenceIds != sequenceIds { return "sequence ids \(encoding.sequenceIds)" }
            if encoding.truncated { return "marked truncated" }
            return nil
        }
    }

    var header: [String: String] = [:]
    var rows: [Row] = []

    init(_ url: URL) throws {
        let bytes = [UInt8](try TestSupport.gunzip(url))
        var inHeader = true
        for line in bytes.split(separator: 0x0A) {
            if inHeader {
                if line.elementsEqual("---".utf8) { inHeader = false; continue }
                let text = String(decoding: line, as: UTF8.self)
                guard let space = text.firstIndex(of: " ") else { throw OfframpError("\(url.path): bad header line \(text)") }
                header[String(text[..<space])] = String(text[text.index(after: space)...])
                continue
            }
            var fields = line.split(separator: UInt8(ascii: "|"), omittingEmptySubsequences: false)
            var row = Row()
            if fields.count == 4 { row.prefix = Self.integers(fields.removeFirst()) }
            guard fields.count == 3 else { throw OfframpError("\(url.path): row \(rows.count) has \(fields.count) fields") }
            row.ids = Self.integers(fields[0]).map { Int32($0) }
            row.wordIds = Self.integers(fields[1]).map { Int32($0) }
            row.offsets = Self.integers(fields[2])
            rows.append(row)
        }
    }

    /// Each input encoded and compared with its row, in order: "label(i): what
    /// differs" for every input that differs, and likewise whatever `also`
    /// reports of an encoding.
    func failures<Input>(_ inputs: [Input], label: (Int) -> String, encode: (Input) throws -> Encoding,
                         also: (Encoding) -> String? = { _ in nil }) rethrows -> [String] {
        var failures: [String] = []
        for (i, input) in inputs.enumerated() {
            let encoding = try encode(input)
            if let difference = rows[i].difference(from: encoding) { failures.append("\(label(i)): \(difference)") }
            if let problem = also(encoding) { failures.append("\(label(i)): \(problem)") }
        }
        return failures
    }

    /// The fixture at `url` checked to be made from `sentences` (pre-split words),
    /// then `failures` of `tokenizer` on every one of them, labelled `name sentence i`.
    static func wordFailures(_ url: URL, name: String, _ sentences: [[String]], _ tokenizer: any TextTokenizer) throws -> [String] {
        let fixture = try SentenceFixture(url)
        try fixture.checkCorpus(count: sentences.count, checksum: TokenizerCorpora.checksum(sentences: sentences), name: name)
        return try fixture.failures(sentences, label: { "\(name) sentence \($0)" }, encode: { try tokenizer.encode(words: $0) })
    }

    /// Fails clearly when the corpus read here is not the one the fixture was made from.
    func checkCorpus(count: Int, checksum: String, name: String) throws {
        guard header["count"] == String(count), header["fnv1a64"] == checksum else {
            throw OfframpError("\(name): the corpus in the cache (\(count) sentences, FNV-1a \(checksum)) is not the one the "
                + "fixture was made from (\(header["count"] ?? "?") sentences, FNV-1a \(header["fnv1a64"] ?? "?"))")
        }
        guard rows.count == count else { throw OfframpError("\(name): fixture has \(rows.count) rows for \(count) sentences") }
    }

    /// Space-separated decimal integers, parsed straight from the bytes.
    private static func integers(_ bytes: ArraySlice<UInt8>) -> [Int] {
        var out: [Int] = []
        var value = 0, negative = false, inNumber = false
        for b in bytes {
            if b == UInt8(ascii: "-") {
                negative = true
            } else if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") {
                value = value * 10 + Int(b - UInt8(ascii: "0"))
                inNumber = true
            } else if inNumber {
                out.append(negative ? -value : value)
                value = 0; negative = false; inNumber = false
            }
        }
        if inNumber { out.append(negative ? -value : value) }
        return out
    }
}

/// cases.json.gz.
struct TokenizerCaseFile: Decodable {
    struct Reference: Decodable {
        var corpus: String
        var index: Int
    }

    struct Expect: Decodable {
        var ids: [Int32]
        var type_ids: [Int32]
        var word_ids: [Int32]
        var sequence_ids: [Int32]
        var offsets: [[Int]]
        var truncated: Bool
    }

    /// A WordPiece variant's normalizer settings, or a BPE variant's name
    /// (make_bpe_tokenizer.py's VARIANTS).
    struct Config: Decodable, Hashable {
        var lowercase: Bool?
        var strip_accents: Bool?
        var tokenize_chinese_chars: Bool?
        var variant: String?
    }

    struct Case: Decodable {
        var name: String
        var config: Config?
        var text: String?
        var pair: String?
        var words: [String]?
        var text_ref: Reference?
        var pair_ref: Reference?
        var words_ref: Reference?
        var max_length: Int?
        var expect: Expect
    }

    var source: String
    var cases: [Case]
}

extension TokenizerCaseFile {
    /// Encodes every case with the tokenizer its config names (corpus references
    /// resolved in the cache) and compares with the expectation: the failures,
    /// and how many cases were pairs and truncations.
    func run(_ tokenizer: (Config?) throws -> any TextTokenizer) throws -> (failures: [String], pairs: Int, truncations: Int) {
        let corpora: [String: [[String]]] = [
            "mr": try TokenizerCorpora.movieReviews().map { [$0] },
            "wsj": try TokenizerCorpora.wsj(),
            "wnut": try TokenizerCorpora.wnut(),
        ]
        func resolve(_ ref: Reference) throws -> [String] {
            guard let corpus = corpora[ref.corpus], corpus.indices.contains(ref.index) else {
                throw OfframpError("cases.json.gz: no sentence \(ref.index) in \(ref.corpus)")
            }
            return corpus[ref.index]
        }
        var failures: [String] = []
        var pairs = 0, truncations = 0
        for c in cases {
            let tokenizer = try tokenizer(c.config)
            let encoding: Encoding
            if let words = c.words {
                encoding = try tokenizer.encode(words: words, maxLength: c.max_length)
            } else if let ref = c.words_ref {
                encoding = try tokenizer.encode(words: resolve(ref), maxLength: c.max_length)
            } else {
                let text = try c.text ?? resolve(c.text_ref!)[0]
                let pair = try c.pair ?? c.pair_ref.map { try resolve($0)[0] }
                encoding = try tokenizer.encode(text, pair: pair, maxLength: c.max_length)
                if pair != nil { pairs += 1 }
            }
            if c.max_length != nil { truncations += 1 }
            let e = c.expect
            let expected = Encoding(ids: e.ids, typeIds: e.type_ids, wordIds: e.word_ids, sequenceIds: e.sequence_ids,
                                    offsets: e.offsets.map { $0[0]..<$0[1] }, truncated: e.truncated)
            if encoding != expected {
                failures.append("\(c.name): got ids \(encoding.ids) type \(encoding.typeIds) words \(encoding.wordIds) "
                    + "offsets \(encoding.offsets.map { [$0.lowerBound, $0.upperBound] }) truncated \(encoding.truncated); "
                    + "want ids \(e.ids) type \(e.type_ids) words \(e.word_ids) offsets \(e.offsets) truncated \(e.truncated)")
            }
        }
        return (failures, pairs, truncations)
    }
}

extension TokenizerCaseFile {
    /// `run` with `standard` for the cases without a variant and, for the others,
    /// the tokenizer `variant` loads for that name (once per name): also how many
    /// variants were loaded.
    func run(standard: any TextTokenizer, variant load: (String) throws -> any TextTokenizer)
        throws -> (failures: [String], pairs: Int, truncations: Int, variants: Int) {
        var loaded: [String: any TextTokenizer] = [:]
        let (failures, pairs, truncations) = try run { config in
            guard let name = config?.variant else { return standard }
            if let t = loaded[name] { return t }
            let t = try load(name)
            loaded[name] = t
            return t
        }
        return (failures, pairs, truncations, loaded.count)
    }
}
