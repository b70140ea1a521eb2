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
