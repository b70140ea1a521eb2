import Foundation

// MARK: - WordPiece tokenizer

/// BERT's WordPiece tokenizer, giving exactly what Hugging Face's `BertTokenizer`
/// (`BertTokenizerFast` in transformers 4; the Rust `tokenizers` pipeline) gives:
/// ids, segment ids, word ids and character offsets.
///
/// The pipeline, per text (or per word of pre-split input):
/// 1. added tokens ([CLS], [MASK]... written in the text) are cut out of the raw input;
/// 2. the rest is normalized (`BertNormalizer`): control characters dropped,
///    whitespace made spaces, CJK ideographs spaced out, accents stripped
///    (NFD, then nonspacing marks dropped) and lower-cased, for uncased models;
/// 3. the pre-tokenizer splits on whitespace and isolates punctuation;
/// 4. each word is split greedily into the longest vocabulary pieces, `##`-prefixed
///    after the first; a word with an unmatchable part, or longer than
///    `maxInputCharsPerWord`, becomes one [UNK];
/// 5. the post-processor template adds [CLS]/[SEP] and segment ids, after
///    truncation to `maxLength` if asked.
///
/// Immutable, so one instance can serve any number of threads.
public final class WordPieceTokenizer: TextTokenizer {
    // MARK: Configuration

    /// Lower-cases the text (uncased models).
    public let lowercase: Bool
    /// Removes accents: NFD, then nonspacing marks dropped.
    public let stripAccents: Bool
    /// Splits CJK ideographs into words of their own.
    public let tokenizeChineseChars: Bool
    /// Drops control characters and turns whitespace into spaces.
    public let cleanText: Bool
    /// Longer words (in Unicode scalars, after normalization) become [UNK].
    public let maxInputCharsPerWord: Int
    /// Marks pieces that continue a word ("##").
    public let continuingSubwordPrefix: String

    public let clsId: Int32
    public let sepId: Int32
    public let padId: Int32
    public let unkId: Int32

    private let model: WordPieceModel
    private let normalizer: BertNormalizer?
    private let addedTokens: [AddedToken]
    /// Added tokens matched in the raw input, and those matched after normalization.
    private let rawMatcher: AddedTokenMatcher
    private let normalizedMatcher: AddedTokenMatcher
    private let template: PostProcessorTemplate

    // MARK: Loading

    init(configuration c: WordPieceConfiguration) {
        model = c.model
        normalizer = c.normalizer
        addedTokens = c.addedTokens
        template = c.template
        clsId = c.clsId
        sepId = c.sepId
        padId = c.padId
        unkId = c.model.unkId
        lowercase = c.normalizer?.lowercase ?? false
        stripAccents = c.normalizer?.stripAccents ?? false
        tokenizeChineseChars = c.normalizer?.handleChineseChars ?? false
        cleanText = c.normalizer?.cleanText ?? false
        maxInputCharsPerWord = c.model.maxInputCharsPerWord
        continuingSubwordPrefix = c.model.continuingSubwordPrefix

        rawMatcher = AddedTokenMatcher(c.addedTokens.filter { !$0.normalized })
        // HF matches these against the token's own normalized form.
        var text = NormalizedText(), spare = NormalizedText()
        var normalizedForms: [(scalars: [UInt32], token: AddedToken)] = []
        for token in c.addedTokens where token.normalized {
            let raw = token.content.unicodeScalars.map(\.value)
            if let normalizer = c.normalizer {
                normalizer.normalize(raw, 0..<raw.count, into: &text, scratch: &spare)
                normalizedForms.append((text.scalars, token))
            } else {
                normalizedForms.append((raw, token))
            }
        }
        normalizedMatcher = AddedTokenMatcher(forms: normalizedForms)
    }

    /// A tokenizer from a BERT vocab.txt (one token per line; id = line index).
    ///
    /// - Parameters:
    ///   - lowercase: true for uncased models.
    ///   - stripAccents: nil follows `lowercase`, as in BERT.
    /// - Throws: `OfframpError` naming the file if it is missing or unreadable, has a
    ///   duplicate line, is empty, or lacks [UNK], [CLS], [SEP] or [PAD].
    public convenience init(vocabURL: URL, lowercase: Bool = true, stripAccents: Bool? = nil,
                            tokenizeChineseChars: Bool = true, maxInputCharsPerWord: Int = 100) throws {
        let normalizer = BertNormalizer(cleanText: true, handleChineseChars: tokenizeChineseChars,
                                        stripAccents: stripAccents ?? lowercase, lowercase: lowercase)
        self.init(configuration: try .vocabFile(vocabURL, normalizer: normalizer, maxInputCharsPerWord: maxInputCharsPerWord))
    }

    /// A tokenizer from an HF tokenizer.json whose model is WordPiece (vocabulary,
    /// unknown token, subword prefix, word length limit), with its BertNormalizer
    /// settings, BertPreTokenizer, added tokens and post-processor template.
    ///
    /// - Throws: `OfframpError` naming the file and field for anything missing or
    ///   not supported (another model type, normalizer or pre-tokenizer...).
    public convenience init(tokenizerJSON url: URL) throws {
        self.init(configuration: try .tokenizerJSON(url))
    }

