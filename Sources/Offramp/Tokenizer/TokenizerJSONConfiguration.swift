import Foundation

// MARK: - tokenizer.json

extension WordPieceConfiguration {
    /// An HF `tokenizers` file whose model is WordPiece, with the BERT normalizer
    /// and pre-tokenizer. Parts Offramp does not implement are refused with an
    /// error naming the field, rather than silently tokenizing differently.
    ///
    /// The file's own `truncation` and `padding` sections are ignored: callers pass
    /// `maxLength` per call (transformers overrides them per call too).
    static func tokenizerJSON(_ url: URL) throws -> WordPieceConfiguration {
        let (json, source, fail) = try TokenizerJSONFile.read(url)
        return try tokenizerJSON(json, source: source, fail)
    }

    /// The same from the parsed file (`source` names it in errors).
    static func tokenizerJSON(_ json: TokenizerJSON, source: String, _ fail: (String) -> OfframpError) throws -> WordPieceConfiguration {
        // Model.
        guard let modelJSON = json["model"], modelJSON.members != nil else { throw fail("no \"model\" object") }
        let modelType = modelJSON["type"]?.string ?? "(none)"
        guard modelType == "WordPiece" else { throw fail("model.type is \(modelType); only WordPiece is supported") }
        let vocabulary = try TokenizerJSONFile.vocabularyObject(modelJSON, fail)
        let unk = try string(modelJSON, "unk_token", default: "[UNK]", field: "model.unk_token", fail)
        let prefix = try string(modelJSON, "continuing_subword_prefix", default: "##",
                                field: "model.continuing_subword_prefix", fail)
        var maxChars = 100
        if let v = modelJSON["max_input_chars_per_word"], !v.isNull {
            guard let n = v.int else { throw fail("model.max_input_chars_per_word must be an integer") }
            maxChars = n
        }
        let model = try WordPieceModel(vocabulary: vocabulary, unkToken: unk, continuingSubwordPrefix: prefix,
                                       maxInputCharsPerWord: maxChars, source: source + " model.vocab")

        // Normalizer.
        var normalizer: BertNormalizer?
        if let n = json["normalizer"], !n.isNull {
            let type = n["type"]?.string ?? "(none)"
            guard type == "BertNormalizer" else { throw fail("normalizer.type is \(type); only BertNormalizer is supported") }
            func flag(_ key: String, _ value: Bool) throws -> Bool {
                guard let v = n[key], !v.isNull else { return value }
                guard let b = v.bool else { throw fail("normalizer.\(key) must be true or false") }
                return b
            }
            let lowercase = try flag("lowercase", true)
            normalizer = BertNormalizer(cleanText: try flag("clean_text", true),
                                        handleChineseChars: try flag("handle_chinese_chars", true),
                                        stripAccents: try flag("strip_accents", lowercase),  // null: follow lowercase
                                        lowercase: lowercase)
        }

        // Pre-tokenizer.
        let preType = json["pre_tokenizer"].flatMap { $0.isNull ? nil : ($0["type"]?.string ?? "(none)") } ?? "null"
        guard preType == "BertPreTokenizer" else {
            throw fail("pre_tokenizer.type is \(preType); only BertPreTokenizer is supported")
        }

        let added = try TokenizerJSONFile.addedTokens(json, fail)

        let (template, cls, sep, pad) = try TokenizerJSONFile.template(json, added: added, fail) { model.id(for: $0) }
        return WordPieceConfiguration(model: model, normalizer: normalizer, addedTokens: added, template: template,
                                      clsId: cls, sepId: sep, padId: pad)
    }

    // MARK: Helpers

    private static func string(_ object: TokenizerJSON, _ key: String, default value: String, field: String,
                               _ fail: (String) -> OfframpError) throws -> String {
        guard let v = object[key], !v.isNull else { return value }
        guard let s = v.string else { throw fail("\(field) must be a string") }
        return s
    }
}

