// MARK: - Labeled data to encoded examples

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
