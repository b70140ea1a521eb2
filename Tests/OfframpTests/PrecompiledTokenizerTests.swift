import Foundation
import Offramp
import Testing

// The reference outputs come from scripts/fixtures/make_unigram_tokenizer.py (a
// sentencepiece nmt_nfkc Unigram model trained on MR, converted by transformers'
// XLMRobertaTokenizerFast; HF `tokenizers` 0.23). The corpora are read from the
// cache and checked against the count and checksum the script recorded.

@Suite("Unigram tokenizer with the Precompiled normalizer (XLM-R layout)")
struct PrecompiledTokenizerTests {
    /// The committed tokenizer.json.gz text.
    static func baseText() throws -> String {
        String(decoding: try TestSupport.gunzip(TestSupport.fixture("tokenizer-unigram/tokenizer.json.gz")), as: UTF8.self)
    }

    /// The base file with make_unigram_tokenizer.py's VARIANTS replacements, loaded.
    static func load(_ replacements: [(String, String)] = []) throws -> any TextTokenizer {
        var text = try baseText()
        for (old, new) in replacements {
            guard text.contains(old) else { throw OfframpError("tokenizer.json has no \(old.prefix(60))") }
            text = text.replacingOccurrences(of: old, with: new)
        }
        return try BPETokenizerTests.loadText(text)
    }

    static let sequencePre = "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"WhitespaceSplit\"},{\"type\":\"Metaspace\","
        + "\"replacement\":\"\u{2581}\",\"prepend_scheme\":\"always\",\"split\":true}]}"
    static let metaspace = "{\"type\":\"Metaspace\",\"replacement\":\"\u{2581}\",\"prepend_scheme\":\"always\",\"split\":true}"
    static let normalizerOpen = "\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\""
    static let normalizerClose = "\"},\"pre_tokenizer\":"

    static func sequenceNormalizer(_ after: String...) -> [(String, String)] {
        [(normalizerOpen, "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Precompiled\",\"precompiled_charsmap\":\""),
         (normalizerClose, "\"}," + after.joined(separator: ",") + "]},\"pre_tokenizer\":")]
    }

    static let replaceSpaces = "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" {2,}\"},\"content\":\" \"}"
    static let replaceSpacesMark = "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" {2,}\"},\"content\":\"\u{2581}\"}"
    static let stripRight = "{\"type\":\"Strip\",\"strip_left\":false,\"strip_right\":true}"

    static let variants: [String: [(String, String)]] = [
        "e5": sequenceNormalizer(replaceSpaces),
        "spm": sequenceNormalizer(stripRight, replaceSpacesMark) + [(sequencePre, metaspace)],
        "first": [(sequencePre, metaspace.replacingOccurrences(of: "\"always\"", with: "\"first\""))],
        "first sequence": [(sequencePre, sequencePre.replacingOccurrences(of: "\"always\"", with: "\"first\""))],
        "never": [(sequencePre, sequencePre.replacingOccurrences(of: "\"always\"", with: "\"never\""))],
        "no split": sequenceNormalizer(replaceSpaces) + [(sequencePre, metaspace.replacingOccurrences(of: "true", with: "false"))],
    ]

    // MARK: - Corpora against Hugging Face

    @Test("every MR sentence: ids, word ids and offsets as HF, as transformers writes the file and with Metaspace alone")
    func movieReviews() throws {
        let texts = try TokenizerCorpora.movieReviews()
        for (file, tokenizer) in [("mr", try Self.load()), ("mr_spm", try Self.load(Self.variants["spm"]!))] {
            let fixture = try SentenceFixture(TestSupport.fixture("tokenizer-unigram/\(file).txt.gz"))
            try fixture.checkCorpus(count: texts.count, checksum: TokenizerCorpora.checksum(texts: texts), name: file)
            let failures = try fixture.failures(texts, label: { "\(file) line \($0 + 1)" }, encode: { try tokenizer.encode($0) })
            #expect(failures.isEmpty, "\(failures.count) of \(texts.count) sentences differ; first: \(failures.prefix(3))")
        }
    }

    @Test("every WSJ and WNUT-16 sentence as pre-split words, as HF")
    func wordCorpora() throws {
        let tokenizer = try Self.load()
        for (name, sentences) in [("wsj", try TokenizerCorpora.wsj()), ("wnut", try TokenizerCorpora.wnut())] {
            let failures = try SentenceFixture.wordFailures(TestSupport.fixture("tokenizer-unigram/\(name).txt.gz"), name: name,
                                                            sentences, tokenizer)
            #expect(failures.isEmpty, "\(failures.count) of \(sentences.count) differ; first: \(failures.prefix(3))")
        }
    }

    @Test("code points over all planes through the charsmap, as HF")
    func sweep() throws {
        let tokenizer = try Self.load()
        let fixture = try SentenceFixture(TestSupport.fixture("tokenizer-unigram/sweep.txt.gz"))
        #expect(fixture.rows.count == Int(fixture.header["count"] ?? "") ?? -1 && fixture.rows.count > 200)
        var texts: [String] = []
        for row in fixture.rows {
            // make_unigram_tokenizer.py's `unigram_sweep_text`: each code point c as "ac bc c ".
            var scalars = String.UnicodeScalarView()
            for c in row.prefix {
                let s = Unicode.Scalar(UInt32(c))!
                scalars.append(contentsOf: ["a", s, " ", "b", s, " ", s, " "])
            }
            texts.append(String(scalars))
        }
        let failures = try fixture.failures(texts, label: { String(format: "U+%04X...", fixture.rows[$0].prefix.first ?? 0) },
                                            encode: { try tokenizer.encode($0) })
        #expect(failures.isEmpty, "\(failures.count) of \(fixture.rows.count) rows differ; first: \(failures.prefix(3))")
    }

