import Foundation
import Offramp
import Testing

// MARK: - Helpers

/// A scratch directory of small data files, removed at the end of a test.
private final class DataFiles {
    let directory: URL

    init() throws { directory = try TestSupport.temporaryDirectory() }
    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Writes `text` (as UTF-8, byte for byte) to a file called `name`.
    func file(_ name: String, _ text: String) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    func url(_ name: String) -> URL { directory.appendingPathComponent(name) }
}

/// Expects `body` to throw an OfframpError whose message holds every one of
/// `fragments` (the file name and "`:line:`", usually), and returns it.
@discardableResult
private func expectError(_ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation,
                         _ body: () throws -> Void) -> String {
    do {
        try body()
        Issue.record("expected an error containing \(fragments)", sourceLocation: sourceLocation)
        return ""
    } catch {
        let message = "\(error)"
        for fragment in fragments {
            #expect(message.contains(fragment), "\"\(message)\" lacks \"\(fragment)\"", sourceLocation: sourceLocation)
        }
        return message
    }
}

// MARK: - Classification files

@Suite("Data: classification files")
struct ClassificationDataTests {
    @Test func tsvRoundTrip() throws {
        let files = try DataFiles()
        let examples = [
            LabeledText(text: "a fine film", label: "positive", line: 1),
            LabeledText(text: "A man sleeps.", pair: "Nobody sleeps.", label: "contradiction", line: 2),
            LabeledText(text: "unicode: café — ok", label: "3", line: 3),
        ]
        let url = files.url("out.tsv")
        try ClassificationData.write(examples, to: url)
        #expect(try ClassificationData.load(url) == examples)
        #expect(try String(contentsOf: url, encoding: .utf8).hasPrefix("positive\ta fine film\n"))
    }

