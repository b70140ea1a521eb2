import Foundation

// MARK: - Byte-level BPE tokenizer (RoBERTa, GPT-2)

/// The tokenizer of RoBERTa-family models, read from an HF tokenizer.json whose
/// model is BPE with the ByteLevel pre-tokenizer: what HF's
/// `RobertaTokenizerFast` (`tokenizers` 0.23) gives, offsets included.
///
/// The pipeline, per text (or per word of pre-split input):
/// 1. added tokens (<s>, <mask>... written in the text) are cut out of the raw
///    input, taking in the whitespace around them if they `lstrip`/`rstrip`;
///    then those matched after normalization (there is no normalizer: the same text);
/// 2. ByteLevel: each stretch between added tokens gets a leading space unless
///    it starts with one (`add_prefix_space`), is cut into words by GPT-2's
///    regex, and each word becomes its UTF-8 bytes;
/// 3. each word is merged by `BPEModel`;
/// 4. offsets are trimmed of the spaces a token starts or ends with
///    (`trim_offsets` of RobertaProcessing or the ByteLevel post-processor), and
///    the template adds <s> ... </s> after truncation to `maxLength` if asked.
///
/// Word ids count the regex's words and the added tokens (for pre-split input,
/// the input's words). Offsets are in input scalars (for pre-split input, in the
/// token's word).
///
/// Immutable, so one instance can serve any number of threads.
public final class BPETokenizer: TextTokenizer {
    struct Configuration: Sendable {
        var model: BPEModel
        var preTokenizer: ByteLevelPreTokenizer
        var addedTokens: [AddedToken]
        var template: PostProcessorTemplate
        var trimming: OffsetTrimming?
        var clsId: Int32, sepId: Int32, padId: Int32
    }

    private let c: Configuration
    private let rawMatcher: AddedTokenMatcher
    private let normalizedMatcher: AddedTokenMatcher
    /// Leading and trailing "Ġ" or whitespace of each model token, for trimming.
    private let tokenSpaces: [(leading: Int, trailing: Int)]

    public var clsId: Int32 { c.clsId }
    public var sepId: Int32 { c.sepId }
    public var padId: Int32 { c.padId }
    /// The model's unknown token, else <unk> if known, else -1 (byte-level BPE
    /// never needs one: every byte has a token).
    public let unkId: Int32

    init(configuration: Configuration) {
        c = configuration
        rawMatcher = AddedTokenMatcher(configuration.addedTokens.filter { !$0.normalized })
        normalizedMatcher = AddedTokenMatcher(configuration.addedTokens.filter(\.normalized))
        tokenSpaces = configuration.model.tokens.map { token in
            OffsetTrimming.spaces(token.map { Array($0.unicodeScalars.map(\.value)) } ?? [])
        }
        let addedUnknown = configuration.addedTokens.first { $0.content.unicodeScalars.elementsEqual("<unk>".unicodeScalars) }
        unkId = configuration.model.unkId ?? addedUnknown?.id ?? configuration.model.id(for: "<unk>") ?? -1
    }

    /// A tokenizer from an HF tokenizer.json whose model is BPE.
    /// - Throws: `OfframpError` naming the file and field for anything missing
    ///   or not supported.
    public convenience init(tokenizerJSON url: URL) throws {
        let (json, source, fail) = try TokenizerJSONFile.read(url)
        self.init(configuration: try Self.configuration(json, source: source, fail))
    }

    // MARK: Vocabulary

    public var vocabularySize: Int { c.addedTokens.vocabularySize(modelTokenCount: c.model.tokens.count) }

    public func id(for token: String) -> Int32? { c.addedTokens.id(for: token, model: c.model.id(for:)) }