// MARK: - Sections shared by every model type

/// The bytes of a tokenizer file; errors read "<missing>: <path>" and
/// "<unreadable> <path>: <reason>".
func readTokenizerFile(_ url: URL, missing: String, unreadable: String) throws -> [UInt8] {
    guard FileManager.default.fileExists(atPath: url.path) else { throw OfframpError("\(missing): \(url.path)") }
    do {
        return [UInt8](try Data(contentsOf: url))
    } catch {
        throw OfframpError("\(unreadable) \(url.path): \(error.localizedDescription)")
    }
}

/// Reading tokenizer.json: the file itself and the sections that do not depend
/// on the model type (added tokens, post-processor and the special ids).
enum TokenizerJSONFile {
    /// The parsed file, its path, and an error maker prefixing the path.
    static func read(_ url: URL) throws -> (TokenizerJSON, String, (String) -> OfframpError) {
        let source = url.path
        let bytes = try readTokenizerFile(url, missing: "tokenizer file not found", unreadable: "cannot read")
        let json = try TokenizerJSONReader.parse(bytes, source: source)
        return (json, source, { OfframpError("\(source): \($0)") })
    }

    /// `model.vocab` as WordPiece and BPE write it: an object of token: id.
    static func vocabularyObject(_ model: TokenizerJSON, _ fail: (String) -> OfframpError) throws -> [(token: String, id: Int32)] {
        guard let members = model["vocab"]?.members else { throw fail("model.vocab must be an object of token: id") }
        var vocabulary: [(token: String, id: Int32)] = []
        vocabulary.reserveCapacity(members.count)
        for (token, value) in members {
            guard let id = value.int, let id32 = Int32(exactly: id) else {
                throw fail("model.vocab[\(quotedToken(token))] must be an integer id")
            }
            vocabulary.append((token, id32))
        }
        return vocabulary
    }

    /// Added tokens: matched before the model; at a given position the longest wins.
    static func addedTokens(_ json: TokenizerJSON, _ fail: (String) -> OfframpError) throws -> [AddedToken] {
        var added: [AddedToken] = []
        for (index, entry) in (json["added_tokens"]?.array ?? []).enumerated() {
            let field = "added_tokens[\(index)]"
            guard let content = entry["content"]?.string, let id = entry["id"]?.int, let id32 = Int32(exactly: id) else {
                throw fail("\(field) needs a string content and an integer id")
            }
            func flag(_ key: String) throws -> Bool {
                guard let v = entry[key], !v.isNull else { return false }
                guard let b = v.bool else { throw fail("\(field).\(key) must be true or false") }
                return b
            }
            added.append(AddedToken(content: content, id: id32, normalized: try flag("normalized"), lstrip: try flag("lstrip"),
                                    rstrip: try flag("rstrip"), singleWord: try flag("single_word")))
        }
        return added
    }

    /// The post-processor template and the classifier, separator and padding
    /// ids (see `specialIds`).
    static func template(_ json: TokenizerJSON, added: [AddedToken], _ fail: (String) -> OfframpError,
                         lookup model: (String) -> Int32?) throws -> (PostProcessorTemplate, cls: Int32, sep: Int32, pad: Int32) {
        guard let post = json["post_processor"], !post.isNull else {
            throw fail("post_processor is null; the encoder needs TemplateProcessing or BertProcessing")
        }
        let template = try postProcessor(post, fail)
        let (cls, sep, pad) = try specialIds(template, json, added: added, fail, lookup: model)
        return (template, cls, sep, pad)
    }

