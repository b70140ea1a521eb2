// MARK: - Added tokens

/// A token matched as a whole in the input before WordPiece sees it (HF's added
/// vocabulary: [CLS], [SEP], [MASK]... written literally in a text become those
/// tokens, as with HF).
struct AddedToken: Sendable, Equatable {
    var content: String
    var id: Int32
    /// True: matched in the normalized text (after lower-casing...). False: matched
    /// in the raw input, as BERT's special tokens are.
    var normalized: Bool
}

/// Finds added tokens in a scalar buffer, leftmost first and longest at a given
/// position (the aho-corasick `LeftmostLongest` HF uses).
struct AddedTokenMatcher: Sendable {
    private struct Pattern: Sendable {
        var scalars: [UInt32]
        var id: Int32
    }

    /// Patterns by first scalar, longest first.
    private let patterns: [UInt32: [Pattern]]
    /// Cheap pre-check on the low byte of a scalar before the dictionary lookup,
    /// which runs for every scalar of every input.
    private let firstByteMask: [Bool]

    var isEmpty: Bool { patterns.isEmpty }

    init(_ tokens: [(scalars: [UInt32], id: Int32)]) {
        var patterns: [UInt32: [Pattern]] = [:]
        var mask = [Bool](repeating: false, count: 256)
        for token in tokens where !token.scalars.isEmpty {
            patterns[token.scalars[0], default: []].append(Pattern(scalars: token.scalars, id: token.id))
            mask[Int(token.scalars[0] & 0xFF)] = true
        }
        for key in patterns.keys { patterns[key]!.sort { $0.scalars.count > $1.scalars.count } }
        self.patterns = patterns
        self.firstByteMask = mask
    }

    /// The first match in `buffer[range]`: its range and token id.
    func firstMatch(in buffer: [UInt32], _ range: Range<Int>) -> (range: Range<Int>, id: Int32)? {
        guard !patterns.isEmpty else { return nil }
        var i = range.lowerBound
        while i < range.upperBound {
            let c = buffer[i]
            if firstByteMask[Int(c & 0xFF)], let candidates = patterns[c] {
                for p in candidates where p.scalars.count <= range.upperBound - i {
                    var k = 1
                    while k < p.scalars.count && buffer[i + k] == p.scalars[k] { k += 1 }
                    if k == p.scalars.count { return (i..<(i + k), p.id) }
                }
            }
            i += 1
        }
        return nil
    }
}
