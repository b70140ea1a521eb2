// MARK: - WordPiece model

/// The WordPiece vocabulary and its greedy longest-match-first splitting of one
/// pre-tokenized word into pieces.
struct WordPieceModel: Sendable {
    /// Token text by id; nil for ids the vocabulary skips.
    let tokens: [String?]
    let unkId: Int32
    let continuingSubwordPrefix: String
    let maxInputCharsPerWord: Int
    /// Root 0: every token as written (looked up at the start of a word).
    /// Root 1: tokens that start with the prefix, prefix removed (looked up inside
    /// a word, which is how Rust's `"##" + rest` lookup reads).
    private let trie: ScalarTrie

    private static let wordRoot: Int32 = 0
    private static let continuationRoot: Int32 = 1

    /// - Parameters:
    ///   - vocabulary: (token, id) pairs, in file order.
    ///   - source: names the file in error messages.
    ///   - locate: where an id comes from, for error messages ("line 7" for vocab.txt).
    init(vocabulary: [(token: String, id: Int32)], unkToken: String, continuingSubwordPrefix: String,
         maxInputCharsPerWord: Int, source: String, locate: (Int32) -> String = { "id \($0)" }) throws {
        guard !vocabulary.isEmpty else { throw OfframpError("\(source): the vocabulary is empty") }
        guard maxInputCharsPerWord > 0 else {
            throw OfframpError("\(source): max_input_chars_per_word must be positive, got \(maxInputCharsPerWord)")
        }
        var builder = ScalarTrieBuilder(roots: 2)
        var maxId: Int32 = -1
        var firstIndexOfId: [Int32: Int] = [:]
        let prefix = Array(continuingSubwordPrefix.unicodeScalars.map(\.value))
        for (index, entry) in vocabulary.enumerated() {
            guard entry.id >= 0 else { throw OfframpError("\(source): token \(quotedToken(entry.token)) has negative id \(entry.id)") }
            if let other = firstIndexOfId[entry.id] {
                throw OfframpError("\(source): id \(entry.id) is given to both \(quotedToken(vocabulary[other].token)) and \(quotedToken(entry.token))")
            }
            firstIndexOfId[entry.id] = index
            let scalars = entry.token.unicodeScalars.map(\.value)
            if let previous = builder.insert(scalars, root: Self.wordRoot, value: entry.id) {
                throw OfframpError("\(source): duplicate token \(quotedToken(entry.token)) (\(locate(previous)) and \(locate(entry.id)))")
            }
            if !prefix.isEmpty, scalars.count > prefix.count, scalars.starts(with: prefix) {
                _ = builder.insert(scalars[prefix.count...], root: Self.continuationRoot, value: entry.id)
            }
            maxId = max(maxId, entry.id)
        }
        // Ids index an array: refuse a vocabulary so sparse that it would be huge.
        guard Int(maxId) < 4 * vocabulary.count + 1024 else {
            throw OfframpError("\(source): ids go up to \(maxId) for only \(vocabulary.count) tokens")
        }
        var tokens = [String?](repeating: nil, count: Int(maxId) + 1)
        for entry in vocabulary { tokens[Int(entry.id)] = entry.token }
        let trie = builder.build()
        guard let unkId = trie.value(from: Self.wordRoot, for: unkToken.unicodeScalars.map(\.value)) else {
            throw OfframpError("\(source): the unknown token \(quotedToken(unkToken)) is not in the vocabulary")
        }
        self.tokens = tokens
        self.unkId = unkId
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.maxInputCharsPerWord = maxInputCharsPerWord
        self.trie = trie
    }

    /// The id of exactly `token` (scalar for scalar).
    func id(for token: String) -> Int32? {
        trie.value(from: Self.wordRoot, for: token.unicodeScalars.lazy.map(\.value))
    }

    // MARK: Splitting a word

    /// Appends the pieces of the word `text.scalars[word]` to `out`: ids, and the
    /// input ranges they cover. A word longer than `maxInputCharsPerWord` scalars,
    /// or one with a part that matches nothing, becomes a single [UNK] over the
    /// whole word, as in HF.
    func appendPieces(of word: Range<Int>, in text: NormalizedText, wordId: Int32,
                      to out: inout PieceSequence) {
        let whole = text.originalRange(word)
        if word.count > maxInputCharsPerWord {
            out.append(id: unkId, wordId: wordId, offsets: whole)
            return
        }
        let mark = out.count
        var start = word.lowerBound
        while start < word.upperBound {
            let root = start == word.lowerBound ? Self.wordRoot : Self.continuationRoot
            guard let match = trie.longestMatch(from: root, in: text.scalars, start: start, end: word.upperBound) else {
                out.removeLast(out.count - mark)
                out.append(id: unkId, wordId: wordId, offsets: whole)
                return
            }
            let covered = text.originalRange(start..<match.end)
            out.append(id: match.value, wordId: wordId, offsets: covered)
            start = match.end
        }
    }
}

/// `token` in quotes with invisible characters escaped, for error messages.
func quotedToken(_ token: String) -> String {
    let body = token.unicodeScalars.map { scalar in
        scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\"" || scalar == "\\" ? scalar.escaped(asASCII: true) : String(scalar)
    }
    return "\"" + body.joined() + "\""
}