    /// The classifier, separator and padding ids of `template`: its first and last
    /// special tokens (else [CLS] or <s>, [SEP] or </s>), and padding.pad_id, else
    /// [PAD] or <pad> (`lookup` finds model tokens).
    static func specialIds(_ template: PostProcessorTemplate, _ json: TokenizerJSON, added: [AddedToken],
                           _ fail: (String) -> OfframpError,
                           lookup model: (String) -> Int32?) throws -> (cls: Int32, sep: Int32, pad: Int32) {
        func lookup(_ token: String) -> Int32? {
            added.first(where: { $0.content.unicodeScalars.elementsEqual(token.unicodeScalars) })?.id ?? model(token)
        }
        func special(_ items: [PostProcessorTemplate.Item], first: Bool, fallbacks: [String], role: String) throws -> Int32 {
            if case let .special(ids, _)? = first ? items.first : items.last, let id = first ? ids.first : ids.last {
                return id
            }
            for name in fallbacks { if let id = lookup(name) { return id } }
            throw fail("no \(role) token: the template has none and \(fallbacks.joined(separator: " and ")) are unknown")
        }
        let cls = try special(template.single, first: true, fallbacks: ["[CLS]", "<s>"], role: "classifier")
        let sep = try special(template.single, first: false, fallbacks: ["[SEP]", "</s>"], role: "separator")
        let pad: Int32
        if let padding = json["padding"], !padding.isNull, let id = padding["pad_id"]?.int, let id32 = Int32(exactly: id) {
            pad = id32
        } else if let id = lookup("[PAD]") ?? lookup("<pad>") {
            pad = id
        } else {
            throw fail("no padding token: padding.pad_id is absent and neither [PAD] nor <pad> is known")
        }
        return (cls, sep, pad)
    }

    /// TemplateProcessing (any template of special tokens and $A/$B) or BertProcessing.
    static func postProcessor(_ post: TokenizerJSON, _ fail: (String) -> OfframpError) throws -> PostProcessorTemplate {
        let type = post["type"]?.string ?? "(none)"
        switch type {
        case "BertProcessing":
            guard let cls = post["cls"]?.array, cls.count == 2, let clsId = cls[1].int.flatMap(Int32.init(exactly:)),
                  let sep = post["sep"]?.array, sep.count == 2, let sepId = sep[1].int.flatMap(Int32.init(exactly:)) else {
                throw fail("post_processor (BertProcessing) needs cls and sep as [token, id]")
            }
            return .bert(cls: clsId, sep: sepId)
        case "TemplateProcessing":
            var specials: [String: [Int32]] = [:]
            for (name, value) in post["special_tokens"]?.members ?? [] {
                guard let ids = value["ids"]?.array?.compactMap({ $0.int.flatMap(Int32.init(exactly:)) }) else {
                    throw fail("post_processor.special_tokens[\(quotedToken(name))] needs ids")
                }
                specials[name] = ids
            }
            func items(_ key: String) throws -> [PostProcessorTemplate.Item] {
                guard let list = post[key]?.array else { throw fail("post_processor.\(key) must be a list") }
                return try list.map { entry in
                    if let s = entry["SpecialToken"] {
                        guard let name = s["id"]?.string, let ids = specials[name] else {
                            throw fail("post_processor.\(key): special token \(s["id"]?.string ?? "?") is not in special_tokens")
                        }
                        return .special(ids: ids, typeId: Int32(clamping: s["type_id"]?.int ?? 0))
                    }
                    if let s = entry["Sequence"] {
                        let which = s["id"]?.string ?? "A"
                        guard which == "A" || which == "B" else { throw fail("post_processor.\(key): unknown sequence \(which)") }
                        return .sequence(second: which == "B", typeId: Int32(clamping: s["type_id"]?.int ?? 0))
                    }
                    throw fail("post_processor.\(key): entries must be SpecialToken or Sequence")
                }
            }
            let template = PostProcessorTemplate(single: try items("single"), pair: try items("pair"))
            let hasA = template.single.contains { item in
                if case .sequence(second: false, _) = item { return true }
                return false
            }
            guard hasA else { throw fail("post_processor.single has no $A") }
            return template
        default:
            throw fail("post_processor.type is \(type); only TemplateProcessing and BertProcessing are supported")
        }
    }
}
