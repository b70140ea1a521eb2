// MARK: - Where an exit head reads and predicts

/// Which rows of a layer's packed states a head reads and predicts for.
///
/// - Sequence task: one prediction per sequence; `queryRows` are the [CLS]
///   rows (`starts`), and mean pooling reads every row.
/// - Token task: one prediction per word, at its first piece: `queryRows`
///   lists those rows, `queryCounts[s]` of them in sequence s.
public struct HeadInput: Sendable, Equatable {
    public var starts: [Int]
    public var lengths: [Int]
    public var queryRows: [Int]
    public var queryCounts: [Int]

    public init(starts: [Int], lengths: [Int], queryRows: [Int], queryCounts: [Int]) {
        self.starts = starts; self.lengths = lengths; self.queryRows = queryRows; self.queryCounts = queryCounts
    }

    /// One prediction per sequence, at its [CLS] row.
    public static func sequences(starts: [Int], lengths: [Int]) -> HeadInput {
        HeadInput(starts: starts, lengths: lengths, queryRows: starts, queryCounts: starts.map { _ in 1 })
    }

    public var rowCount: Int { lengths.reduce(0, +) }

    public var queryCount: Int { queryRows.count }

    /// Queries gathered in order, keys in place: the attention layout of a FastBERT head.
    var attentionSegments: AttentionSegments {
        var qStart: [Int] = [], acc = 0
        for c in queryCounts { qStart.append(acc); acc += c }
        return AttentionSegments(queryStart: qStart, queryCount: queryCounts, keyStart: starts, keyCount: lengths)
    }
}