    @Test func tsvUnlabeledRoundTripAndHeader() throws {
        let files = try DataFiles()
        let url = files.url("distill.tsv")
        let examples = [LabeledText(text: "no label here", label: nil, line: 1), LabeledText(text: "nor here", label: nil, line: 2)]
        try ClassificationData.write(examples, to: url)
        #expect(try ClassificationData.load(url, requireLabels: false) == examples)

        // A header is skipped; line numbers still count it. A line without a
        // TAB is unlabeled text when labels are optional.
        let headed = try files.file("headed.tsv", "label\ttext\r\nneg\tdull\r\n\r\njust text\n")
        #expect(try ClassificationData.load(headed, requireLabels: false) == [
            LabeledText(text: "dull", label: "neg", line: 2),
            LabeledText(text: "just text", label: nil, line: 4),
        ])
    }

    /// An example that looks like a header still survives a round trip.
    @Test func headerLookalikeSurvives() throws {
        let files = try DataFiles()
        let url = files.url("odd.tsv")
        try ClassificationData.write([LabeledText(text: "text", label: "label", line: 1)], to: url)
        #expect(try ClassificationData.load(url).map(\.text) == ["text"])
    }

    @Test func csvQuoting() throws {
        let files = try DataFiles()
        let url = try files.file("reviews.csv", """
            label,text,pair
            positive,"good, really good",
            negative,"she said ""no""
            and left",second
            3,plain,"a, b"\r
            neutral,"",x

            """)
        // An empty quoted text is an error, so check the rest first.
        expectError("reviews.csv:6:", "empty") { _ = try ClassificationData.load(url) }
        let fixed = try files.file("fixed.csv", """
            label,text,pair
            positive,"good, really good",
            negative,"she said ""no""
            and left",second
            3,plain,"a, b"\r
            neutral,"multi
            
            line"
            """)
        #expect(try ClassificationData.load(fixed) == [
            LabeledText(text: "good, really good", pair: "", label: "positive", line: 2),
            LabeledText(text: "she said \"no\"\nand left", pair: "second", label: "negative", line: 3),
            LabeledText(text: "plain", pair: "a, b", label: "3", line: 5),
            LabeledText(text: "multi\n\nline", label: "neutral", line: 6),
        ])
    }

    @Test func jsonLines() throws {
        let files = try DataFiles()
        let url = try files.file("nli.jsonl", """
            {"text": "A dog runs.", "text_pair": "An animal moves.", "label": 0, "id": 7}
            {"label": "neutral", "text": "quote \\" and \\u00e9"}

            {"text": "unlabeled", "label": null}
            """)
        #expect(try ClassificationData.load(url, requireLabels: false) == [
            LabeledText(text: "A dog runs.", pair: "An animal moves.", label: "0", line: 1),
            LabeledText(text: "quote \" and é", label: "neutral", line: 2),
            LabeledText(text: "unlabeled", label: nil, line: 4),
        ])
        expectError("nli.jsonl:4:", "missing label") { _ = try ClassificationData.load(url) }
        let floaty = try files.file("float.jsonl", "{\"text\": \"x\", \"label\": 1.5}\n")
        expectError("float.jsonl:1:", "string or an integer") { _ = try ClassificationData.load(floaty) }
    }

    @Test func plainText() throws {
        let files = try DataFiles()
        let url = try files.file("raw.txt", "first text\n\n  \nsecond\tone\n")
        #expect(try ClassificationData.load(url, requireLabels: false) == [
            LabeledText(text: "first text", label: nil, line: 1),
            LabeledText(text: "second\tone", label: nil, line: 4),
        ])
        expectError("raw.txt", "labels are required") { _ = try ClassificationData.load(url) }
    }

    // MARK: Errors

    @Test func tsvMissingLabel() throws {
        let files = try DataFiles()
        let url = try files.file("train.tsv", "positive\tgreat\nno tab on this line\n")
        expectError("train.tsv:2:", "missing label") { _ = try ClassificationData.load(url) }
        let empty = try files.file("emptylabel.tsv", "positive\tgreat\n\tno label\n")
        expectError("emptylabel.tsv:2:", "missing label") { _ = try ClassificationData.load(empty) }
        let wide = try files.file("wide.tsv", "a\tb\tc\td\n")
        expectError("wide.tsv:1:", "4") { _ = try ClassificationData.load(wide) }
    }

    @Test func jsonlMissingLabelAndBadJSON() throws {
        let files = try DataFiles()
        let missing = try files.file("m.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\"}\n")
        expectError("m.jsonl:2:", "missing label") { _ = try ClassificationData.load(missing) }
        let bad = try files.file("bad.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n\n{\"text\": \"b\", label: 1}\n")
        expectError("bad.jsonl:3:", "bad JSON") { _ = try ClassificationData.load(bad) }
        let notObject = try files.file("list.jsonl", "[1, 2]\n")
        expectError("list.jsonl:1:", "object") { _ = try ClassificationData.load(notObject) }
    }

    @Test func csvMalformed() throws {
        let files = try DataFiles()
        let open = try files.file("open.csv", "pos,fine\nneg,\"never closed\nstill going\n")
        expectError("open.csv:2:", "unterminated") { _ = try ClassificationData.load(open) }
        let stray = try files.file("stray.csv", "pos,fine\nneg,\"closed\" then text\n")
        expectError("stray.csv:2:", "closing quote") { _ = try ClassificationData.load(stray) }
        let inner = try files.file("inner.csv", "pos,fi\"ne\n")
        expectError("inner.csv:1:", "quote") { _ = try ClassificationData.load(inner) }
        let oneColumn = try files.file("one.csv", "pos,fine\njust text\n")
        expectError("one.csv:2:", "missing label") { _ = try ClassificationData.load(oneColumn) }
    }

    @Test func emptyAndMissingFiles() throws {
        let files = try DataFiles()
        for name in ["empty.tsv", "empty.csv", "empty.jsonl", "empty.txt"] {
            let url = try files.file(name, "\n\n")
            expectError(name, "empty") { _ = try ClassificationData.load(url, requireLabels: false) }
        }
        let headerOnly = try files.file("header.tsv", "label\ttext\n")
        expectError("header.tsv", "no examples") { _ = try ClassificationData.load(headerOnly) }
        let missing = files.url("nowhere/absent.tsv")
        expectError(missing.path, "missing") { _ = try ClassificationData.load(missing) }
        expectError("data.parquet", "unknown") { _ = try ClassificationData.load(files.url("data.parquet")) }
    }

    /// The MR file has CRLF line ends. "\r\n" is a single Character in Swift,
    /// so splitting a String at Character "\n" would see one long line.
    @Test func crlfLineEnds() throws {
        let files = try DataFiles()
        let url = try files.file("crlf.tsv", "pos\tone\r\nneg\ttwo\r\n")
        #expect(try readTextLines(url).map { "\($0.number):\($0.text)" } == ["1:pos\tone", "2:neg\ttwo"])
        #expect(try ClassificationData.load(url).map(\.text) == ["one", "two"])
    }

    @Test func invalidUTF8NamesTheLine() throws {
        let files = try DataFiles()
        let url = files.url("latin1.tsv")
        try Data("pos\tok\n".utf8 + [0x6E, 0x65, 0x67, 0x09, 0xE9, 0x0A]).write(to: url)
        expectError("latin1.tsv:2:", "UTF-8") { _ = try ClassificationData.load(url) }
    }

    @Test func writeRefusesUnwritableFields() throws {
        let files = try DataFiles()
        let url = files.url("w.tsv")
        expectError("w.tsv", "line 4") {
            try ClassificationData.write([LabeledText(text: "a\tb", label: "x", line: 4)], to: url)
        }
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }
}

