// MARK: - Examples as the model consumes them

/// One tokenized example. For the sequence task `labels` holds one label
/// index and `queryPositions` is [0] ([CLS]); for the token task, one label per
/// word at its first piece (`queryPositions`, positions within the sequence).
/// A label of -1 means unlabeled (distillation needs no labels).
public struct EncodedExample: Sendable, Equatable {
    public var ids: [Int32]
    public var typeIds: [Int32]
    public var queryPositions: [Int]
    public var labels: [Int32]
    /// Token task: each row's word (an index into `queryPositions`), -1 for
    /// special tokens; empty for the sequence task. TOKEE halts a word's
    /// pieces together.
    public var rowWords: [Int32]

    public init(ids: [Int32], typeIds: [Int32], queryPositions: [Int], labels: [Int32], rowWords: [Int32] = []) {
        self.ids = ids; self.typeIds = typeIds; self.queryPositions = queryPositions; self.labels = labels
        self.rowWords = rowWords
    }
}

public enum ExampleEncoder {
    /// Tokenizes classification examples; labels must be in `labels` (or all
    /// nil when unlabeled use is allowed).
    public static func encode(_ examples: [LabeledText], labels: LabelSet?, tokenizer: any TextTokenizer,
                              maxLength: Int, file: String) throws -> [EncodedExample] {
        let indices: [Int]? = try labels.map { try $0.indices(of: examples, file: file) }
        return try examples.enumerated().map { i, e in
            let enc = try tokenizer.encode(e.text, pair: e.pair, maxLength: maxLength)
            return EncodedExample(ids: enc.ids, typeIds: enc.typeIds, queryPositions: [0],
                                  labels: [Int32(indices?[i] ?? -1)])
        }
    }

    /// Tokenizes tagged sentences word by word; each word's label goes to its
    /// first piece. Words cut off by truncation are dropped from the example
    /// (their labels with them).
    public static func encode(_ sentences: [TaggedSentence], labels: LabelSet, tokenizer: any TextTokenizer,
                              maxLength: Int, file: String) throws -> [EncodedExample] {
        let indices = try labels.indices(of: sentences, file: file)
        return try sentences.enumerated().map { i, s in
            let enc = try tokenizer.encode(words: s.words, maxLength: maxLength)
            return wordExample(enc, labels: indices[i].map(Int32.init)).example
        }
    }

    /// The example of one encoded word sequence: each word's label (-1 for
    /// none) at its first piece. Also returns, per input word, its index
    /// among the example's words (nil when truncation or normalization left
    /// it no piece).
    public static func wordExample(_ enc: Encoding, labels: [Int32]?) -> (example: EncodedExample, wordIndex: [Int: Int]) {
        var positions: [Int] = [], tags: [Int32] = []
        var index: [Int: Int] = [:]  // input word -> index among the words kept
        for (pos, w) in enc.wordIds.enumerated() where w >= 0 && index[Int(w)] == nil {
            index[Int(w)] = positions.count
            positions.append(pos)
            tags.append(labels?[Int(w)] ?? -1)
        }
        let rowWords = enc.wordIds.map { $0 >= 0 ? Int32(index[Int($0)]!) : -1 }
        return (EncodedExample(ids: enc.ids, typeIds: enc.typeIds, queryPositions: positions, labels: tags, rowWords: rowWords), index)
    }
}

/// A training batch: the packed tokens, where the heads predict, the gold labels.
public struct ExampleBatch: Sendable {
    public let tokens: PackedBatch
    public let input: HeadInput
    public let labels: [Int32]

    public init(_ examples: [EncodedExample]) {
        var tokens = PackedBatch()
        var rows: [Int] = [], counts: [Int] = [], labels: [Int32] = []
        for e in examples {
            let start = tokens.tokenCount
            tokens.append(ids: e.ids, typeIds: e.typeIds)
            rows += e.queryPositions.map { start + $0 }
            counts.append(e.queryPositions.count)
            labels += e.labels
        }
        self.tokens = tokens
        input = HeadInput(starts: tokens.starts, lengths: tokens.lengths, queryRows: rows, queryCounts: counts)
        self.labels = labels
    }
}