    @Test("hand cases, pairs, truncation and every layout variant (cases.json.gz) as HF")
    func cases() throws {
        let standard = try Self.load()
        let file = try JSONDecoder().decode(TokenizerCaseFile.self,
                                            from: TestSupport.gunzip(TestSupport.fixture("tokenizer-unigram/cases.json.gz")))
        let (failures, pairs, truncations, variants) = try file.run(standard: standard) { name in
            guard let replacements = Self.variants[name] else { throw OfframpError("unknown variant \(name)") }
            return try Self.load(replacements)
        }
        #expect(file.cases.count > 1000 && pairs > 50 && truncations > 100 && variants == Self.variants.count)
        #expect(failures.isEmpty, "\(failures.count) of \(file.cases.count) cases differ; first: \(failures.prefix(3))")
    }

    // MARK: - Hand-written expectations

    @Test("XLM-R's special ids, <mask> taking the space before it, a ligature expanded with both halves on its offsets")
    func xlmr() throws {
        let t = try Self.load()
        #expect(t is UnigramTokenizer)
        #expect(t.clsId == 0 && t.padId == 1 && t.sepId == 2 && t.unkId == 3 && t.id(for: "<mask>") == 8001)
        let e = try t.encode("a <mask>")
        #expect(e.ids.last == 2 && e.ids[e.count - 2] == 8001 && e.offsets[e.count - 2] == 1..<8)
        // "ﬁ" becomes "fi" (NFKC); every token from it points back at the one input character.
        let f = try t.encode("ﬁ")
        #expect(f.count > 2 && f.offsets.dropFirst().dropLast().allSatisfy { $0 == 0..<1 })
        #expect(try t.encode("ﬁ").ids == t.encode("fi").ids)
        // HF's oddities, kept: a character deleted at the very start (U+0001)
        // shifts the offsets after it back by one...
        let shifted = try t.encode("\u{1}abc")
        #expect(shifted.offsets.dropFirst().dropLast().map(\.lowerBound) == Array(0..<(shifted.count - 2)), "\(shifted.offsets)")
        // ...and a grapheme whose first character alone has a rule (Ａ + U+0301) is
        // replaced whole by that rule: the accent is gone, "Ａ́" tokenizes as "A".
        #expect(try t.encode("\u{FF21}\u{301}").ids == t.encode("A").ids)
    }

    // MARK: - Bad input

    @Test("a corrupt charsmap, an unknown normalizer, an unknown pre-tokenizer in a Sequence: errors naming the JSON path")
    func errors() throws {
        func message(_ replacements: [(String, String)]) -> String {
            do {
                _ = try Self.load(replacements)
                return "loaded"
            } catch {
                return "\(error)"
            }
        }
        // The trie size claims more than the blob holds ("////" decodes to FF FF FF).
        let corrupt = message([(Self.normalizerOpen, Self.normalizerOpen + "////")])
        #expect(corrupt.contains("normalizer.precompiled_charsmap") && corrupt.contains("trie size"), "\(corrupt)")
        #expect(message([(Self.normalizerOpen, Self.normalizerOpen + "*")]).contains("normalizer.precompiled_charsmap is not valid base64"))
        // A trie whose root points far outside it.
        let outside = try charsmapMessage(units: [0xFFFF_FC00], pool: [0])
        #expect(outside.contains("normalizer.precompiled_charsmap") && outside.contains("past its 1 units"), "\(outside)")
        let nfkc = message([(Self.normalizerOpen, "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFKC\"},"
            + "{\"type\":\"Precompiled\",\"precompiled_charsmap\":\""), (Self.normalizerClose, "\"}]},\"pre_tokenizer\":")])
        #expect(nfkc.contains("normalizer.normalizers[0].type is NFKC"), "\(nfkc)")
        let punctuation = message([(Self.sequencePre, Self.sequencePre.replacingOccurrences(of: "WhitespaceSplit", with: "Punctuation"))])
        #expect(punctuation.contains("pre_tokenizer.pretokenizers[0].type is Punctuation"), "\(punctuation)")
        let prepend = message([(Self.sequencePre, Self.sequencePre.replacingOccurrences(of: "\"always\"", with: "\"sometimes\""))])
        #expect(prepend.contains("pre_tokenizer.pretokenizers[1].prepend_scheme"), "\(prepend)")
    }

    /// The load error of the base file with its charsmap replaced by these units and pool.
    private func charsmapMessage(units: [UInt32], pool: [UInt8]) throws -> String {
        var blob: [UInt8] = []
        for v in [UInt32(units.count * 4)] + units { blob += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }
        blob += pool
        let text = try Self.baseText()
        guard let open = text.range(of: Self.normalizerOpen), let close = text.range(of: Self.normalizerClose) else {
            throw OfframpError("tokenizer.json has no Precompiled normalizer")
        }
        let patched = text[..<open.upperBound] + Data(blob).base64EncodedString() + text[close.lowerBound...]
        do {
            _ = try BPETokenizerTests.loadText(String(patched))
            return "loaded"
        } catch {
            return "\(error)"
        }
    }
}