// MARK: - Token classification files

@Suite("Data: tagged sentences")
struct TokenLabelDataTests {
    @Test func conllRoundTrip() throws {
        let files = try DataFiles()
        let sentences = [
            TaggedSentence(words: ["Empire", "State", "Building", "!"], tags: ["B-facility", "I-facility", "I-facility", "O"], line: 1),
            TaggedSentence(words: ["@user", "New York"], tags: ["O", "B-geo-loc"], line: 6),
        ]
        let url = files.url("ner.conll")
        try TokenLabelData.write(sentences, to: url)
        #expect(try TokenLabelData.load(url) == sentences)
    }

    @Test func conllSeparatorsAndColumns() throws {
        let files = try DataFiles()
        // WNUT's separator is a lone TAB; CoNLL-2003 has space-separated
        // columns (token first, tag last) and -DOCSTART- lines.
        let url = try files.file("mixed.txt", """
            @paulwalk\tO
            ESB\tB-facility
            \t
            -DOCSTART- -X- -X- O

            EU NNP B-NP B-ORG
            rejects VBZ B-VP O\r
              \r
            
            """)
        #expect(try TokenLabelData.load(url) == [
            TaggedSentence(words: ["@paulwalk", "ESB"], tags: ["O", "B-facility"], line: 1),
            TaggedSentence(words: ["EU", "rejects"], tags: ["B-ORG", "O"], line: 6),
        ])
    }

    @Test func wordTagSplitsAtTheLastSlash() throws {
        let files = try DataFiles()
        let url = try files.file("wsj.pos", """
            AT&T/NNP bought/VBD 1\\/2/CD of/IN it/PRP ./. Then/RB and\\/or/CC ,/,
            \\/NN
            
            Trailing/JJ words/NNS
            """)
        let sentences = try TokenLabelData.load(url)
        #expect(sentences == [
            TaggedSentence(words: ["AT&T", "bought", "1/2", "of", "it", "."], tags: ["NNP", "VBD", "CD", "IN", "PRP", "."], line: 1),
            TaggedSentence(words: ["Then", "and/or", ","], tags: ["RB", "CC", ","], line: 1),
            TaggedSentence(words: ["\\"], tags: ["NN"], line: 2),
            TaggedSentence(words: ["Trailing", "words"], tags: ["JJ", "NNS"], line: 4),
        ])
        // Sniffed from the content under another extension, and loadWordTag
        // reads it whatever the extension.
        let sniffed = try files.file("wsj.txt", try String(contentsOf: url, encoding: .utf8))
        #expect(try TokenLabelData.load(sniffed) == sentences)
        #expect(try TokenLabelData.loadWordTag(sniffed) == sentences)
    }

    // MARK: Errors

    @Test func conllOneColumn() throws {
        let files = try DataFiles()
        let url = try files.file("bad.conll", "a\tO\nb\tO\n\nlonely\n")
        expectError("bad.conll:4:", "one column") { _ = try TokenLabelData.load(url) }
    }

    @Test func wordTagWithoutSlash() throws {
        let files = try DataFiles()
        let url = try files.file("bad.pos", "ok/JJ ./.\nfine/JJ broken ./.\n")
        expectError("bad.pos:2:", "broken") { _ = try TokenLabelData.load(url) }
        let emptyTag = try files.file("tagless.tagged", "word/\n")
        expectError("tagless.tagged:1:", "empty") { _ = try TokenLabelData.load(emptyTag) }
    }

    @Test func emptyAndMissing() throws {
        let files = try DataFiles()
        let empty = try files.file("empty.conll", "\t\n\n")
        expectError("empty.conll", "empty") { _ = try TokenLabelData.load(empty) }
        let emptyPOS = try files.file("empty.pos", "")
        expectError("empty.pos", "empty") { _ = try TokenLabelData.loadWordTag(emptyPOS) }
        let missing = files.url("gone.conll")
        expectError(missing.path, "missing") { _ = try TokenLabelData.load(missing) }
    }
}