    public func token(for id: Int32) -> String? { c.addedTokens.token(for: id, modelTokens: c.model.tokens) }

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
        var words: [Range<Int>] = []
        var bytes: [UInt8] = []
        /// The input scalar of each UTF-8 byte of the word's byte-level characters.
        var byteOrigins: [Int] = []
        var tokens: [(id: Int32, range: Range<Int>)] = []
        var merging = BPEModel.Scratch()
    }

    private func sequence(_ parts: [String], fixedWordIds: Bool, scratch s: inout Scratch) -> PieceSequence {
        var out = PieceSequence()
        var next: Int32 = 0
        for (index, part) in parts.enumerated() {
            let wordId: Int32? = fixedWordIds ? Int32(clamping: index) : nil
            s.raw.removeAll(keepingCapacity: true)
            for scalar in part.unicodeScalars { s.raw.append(scalar.value) }
            var position = 0
            while position < s.raw.count {
                let match = rawMatcher.firstMatch(in: s.raw, position..<s.raw.count)
                let end = match?.range.lowerBound ?? s.raw.count
                if end > position { segment(position..<end, wordId: wordId, next: &next, scratch: &s, into: &out) }
                guard let match else { break }
                let text = s.raw[match.range]
                append(match.id, offsets: match.range, spaces: OffsetTrimming.spaces(text), wordId: wordId ?? next, into: &out)
                if wordId == nil { next += 1 }
                position = match.range.upperBound
            }
        }
        return out
    }

    /// A stretch of raw input free of raw added tokens: normalized added tokens,
    /// then ByteLevel and BPE on what lies between them.
    private func segment(_ range: Range<Int>, wordId: Int32?, next: inout Int32, scratch s: inout Scratch,
                         into out: inout PieceSequence) {
        s.text.removeAll()
        for i in range { s.text.append(s.raw[i], from: i) }
        let text = s.text
        var position = 0
        while position < text.count {
            let match = normalizedMatcher.firstMatch(in: text.scalars, position..<text.count)
            let end = match?.range.lowerBound ?? text.count
            if end > position { pieces(text, position..<end, wordId: wordId, next: &next, scratch: &s, into: &out) }
            guard let match else { break }
            append(match.id, offsets: text.originalRange(match.range), spaces: OffsetTrimming.spaces(text.scalars[match.range]),
                   wordId: wordId ?? next, into: &out)
            if wordId == nil { next += 1 }
            position = match.range.upperBound
        }
    }

    /// Step 2 and 3 for `source[range]`.
    private func pieces(_ source: NormalizedText, _ range: Range<Int>, wordId: Int32?, next: inout Int32,
                        scratch s: inout Scratch, into out: inout PieceSequence) {
        var text = NormalizedText()
        if c.preTokenizer.addPrefixSpace && source.scalars[range.lowerBound] != 0x20 {
            // The space stands where the first character does, as HF's `prepend`.
            text.append(0x20, from: source.origins[range.lowerBound])
        }
        for i in range { text.append(source.scalars[i], from: source.origins[i]) }
        s.words.removeAll(keepingCapacity: true)
        if c.preTokenizer.useRegex {
            ByteLevelPreTokenizer.split(text.scalars, 0..<text.count, into: &s.words)
        } else {
            s.words.append(0..<text.count)
        }
        for word in s.words {
            s.bytes.removeAll(keepingCapacity: true)
            s.byteOrigins.removeAll(keepingCapacity: true)
            for i in word {
                let origin = text.origins[i]
                for byte in String(Character(Unicode.Scalar(text.scalars[i])!)).utf8 {
                    s.bytes.append(byte)
                    for _ in 0..<ByteLevelTables.encodedLength(ofByte: byte) { s.byteOrigins.append(origin) }
                }
            }
            c.model.tokenize(s.bytes[...], scratch: &s.merging, into: &s.tokens)
            let id = wordId ?? next
            if wordId == nil { next += 1 }
            let last = s.byteOrigins.count - 1
            for (token, r) in s.tokens {
                // Past the word's end only when byte fallback miscounts (as HF does); clamp.
                let lower = s.byteOrigins[min(r.lowerBound, last)]
                let upper = max(lower, s.byteOrigins[min(r.upperBound - 1, last)] + 1)
                let spaces = Int(token) < tokenSpaces.count ? tokenSpaces[Int(token)] : (0, 0)
                append(token, offsets: lower..<upper, spaces: spaces, wordId: id, into: &out)
            }
        }
    }

    private func append(_ id: Int32, offsets: Range<Int>, spaces: (leading: Int, trailing: Int), wordId: Int32,
                        into out: inout PieceSequence) {
        var range = offsets
        if let trimming = c.trimming { range = trimming.trim(range, spaces: spaces, isFirst: out.count == 0) }
        out.append(id: id, wordId: wordId, offsets: range)
    }
}

// MARK: - Offset trimming

/// HF's ByteLevel `process_offsets` (RobertaProcessing's `trim_offsets`): a
/// token's offsets leave out the spaces ("Ġ" or whitespace) its text starts or
/// ends with, except the one space `add_prefix_space` put before the first token
/// of a sequence (or of a pre-split word: HF takes any token starting at offset 0).
struct OffsetTrimming: Sendable, Equatable {
    var addPrefixSpace: Bool

    /// Leading and trailing spaces of a token's text.
    static func spaces(_ text: some Collection<UInt32>) -> (leading: Int, trailing: Int) {
        func isSpace(_ c: UInt32) -> Bool { c == 0x120 || AddedTokenMatcher.isWhitespace(c) }
        return (text.prefix(while: isSpace).count, text.reversed().prefix(while: isSpace).count)
    }

    func trim(_ range: Range<Int>, spaces: (leading: Int, trailing: Int), isFirst: Bool) -> Range<Int> {
        var lower = range.lowerBound, upper = range.upperBound
        var leading = spaces.leading
        if leading > 0 {
            if (isFirst || lower == 0) && addPrefixSpace && leading == 1 { leading = 0 }
            lower = min(lower + leading, upper)
        }
        if spaces.trailing > 0 && upper >= spaces.trailing { upper = max(upper - spaces.trailing, lower) }
        return lower..<upper
    }
}
