// MARK: - Tokenizer protocol

/// Turns text into the token ids an encoder takes.
///
/// Implementations are immutable and safe to share between threads.
public protocol TextTokenizer: Sendable {
    /// Tokenizes `text` (and `pair`, the second sequence of a pair task, if given)
    /// and adds the special tokens. With `maxLength`, the result has at most that
    /// many tokens, special tokens included: the longer sequence loses tokens from
    /// its end first (HF's `longest_first`). Throws if `maxLength` cannot even hold
    /// the special tokens. An empty text is not an error: it gives `[CLS] [SEP]`.
    /// An empty `pair` counts as no pair, as in transformers.
    func encode(_ text: String, pair: String?, maxLength: Int?) throws -> Encoding

    /// Tokenizes text already split into words (HF's `is_split_into_words=True`):
    /// each word is tokenized on its own and its tokens carry its index as word id.
    func encode(words: [String], maxLength: Int?) throws -> Encoding

    /// Number of ids: one more than the largest id.
    var vocabularySize: Int { get }
    /// The id of exactly this token string, if it is in the vocabulary.
    func id(for token: String) -> Int32?
    /// The token string of `id`, or nil if no token has it.
    func token(for id: Int32) -> String?

    var clsId: Int32 { get }
    var sepId: Int32 { get }
    var padId: Int32 { get }
    var unkId: Int32 { get }
}

// MARK: - Conveniences

extension TextTokenizer {
    /// `text` alone, not truncated.
    public func encode(_ text: String) throws -> Encoding {
        try encode(text, pair: nil, maxLength: nil)
    }

    /// `text` alone, truncated to `maxLength` tokens.
    public func encode(_ text: String, maxLength: Int?) throws -> Encoding {
        try encode(text, pair: nil, maxLength: maxLength)
    }

    /// Pre-split words, not truncated.
    public func encode(words: [String]) throws -> Encoding {
        try encode(words: words, maxLength: nil)
    }
}