// MARK: - Label sets

@Suite("Data: label sets")
struct LabelSetTests {
    @Test func bioOrderPutsOFirst() throws {
        let sentences = [
            TaggedSentence(words: ["a", "b", "c"], tags: ["I-person", "B-person", "O"], line: 1),
            TaggedSentence(words: ["d", "e"], tags: ["B-company", "O"], line: 3),
        ]
        let set = LabelSet.collect(sentences)
        #expect(set.labels == ["O", "B-company", "B-person", "I-person"])
        #expect(try set.indices(of: sentences, file: "train.conll") == [[3, 2, 0], [1, 0]])
    }

    @Test func classesAreSorted() throws {
        let examples = ["positive", "negative", "positive", "neutral"].enumerated().map {
            LabeledText(text: "t", label: $1, line: $0 + 1)
        } + [LabeledText(text: "unlabeled", label: nil, line: 5)]
        let set = LabelSet.collect(examples)
        #expect(set.labels == ["negative", "neutral", "positive"])
        #expect(set.index("neutral") == 1)
        #expect(set.index("O") == nil)
        #expect(try set.indices(of: Array(examples.prefix(4)), file: "x.tsv") == [2, 0, 2, 1])
        expectError("x.tsv:5:", "no label") { _ = try set.indices(of: examples, file: "x.tsv") }
    }

    @Test func unknownTagInDev() throws {
        let train = [TaggedSentence(words: ["a"], tags: ["O"], line: 1)]
        let dev = [TaggedSentence(words: ["x"], tags: ["O"], line: 1),
                   TaggedSentence(words: ["y", "z"], tags: ["O", "B-movie"], line: 3)]
        let message = expectError("dev.conll:3:", "B-movie", "\"O\"") {
            _ = try LabelSet.collect(train).indices(of: dev, file: "dev.conll")
        }
        #expect(message.contains("known"))

        // Many labels are abbreviated in the message.
        let many = LabelSet((0..<50).map { "L\($0)" })
        let long = expectError("dev.tsv:2:", "\"nope\"", "and 30 more") {
            _ = try many.indices(of: [LabeledText(text: "t", label: "nope", line: 2)], file: "dev.tsv")
        }
        #expect(!long.contains("L49"))
    }

    @Test func codableAndDuplicates() throws {
        let set = LabelSet(["b", "a", "b"])
        #expect(set.labels == ["b", "a"])
        let json = try JSONEncoder().encode(set)
        #expect(String(decoding: json, as: UTF8.self) == #"{"labels":["b","a"]}"#)
        let back = try JSONDecoder().decode(LabelSet.self, from: json)
        #expect(back == set && back.index("a") == 1)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(LabelSet.self, from: Data(#"{"labels":["a","a"]}"#.utf8)) }
    }
}

