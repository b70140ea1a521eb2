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

    public init(ids: [Int32], typeIds: [Int32], queryPositions: [Int], labels: [Int32]) {
        self.ids = ids; self.typeIds = typeIds; self.queryPositions = queryPositions; self.labels = labels
    }
}

public enum ExampleEncoder {
    /// Tokenizes classification examples; labels must be in `labels` (or all
    /// nil when unlabeled use is allowed).
    public static func encode(_ examples: [LabeledText], labels: LabelSet?, tokenizer: WordPieceTokenizer,
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
    public static func encode(_ sentences: [TaggedSentence], labels: LabelSet, tokenizer: WordPieceTokenizer,
                              maxLength: Int, file: String) throws -> [EncodedExample] {
        let indices = try labels.indices(of: sentences, file: file)
        return try sentences.enumerated().map { i, s in
            let enc = try tokenizer.encode(words: s.words, maxLength: maxLength)
            var positions: [Int] = [], tags: [Int32] = []
            var seen = Set<Int32>()
            for (pos, w) in enc.wordIds.enumerated() where w >= 0 && !seen.contains(w) {
                seen.insert(w)
                positions.append(pos)
                tags.append(Int32(indices[i][Int(w)]))
            }
            return EncodedExample(ids: enc.ids, typeIds: enc.typeIds, queryPositions: positions, labels: tags)
        }
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
