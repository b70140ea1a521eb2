import Foundation

// MARK: - Configuration

/// Everything a `WordPieceTokenizer` is built from, whichever files it came from.
struct WordPieceConfiguration {
    var model: WordPieceModel
    /// nil: the tokenizer has no normalizer (text goes to the pre-tokenizer as is).
    var normalizer: BertNormalizer?
    var addedTokens: [AddedToken]
    var template: PostProcessorTemplate
    var clsId: Int32
    var sepId: Int32
    var padId: Int32
}

/// The names of BERT's special tokens.
struct BertSpecialTokenNames {
    var unk = "[UNK]"
    var cls = "[CLS]"
    var sep = "[SEP]"
    var pad = "[PAD]"
    var mask = "[MASK]"
}

// MARK: - vocab.txt

extension WordPieceConfiguration {
    /// A vocab.txt (one token per line, id = line index) with BERT's pipeline around
    /// it, as transformers' BertTokenizer builds it from the same file.
    static func vocabFile(_ url: URL, normalizer: BertNormalizer, maxInputCharsPerWord: Int,
                          names: BertSpecialTokenNames = BertSpecialTokenNames()) throws -> WordPieceConfiguration {
        let source = url.path
        let vocabulary = try readVocabFile(url)
        let model = try WordPieceModel(vocabulary: vocabulary, unkToken: names.unk, continuingSubwordPrefix: "##",
                                       maxInputCharsPerWord: maxInputCharsPerWord, source: source,
                                       locate: { "line \(Int($0) + 1)" })
        func required(_ name: String, _ role: String) throws -> Int32 {
            guard let id = model.id(for: name) else {
                throw OfframpError("\(source): the \(role) token \(quotedToken(name)) is not in the vocabulary")
            }
            return id
        }
        let cls = try required(names.cls, "classifier"), sep = try required(names.sep, "separator")
        let pad = try required(names.pad, "padding")
        // transformers registers the special tokens as added tokens matched in the
        // raw text (normalized: false); [MASK] too, when the vocabulary has it.
        var added: [AddedToken] = []
        for name in [names.pad, names.unk, names.cls, names.sep, names.mask] {
            if let id = model.id(for: name), !added.contains(where: { $0.id == id }) {
                added.append(AddedToken(content: name, id: id, normalized: false))
            }
        }
        return WordPieceConfiguration(model: model, normalizer: normalizer, addedTokens: added,
                                      template: .bert(cls: cls, sep: sep), clsId: cls, sepId: sep, padId: pad)
    }

    /// The lines of a vocab.txt as (token, id) pairs. Lines end at "\n", "\r\n" or
    /// "\r" (Python's universal newlines, which transformers' `load_vocab` reads
    /// with); nothing else is stripped, so a token may hold spaces.
    static func readVocabFile(_ url: URL) throws -> [(token: String, id: Int32)] {
        let path = url.path
        let bytes = try readTokenizerFile(url, missing: "tokenizer vocabulary not found", unreadable: "cannot read tokenizer vocabulary")
        var entries: [(token: String, id: Int32)] = []
        var start = 0, i = 0
        func finishLine(at end: Int) throws {
            guard let token = String(validating: bytes[start..<end], as: UTF8.self) else {
                throw OfframpError("\(path): line \(entries.count + 1) is not valid UTF-8")
            }
            entries.append((token, Int32(entries.count)))
        }
        while i < bytes.count {
            if bytes[i] == 0x0A || bytes[i] == 0x0D {
                try finishLine(at: i)
                if bytes[i] == 0x0D, i + 1 < bytes.count, bytes[i + 1] == 0x0A { i += 1 }
                start = i + 1
            }
            i += 1
        }
        if start < bytes.count { try finishLine(at: bytes.count) }
        guard !entries.isEmpty else { throw OfframpError("\(path): the vocabulary is empty") }
        guard entries.count < Int(Int32.max) else { throw OfframpError("\(path): too many lines for a vocabulary") }
        return entries
    }
}

// MARK: - tokenizer_config.json

extension WordPieceConfiguration {
    /// The settings transformers reads from tokenizer_config.json next to a
    /// vocab.txt: `do_lower_case`, `strip_accents`, `tokenize_chinese_chars` and the
    /// special token names (strings or `{"content": ...}` objects).
    static func tokenizerConfig(_ url: URL) throws -> (normalizer: BertNormalizer, names: BertSpecialTokenNames) {
        let source = url.path
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: url))
        } catch {
            throw OfframpError("cannot read \(source): \(error.localizedDescription)")
        }
        let json = try TokenizerJSONReader.parse(bytes, source: source)
        guard json.members != nil else { throw OfframpError("\(source): expected a JSON object") }

        func flag(_ key: String, default value: Bool?) throws -> Bool? {
            guard let v = json[key], !v.isNull else { return value }
            guard let b = v.bool else { throw OfframpError("\(source): \(key) must be true, false or null") }
            return b
        }
        let lowercase = try flag("do_lower_case", default: true) ?? true
        let strip = try flag("strip_accents", default: nil) ?? lowercase
        let chinese = try flag("tokenize_chinese_chars", default: true) ?? true
        if let basic = try flag("do_basic_tokenize", default: true), !basic {
            throw OfframpError("\(source): do_basic_tokenize false is not supported")
        }

        var names = BertSpecialTokenNames()
        func name(_ key: String, _ keyPath: WritableKeyPath<BertSpecialTokenNames, String>) throws {
            guard let v = json[key], !v.isNull else { return }
            if let s = v.string ?? v["content"]?.string {
                names[keyPath: keyPath] = s
            } else {
                throw OfframpError("\(source): \(key) must be a string or an object with \"content\"")
            }
        }
        try name("unk_token", \.unk)
        try name("cls_token", \.cls)
        try name("sep_token", \.sep)
        try name("pad_token", \.pad)
        try name("mask_token", \.mask)
        let normalizer = BertNormalizer(cleanText: true, handleChineseChars: chinese, stripAccents: strip, lowercase: lowercase)
        return (normalizer, names)
    }
}