// MARK: - Splits

@Suite("Data: corpus preparation")
struct CorpusPreparationTests {
    /// The permutation pinned against an independent SplitMix64 + Fisher–Yates
    /// (Python), so the split cannot drift with a Swift or library change.
    @Test func shuffleIsPinned() {
        #expect(CorpusPreparation.shuffled(Array(0..<10), seed: 13) == [8, 1, 2, 4, 9, 3, 7, 0, 6, 5])
        let parts = CorpusPreparation.split(Array(0..<10))
        #expect(parts.train == [8, 1, 2, 4, 9, 3, 7, 0] && parts.dev == [6] && parts.test == [5])
        let small = CorpusPreparation.split(Array(0..<19))
        #expect((small.train.count, small.dev.count, small.test.count) == (15, 1, 3))
    }

    /// The real corpora from the cache: sizes, the split rule and determinism.
    @Test func realCorpora() throws {
        let home = TestSupport.offrampHome
        let out = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let reports = try CorpusPreparation.prepare(home: home, out: out)
        #expect(reports.map(\.corpus) == ["mr", "wsj-pos", "oanc-pos", "wnut16"])

        // MR: the nonzero ratings, split by the rule, recomputed here with
        // the test's own Fisher–Yates.
        let reviews = try MovieReviews.load(home.appendingPathComponent(CorpusPreparation.Source.movieReviews))
        var kept = reviews.filter { $0.rating != 0 }
        #expect(reviews.count == 10_605 && kept.count == 10_568)
        var rng = SeededRandom(seed: 13)
        for i in stride(from: kept.count - 1, to: 0, by: -1) {
            kept.swapAt(i, Int(rng.next() % UInt64(i + 1)))
        }
        let nTrain = kept.count * 8 / 10, nDev = kept.count / 10
        let mr = reports[0]
        #expect((mr.train, mr.dev, mr.test) == (nTrain, nDev, kept.count - nTrain - nDev))
        let train = try ClassificationData.load(out.appendingPathComponent("mr/train.tsv"))
        #expect(train.map(\.text) == kept[..<nTrain].map(\.text))
        #expect(train.map(\.label) == kept[..<nTrain].map { $0.rating > 0 ? "positive" : "negative" })
        let test = try ClassificationData.load(out.appendingPathComponent("mr/test.tsv"))
        #expect(test.map(\.text) == kept[(nTrain + nDev)...].map(\.text))

        // Tagged corpora: 80/10/10 of their sentences, and the files hold them.
        for report in reports.dropFirst() {
            let total = report.train + report.dev + report.test
            #expect(report.train == total * 8 / 10 && report.dev == total / 10, "\(report.corpus)")
            let dev = try TokenLabelData.load(report.directory.appendingPathComponent("dev.conll"))
            #expect(dev.count == report.dev, "\(report.corpus)")
        }
        #expect(reports[3].train + reports[3].dev + reports[3].test == 2_394)
        #expect(reports[1].tokens == 25_026 && reports[2].tokens == 360_524)

        // The same seed gives the same bytes: prepare again over the files.
        let names = ["mr/train.tsv", "mr/dev.tsv", "mr/test.tsv"]
            + ["wsj-pos", "oanc-pos", "wnut16"].flatMap { c in ["train", "dev", "test"].map { "\(c)/\($0).conll" } }
        let before = try names.map { try Data(contentsOf: out.appendingPathComponent($0)) }
        _ = try CorpusPreparation.prepare(home: home, out: out)
        let after = try names.map { try Data(contentsOf: out.appendingPathComponent($0)) }
        #expect(before == after)
    }

    @Test func missingCorpusNamesThePath() throws {
        let home = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: home) }
        expectError("corpora/mr/movieReviewSnippets_GroundTruth.txt") {
            _ = try CorpusPreparation.prepare(home: home, out: home.appendingPathComponent("out"))
        }
    }
}
