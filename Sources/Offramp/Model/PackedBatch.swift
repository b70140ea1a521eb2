// MARK: - The packed (padding-free) token layout

/// A batch of token sequences laid end to end: row r of every (T, H) buffer is
/// one real token, sequence s owning rows starts[s] ..< starts[s] + lengths[s].
/// No pad token is ever computed.
public struct PackedBatch: Sendable, Equatable {
    public private(set) var ids: [Int32] = []
    public private(set) var typeIds: [Int32] = []
    /// Position of each row within its own sequence (0-based).
    public private(set) var positions: [Int32] = []
    public private(set) var starts: [Int] = []
    public private(set) var lengths: [Int] = []

    public init() {}

    /// Packs the sequences; `typeIds[s]`, when given, must match `ids[s]` in length.
    public init(ids: [[Int32]], typeIds: [[Int32]]? = nil) {
        for (s, seq) in ids.enumerated() {
            append(ids: seq, typeIds: typeIds?[s] ?? [Int32](repeating: 0, count: seq.count))
        }
    }

    public init(encodings: [Encoding]) {
        for e in encodings { append(ids: e.ids, typeIds: e.typeIds) }
    }

    public mutating func append(ids seq: [Int32], typeIds types: [Int32]) {
        precondition(seq.count == types.count, "ids and type ids differ in length")
        starts.append(ids.count)
        lengths.append(seq.count)
        ids += seq
        typeIds += types
        positions += (0..<Int32(seq.count))
    }

    /// Total rows (real tokens).
    public var tokenCount: Int { ids.count }
    public var sequenceCount: Int { starts.count }
    public var maxLength: Int { lengths.max() ?? 0 }

    /// Rows of sequence s.
    public func rows(_ s: Int) -> Range<Int> { starts[s] ..< starts[s] + lengths[s] }
}
