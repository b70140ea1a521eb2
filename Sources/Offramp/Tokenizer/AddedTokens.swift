// MARK: - Added tokens

/// A token matched as a whole in the input before the model sees it (HF's added
/// vocabulary: [CLS], <s>, <mask>... written literally in a text become those
/// tokens, as with HF).
struct AddedToken: Sendable, Equatable {
    var content: String
    var id: Int32
    /// True: matched in the normalized text (after lower-casing...). False: matched
    /// in the raw input, as BERT's special tokens are.
    var normalized: Bool
    /// The match takes in the whitespace just before it (RoBERTa's <mask>).
    var lstrip = false
    /// The match takes in the whitespace just after it.
    var rstrip = false
    /// Only matched where no word character (`\w`) touches it on either side.
    var singleWord = false
}

// MARK: Lookups every tokenizer shares

extension Array where Element == AddedToken {
    /// HF's `token_to_id`: an added token whose content is exactly `token`, else
    /// the model's id for it (`model`).
    func id(for token: String, model: (String) -> Int32?) -> Int32? {
        first { $0.content.unicodeScalars.elementsEqual(token.unicodeScalars) }?.id ?? model(token)
    }

    /// HF's `id_to_token`: the added token with this id, else the model's token
    /// string at that index of `modelTokens` (`[String]`, or `[String?]` where
    /// ids have gaps), nil outside it.
    func token<Tokens: RandomAccessCollection<String?>>(for id: Int32, modelTokens: Tokens) -> String? where Tokens.Index == Int {
        if let added = first(where: { $0.id == id }) { return added.content }
        guard id >= 0, Int(id) < modelTokens.count else { return nil }
        return modelTokens[Int(id)]
    }

    func token(for id: Int32, modelTokens: [String]) -> String? {
        token(for: id, modelTokens: modelTokens.lazy.map { Optional($0) })
    }

    /// One more than the largest id among the model's `modelTokenCount` tokens and these.
    func vocabularySize(modelTokenCount: Int) -> Int {
        Swift.max(modelTokenCount, (map { Int($0.id) }.max() ?? -1) + 1)
    }
}

/// Finds added tokens in a scalar buffer as HF's `AddedVocabulary::find_matches`
/// does: leftmost first and longest at a given position (the aho-corasick
/// `LeftmostLongest` HF uses); a `singleWord` token glued to a word character is
/// passed over (the search goes on after it); a match then grows over the
/// whitespace before it (`lstrip`, not past the previous match) and after it
/// (`rstrip`).
///
/// One case differs from HF: after an `rstrip` match HF's automaton resumes where
/// the token itself ended, so a token starting with whitespace could match inside
/// the whitespace just taken in, overlapping; here the search resumes after it.
struct AddedTokenMatcher: Sendable {
    private struct Pattern: Sendable {
        var scalars: [UInt32]
        var id: Int32
        var lstrip: Bool
        var rstrip: Bool
        var singleWord: Bool
    }

    /// Patterns by first scalar, longest first.
    private let patterns: [UInt32: [Pattern]]
    /// Cheap pre-check on the low byte of a scalar before the dictionary lookup,
    /// which runs for every scalar of every input.
    private let firstByteMask: [Bool]

    var isEmpty: Bool { patterns.isEmpty }

    /// Each token matched as its content.
    init(_ tokens: [AddedToken]) {
        self.init(forms: tokens.map { (Array($0.content.unicodeScalars.map(\.value)), $0) })
    }

    /// Each token matched as the given form of it (its normalized content, say).
    init(forms tokens: [(scalars: [UInt32], token: AddedToken)]) {
        var patterns: [UInt32: [Pattern]] = [:]
        var mask = [Bool](repeating: false, count: 256)
        for (scalars, token) in tokens where !scalars.isEmpty {
            patterns[scalars[0], default: []].append(Pattern(scalars: scalars, id: token.id, lstrip: token.lstrip,
                                                             rstrip: token.rstrip, singleWord: token.singleWord))
            mask[Int(scalars[0] & 0xFF)] = true
        }
        for key in patterns.keys { patterns[key]!.sort { $0.scalars.count > $1.scalars.count } }
        self.patterns = patterns
        self.firstByteMask = mask
    }

    /// The first match in `buffer[range]`: its range (whitespace taken in
    /// included) and token id. `buffer[0..<range.upperBound]` is the sentence HF
    /// searches (what `singleWord` looks at); `range.lowerBound` is where the
    /// previous match ended.
    func firstMatch(in buffer: [UInt32], _ range: Range<Int>) -> (range: Range<Int>, id: Int32)? {
        guard !patterns.isEmpty else { return nil }
        let end = range.upperBound
        var i = range.lowerBound
        while i < end {
            let c = buffer[i]
            guard firstByteMask[Int(c & 0xFF)], let candidates = patterns[c],
                  let p = candidates.first(where: { p in
                      p.scalars.count <= end - i && (1..<p.scalars.count).allSatisfy { buffer[i + $0] == p.scalars[$0] }
                  }) else {
                i += 1
                continue
            }
            var lower = i, upper = i + p.scalars.count
            if p.singleWord {
                let gluedBefore = lower > 0 && Self.isWordCharacter(buffer[lower - 1])
                let gluedAfter = upper < end && Self.isWordCharacter(buffer[upper])
                if gluedBefore || gluedAfter {
                    i = upper
                    continue
                }
            }
            if p.lstrip { while lower > range.lowerBound && Self.isWhitespace(buffer[lower - 1]) { lower -= 1 } }
            if p.rstrip { while upper < end && Self.isWhitespace(buffer[upper]) { upper += 1 } }
            return (lower..<upper, p.id)
        }
        return nil
    }

    // MARK: Character classes of Rust's regex crate

    /// `\s`: White_Space.
    static func isWhitespace(_ c: UInt32) -> Bool {
        if c < 0x80 { return c == 0x20 || (0x09...0x0D).contains(c) }
        return Unicode.Scalar(c)?.properties.isWhitespace ?? false
    }

    /// `\w` with Unicode: Alphabetic, marks, decimal digits, connector
    /// punctuation and the joiners.
    static func isWordCharacter(_ c: UInt32) -> Bool {
        if c < 0x80 {
            return (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || c == 0x5F
        }
        guard let p = Unicode.Scalar(c)?.properties else { return false }
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}
