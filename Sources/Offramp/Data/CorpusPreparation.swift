import Foundation

// MARK: - Seeded train/dev/test splits of the real corpora

/// Turns the corpora scripts/setup downloads into train/dev/test files.
///
/// Every split is 80/10/10 of a shuffle with seed 13 (SplitMix64 and our own
/// Fisher–Yates, so it is the same on every machine and Swift version):
/// the first floor(80%) examples train, the next floor(10%) dev, the rest test.
public enum CorpusPreparation {
    /// What one corpus was split into.
    public struct SplitReport: Sendable {
        public let corpus: String
        public let train: Int
        public let dev: Int
        public let test: Int
        public let directory: URL
        /// "examples" (classification) or "sentences" (tagging).
        public let unit: String
        /// Words over all three splits (whitespace-separated for text).
        public let tokens: Int
        /// Labels of dev or test that train lacks (a rare POS tag, say): a
        /// model trained on train cannot predict them, and mapping dev with
        /// the train `LabelSet` reports them as unknown.
        public let unseenLabels: [String]
    }

    /// The seed of every split.
    public static let seed: UInt64 = 13

    /// Where scripts/setup caches models and corpora: `$OFFRAMP_HOME`, by
    /// default ~/.cache/offramp.
    public static var defaultHome: URL {
        if let home = ProcessInfo.processInfo.environment["OFFRAMP_HOME"], !home.isEmpty {
            return URL(fileURLWithPath: home)
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/offramp")
    }

    /// The corpora's files under the cache directory (`$OFFRAMP_HOME`).
    public enum Source {
        public static let movieReviews = "corpora/mr/movieReviewSnippets_GroundTruth.txt"
        public static let wsj = "corpora/pos/tagged-en-wsj.txt"
        public static let oanc = "corpora/pos/tagged-en-oanc.txt"
        public static let wnut16 = "corpora/wnut16/ner.txt"
    }

    /// Reads the corpora under `home` and writes
    /// `out/{mr,wsj-pos,oanc-pos,wnut16}/{train,dev,test}.{tsv|conll}`.
    /// The same input gives the same bytes, and each file is written atomically.
    public static func prepare(home: URL, out: URL) throws -> [SplitReport] {
        try [
            prepareMovieReviews(home.appendingPathComponent(Source.movieReviews), out: out.appendingPathComponent("mr")),
            prepareTagged("wsj-pos", try TokenLabelData.loadWordTag(home.appendingPathComponent(Source.wsj)), out: out),
            prepareTagged("oanc-pos", try TokenLabelData.loadWordTag(home.appendingPathComponent(Source.oanc)), out: out),
            prepareTagged("wnut16", try TokenLabelData.loadCoNLL(home.appendingPathComponent(Source.wnut16)), out: out),
        ]
    }

    // MARK: - Splitting

    /// `items` shuffled with `seed` (Fisher–Yates driven by SplitMix64).
    public static func shuffled<T>(_ items: [T], seed: UInt64) -> [T] {
        var items = items
        var rng = SeededRandom(seed: seed)
        for i in stride(from: items.count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            items.swapAt(i, j)
        }
        return items
    }

    /// The 80/10/10 split of `items` after a seeded shuffle.
    public static func split<T>(_ items: [T], seed: UInt64 = seed) -> (train: [T], dev: [T], test: [T]) {
        let items = shuffled(items, seed: seed)
        let train = items.count * 8 / 10, dev = items.count / 10
        return (Array(items[..<train]), Array(items[train..<(train + dev)]), Array(items[(train + dev)...]))
    }

    // MARK: - Corpora

    /// MR: zero ratings dropped (neither side), the sign of the rating the label.
    static func prepareMovieReviews(_ source: URL, out: URL) throws -> SplitReport {
        let examples = try MovieReviews.load(source).enumerated().compactMap { index, review -> LabeledText? in
            // MovieReviews keeps every line in order, so the position is the line.
            review.rating == 0 ? nil : LabeledText(text: review.text, label: review.rating > 0 ? "positive" : "negative", line: index + 1)
        }
        let parts = split(examples)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        for (name, part) in [("train", parts.train), ("dev", parts.dev), ("test", parts.test)] {
            try ClassificationData.write(part, to: out.appendingPathComponent("\(name).tsv"))
        }
        let known = Set(parts.train.compactMap(\.label))
        let unseen = Set((parts.dev + parts.test).compactMap(\.label)).subtracting(known)
        return SplitReport(corpus: "mr", train: parts.train.count, dev: parts.dev.count, test: parts.test.count,
                           directory: out, unit: "examples",
                           tokens: examples.reduce(0) { $0 + $1.text.split(whereSeparator: \.isWhitespace).count },
                           unseenLabels: unseen.sorted())
    }

    static func prepareTagged(_ corpus: String, _ sentences: [TaggedSentence], out: URL) throws -> SplitReport {
        let directory = out.appendingPathComponent(corpus)
        let parts = split(sentences)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, part) in [("train", parts.train), ("dev", parts.dev), ("test", parts.test)] {
            try TokenLabelData.write(part, to: directory.appendingPathComponent("\(name).conll"))
        }
        let known = Set(parts.train.flatMap(\.tags))
        let unseen = Set((parts.dev + parts.test).flatMap(\.tags)).subtracting(known)
        return SplitReport(corpus: corpus, train: parts.train.count, dev: parts.dev.count, test: parts.test.count,
                           directory: directory, unit: "sentences",
                           tokens: sentences.reduce(0) { $0 + $1.words.count }, unseenLabels: unseen.sorted())
    }
}
