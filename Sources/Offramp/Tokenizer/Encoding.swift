// MARK: - Encoding

/// One tokenized input (a text, a text pair, or a list of pre-split words), laid out
/// as the model takes it: `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]` for BERT.
///
/// All arrays have one entry per token. Field by field this is what HF's
/// `BatchEncoding` gives for one input (`input_ids`, `token_type_ids`, `word_ids()`,
/// `sequence_ids()`, `offset_mapping`), with -1 where HF has None.
public struct Encoding: Sendable, Equatable {
    /// Vocabulary ids, special tokens included.
    public var ids: [Int32]
    /// Segment ids (`token_type_ids`): 0 for the first sequence, 1 for the second
    /// (and its closing [SEP]), as the post-processor template says.
    public var typeIds: [Int32]
    /// Index of the source word of each token, -1 for special tokens. For text,
    /// words are the pre-tokenizer's words (punctuation marks count as words);
    /// for pre-split input, the index in the `words` array. Each sequence of a
    /// pair counts from 0.
    public var wordIds: [Int32]
    /// 0 or 1: which sequence of the input the token comes from; -1 for special tokens.
    public var sequenceIds: [Int32]
    /// The characters of the input each token covers, in Unicode scalars (Python
    /// `str` indices): into the text (or the pair's second text for its tokens),
    /// or for pre-split input into the token's own word. Special tokens get 0..<0.
    public var offsets: [Range<Int>]
    /// True when truncation to the requested maximum length dropped tokens.
    public var truncated: Bool

    public init(ids: [Int32], typeIds: [Int32], wordIds: [Int32], sequenceIds: [Int32],
                offsets: [Range<Int>], truncated: Bool) {
        self.ids = ids
        self.typeIds = typeIds
        self.wordIds = wordIds
        self.sequenceIds = sequenceIds
        self.offsets = offsets
        self.truncated = truncated
    }

    /// Number of tokens.
    public var count: Int { ids.count }

    /// True for the tokens the post-processor added ([CLS], [SEP]).
    public var specialTokensMask: [Bool] { sequenceIds.map { $0 < 0 } }
}

// MARK: - Pieces of one sequence

/// The tokens of one sequence before special tokens are added.
struct PieceSequence {
    var ids: [Int32] = []
    var wordIds: [Int32] = []
    var offsets: [Range<Int>] = []

    var count: Int { ids.count }

    @inline(__always)
    mutating func append(id: Int32, wordId: Int32, offsets range: Range<Int>) {
        ids.append(id)
        wordIds.append(wordId)
        offsets.append(range)
    }

    mutating func removeLast(_ k: Int) {
        guard k > 0 else { return }
        ids.removeLast(k)
        wordIds.removeLast(k)
        offsets.removeLast(k)
    }

    /// Keeps the first `length` tokens (HF's `Encoding::truncate`, direction right).
    /// Returns whether anything was dropped.
    @discardableResult
    mutating func truncate(to length: Int) -> Bool {
        guard count > length else { return false }
        removeLast(count - length)
        return true
    }
}