    /// The tokenizer of a model directory: tokenizer.json if there is one, else
    /// vocab.txt with the settings of tokenizer_config.json when present
    /// (`do_lower_case`, `strip_accents`, `tokenize_chinese_chars`, token names).
    public static func load(directory: URL) throws -> WordPieceTokenizer {
        let fm = FileManager.default
        let json = directory.appendingPathComponent("tokenizer.json")
        if fm.fileExists(atPath: json.path) { return try WordPieceTokenizer(tokenizerJSON: json) }
        let vocab = directory.appendingPathComponent("vocab.txt")
        guard fm.fileExists(atPath: vocab.path) else {
            throw OfframpError("no tokenizer.json or vocab.txt in \(directory.path)")
        }
        let config = directory.appendingPathComponent("tokenizer_config.json")
        if fm.fileExists(atPath: config.path) {
            let settings = try WordPieceConfiguration.tokenizerConfig(config)
            return WordPieceTokenizer(configuration: try .vocabFile(vocab, normalizer: settings.normalizer,
                                                                    maxInputCharsPerWord: 100, names: settings.names))
        }
        return try WordPieceTokenizer(vocabURL: vocab)
    }

    // MARK: Vocabulary

    public var vocabularySize: Int { addedTokens.vocabularySize(modelTokenCount: model.tokens.count) }

    /// Added tokens first, then the WordPiece vocabulary, as HF's `token_to_id`.
    public func id(for token: String) -> Int32? { addedTokens.id(for: token, model: model.id(for:)) }

    public func token(for id: Int32) -> String? { addedTokens.token(for: id, modelTokens: model.tokens) }

    /// Special tokens the template adds: 2 for a BERT single text, 3 for a pair.
    public func specialTokenCount(pair: Bool) -> Int { template.addedCount(pair: pair) }

    // MARK: Encoding

    public func encode(_ text: String, pair: String?, maxLength: Int?) throws -> Encoding {
        var scratch = Scratch()
        let a = pieces(of: text, scratch: &scratch)
        var b: PieceSequence?
        // transformers treats an empty text_pair as no pair at all (`if text_pair`).
        if let pair, !pair.isEmpty { b = pieces(of: pair, scratch: &scratch) }
        return try template.encode(a, b, maxLength: maxLength)
    }

    public func encode(words: [String], maxLength: Int?) throws -> Encoding {
        var scratch = Scratch()
        var sequence = PieceSequence()
        var raw: [UInt32] = []
        for (index, word) in words.enumerated() {
            scalars(of: word, into: &raw)
            var counter = WordCounter(fixed: Int32(clamping: index))
            tokenize(raw, counter: &counter, into: &sequence, scratch: &scratch)
        }
        return try template.encode(sequence, nil, maxLength: maxLength)
    }

    // MARK: Pipeline

    /// Reused buffers for one call (never shared: the tokenizer stays immutable).
    private struct Scratch {
        var text = NormalizedText()
        var spare = NormalizedText()
        var words: [Range<Int>] = []
    }

    /// Hands out word ids: the fixed one of a pre-split word, else 0, 1, 2... per
    /// pre-tokenizer word or added token of the sequence.
    private struct WordCounter {
        var fixed: Int32?
        var next: Int32 = 0

        mutating func take() -> Int32 {
            if let fixed { return fixed }
            defer { next &+= 1 }
            return next
        }
    }

    private func scalars(of string: String, into raw: inout [UInt32]) {
        raw.removeAll(keepingCapacity: true)
        raw.reserveCapacity(string.utf8.count)
        for scalar in string.unicodeScalars { raw.append(scalar.value) }
    }

    private func pieces(of text: String, scratch: inout Scratch) -> PieceSequence {
        var raw: [UInt32] = []
        scalars(of: text, into: &raw)
        var sequence = PieceSequence()
        sequence.ids.reserveCapacity(raw.count / 3 + 4)
        sequence.wordIds.reserveCapacity(raw.count / 3 + 4)
        sequence.offsets.reserveCapacity(raw.count / 3 + 4)
        var counter = WordCounter()
        tokenize(raw, counter: &counter, into: &sequence, scratch: &scratch)
        return sequence
    }

    /// Steps 1-4 of the pipeline for one input (a text, or one pre-split word).
    private func tokenize(_ raw: [UInt32], counter: inout WordCounter, into out: inout PieceSequence, scratch: inout Scratch) {
        var position = 0
        while position < raw.count {
            let match = rawMatcher.firstMatch(in: raw, position..<raw.count)
            let end = match?.range.lowerBound ?? raw.count
            if end > position { tokenizeSegment(raw, position..<end, counter: &counter, into: &out, scratch: &scratch) }
            guard let match else { break }
            out.append(id: match.id, wordId: counter.take(), offsets: match.range)
            position = match.range.upperBound
        }
    }

    /// Normalizes a stretch of input free of raw added tokens, then splits it into
    /// words (and normalized added tokens) and the words into pieces.
    private func tokenizeSegment(_ raw: [UInt32], _ range: Range<Int>, counter: inout WordCounter,
                                 into out: inout PieceSequence, scratch: inout Scratch) {
        if let normalizer {
            normalizer.normalize(raw, range, into: &scratch.text, scratch: &scratch.spare)
        } else {
            scratch.text.removeAll()
            for i in range { scratch.text.append(raw[i], from: i) }
        }
        let count = scratch.text.count
        var position = 0
        while position < count {
            let match = normalizedMatcher.firstMatch(in: scratch.text.scalars, position..<count)
            let end = match?.range.lowerBound ?? count
            if end > position {
                scratch.words.removeAll(keepingCapacity: true)
                BertPreTokenizer.split(scratch.text.scalars, position..<end, into: &scratch.words)
                for word in scratch.words {
                    model.appendPieces(of: word, in: scratch.text, wordId: counter.take(), to: &out)
                }
            }
            guard let match else { break }
            out.append(id: match.id, wordId: counter.take(), offsets: scratch.text.originalRange(match.range))
            position = match.range.upperBound
        }
    }
}
