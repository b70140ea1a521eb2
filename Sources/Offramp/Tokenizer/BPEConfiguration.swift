import Foundation

// MARK: - tokenizer.json with a BPE model

extension BPETokenizer {
    /// Reads the sections of an HF tokenizer.json a byte-level BPE tokenizer
    /// uses: `model` (BPE: `vocab`, `merges` as [a, b] pairs or "a b" strings,
    /// `dropout` null or 0, `unk_token`, `continuing_subword_prefix`,
    /// `end_of_word_suffix`, `fuse_unk`, `byte_fallback`, `ignore_merges`),
    /// `normalizer` (null), `pre_tokenizer` (ByteLevel, or a Sequence holding only
    /// it), `added_tokens` and `post_processor` (RobertaProcessing, ByteLevel,
    /// TemplateProcessing, BertProcessing, or a Sequence of ByteLevel then one of
    /// the others). The decoder plays no part in encoding and is not read.
    /// Anything else is refused with an error naming the field.
    static func configuration(_ json: TokenizerJSON, source: String, _ fail: (String) -> OfframpError) throws -> Configuration {
        let model = try bpeModel(json, source: source, fail)
        if let n = json["normalizer"], !n.isNull {
            throw fail("normalizer.type is \(n["type"]?.string ?? "(none)"); only a null normalizer is supported with a BPE model")
        }
        let preTokenizer = try byteLevel(json["pre_tokenizer"], fail)
        let added = try TokenizerJSONFile.addedTokens(json, fail)
        guard let post = json["post_processor"], !post.isNull else {
            throw fail("post_processor is null; the encoder needs RobertaProcessing, TemplateProcessing or ByteLevel")
        }
        let (template, trimming) = try postProcessor(post, field: "post_processor", fail)
        let (cls, sep, pad) = try TokenizerJSONFile.specialIds(template, json, added: added, fail) { model.id(for: $0) }
        return Configuration(model: model, preTokenizer: preTokenizer, addedTokens: added, template: template,
                             trimming: trimming, clsId: cls, sepId: sep, padId: pad)
    }

    // MARK: Model

    private static func bpeModel(_ json: TokenizerJSON, source: String, _ fail: (String) -> OfframpError) throws -> BPEModel {
        guard let m = json["model"], m.members != nil else { throw fail("no \"model\" object") }
        let type = m["type"]?.string ?? "(none)"
        guard type == "BPE" else { throw fail("model.type is \(type), not BPE") }
        if let d = m["dropout"], !d.isNull {
            // 0 is no dropout (HF treats it so); anything else is random and cannot match.
            guard case let .number(p) = d, p == 0 else { throw fail("model.dropout must be null: BPE dropout is random, not supported") }
        }
        let vocabulary = try TokenizerJSONFile.vocabularyObject(m, fail)
        guard let list = m["merges"]?.array else { throw fail("model.merges must be a list") }
        var merges: [(String, String)] = []
        var fields: [String] = []
        merges.reserveCapacity(list.count)
        let legacy = list.first?.string != nil
        for (i, entry) in list.enumerated() {
            let field = "model.merges[\(i)]"
            if legacy {
                guard let line = entry.string else { throw fail("\(field) must be a string \"a b\" like the merges before it") }
                if line.hasPrefix("#version") { continue }
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw fail("\(field) must be two tokens separated by one space, got \(quotedToken(line))") }
                merges.append((String(parts[0]), String(parts[1])))
            } else {
                guard let pair = entry.array, pair.count == 2, let a = pair[0].string, let b = pair[1].string else {
                    throw fail("\(field) must be a pair of token strings [a, b]")
                }
                merges.append((a, b))
            }
            fields.append(field)
        }
        func optionalString(_ key: String) throws -> String? {
            guard let v = m[key], !v.isNull else { return nil }
            guard let s = v.string else { throw fail("model.\(key) must be a string or null") }
            return s
        }
        func flag(_ key: String, _ value: Bool) throws -> Bool {
            guard let v = m[key], !v.isNull else { return value }
            guard let b = v.bool else { throw fail("model.\(key) must be true or false") }
            return b
        }
        return try BPEModel(vocabulary: vocabulary, merges: merges, unkToken: try optionalString("unk_token"),
                            continuingSubwordPrefix: try optionalString("continuing_subword_prefix"),
                            endOfWordSuffix: try optionalString("end_of_word_suffix"),
                            fuseUnk: try flag("fuse_unk", false), byteFallback: try flag("byte_fallback", false),
                            ignoreMerges: try flag("ignore_merges", false), source: source, locateMerge: { fields[$0] })
    }

    // MARK: Pre-tokenizer

    /// ByteLevel, alone or as the only member of a Sequence.
    private static func byteLevel(_ node: TokenizerJSON?, _ fail: (String) -> OfframpError) throws -> ByteLevelPreTokenizer {
        var field = "pre_tokenizer"
        guard var p = node, !p.isNull else { throw fail("pre_tokenizer is null; a BPE tokenizer needs ByteLevel") }
        if p["type"]?.string == "Sequence" {
            guard let list = p["pretokenizers"]?.array, !list.isEmpty else { throw fail("pre_tokenizer.pretokenizers must be a list") }
            for (i, member) in list.enumerated() where member["type"]?.string != "ByteLevel" || i > 0 {
                throw fail("pre_tokenizer.pretokenizers[\(i)].type is \(member["type"]?.string ?? "(none)"); "
                    + "only a single ByteLevel is supported with a BPE model")
            }
            p = list[0]
            field += ".pretokenizers[0]"
        }
        let type = p["type"]?.string ?? "(none)"
        guard type == "ByteLevel" else { throw fail("\(field).type is \(type); only ByteLevel is supported with a BPE model") }
        return ByteLevelPreTokenizer(addPrefixSpace: try flag(p, "add_prefix_space", true, field: field, fail),
                                     useRegex: try flag(p, "use_regex", true, field: field, fail))
    }

    private static func flag(_ node: TokenizerJSON, _ key: String, _ value: Bool, field: String,
                             _ fail: (String) -> OfframpError) throws -> Bool {
        guard let v = node[key], !v.isNull else { return value }
        guard let b = v.bool else { throw fail("\(field).\(key) must be true or false") }
        return b
    }

    // MARK: Post-processor

    /// The template and the offset trimming (nil: none) of a post-processor.
    private static func postProcessor(_ post: TokenizerJSON, field: String,
                                      _ fail: (String) -> OfframpError) throws -> (PostProcessorTemplate, OffsetTrimming?) {
        let type = post["type"]?.string ?? "(none)"
        switch type {
        case "RobertaProcessing":
            guard let cls = post["cls"]?.array, cls.count == 2, let clsId = cls[1].int.flatMap(Int32.init(exactly:)),
                  let sep = post["sep"]?.array, sep.count == 2, let sepId = sep[1].int.flatMap(Int32.init(exactly:)) else {
                throw fail("\(field) (RobertaProcessing) needs cls and sep as [token, id]")
            }
            return (.roberta(cls: clsId, sep: sepId), try trimming(post, field: field, fail))
        case "ByteLevel":
            return (.bare, try trimming(post, field: field, fail))
        case "Sequence":
            guard let list = post["processors"]?.array else { throw fail("\(field).processors must be a list") }
            var template = PostProcessorTemplate.bare
            var trim: OffsetTrimming?
            var sawTemplate = false, sawByteLevel = false
            for (i, member) in list.enumerated() {
                let memberField = "\(field).processors[\(i)]"
                if member["type"]?.string == "ByteLevel" {
                    // After the special tokens, HF's trimming would see other token indices.
                    guard !sawByteLevel && !sawTemplate else {
                        throw fail("\(memberField): ByteLevel is supported once, before the template")
                    }
                    sawByteLevel = true
                    trim = try trimming(member, field: memberField, fail)
                } else {
                    guard !sawTemplate else { throw fail("\(memberField): only one template post-processor is supported") }
                    sawTemplate = true
                    let (t, memberTrim) = try postProcessor(member, field: memberField, fail)
                    template = t
                    if let memberTrim {
                        guard trim == nil else { throw fail("\(memberField): offsets would be trimmed twice") }
                        trim = memberTrim
                    }
                }
            }
            return (template, trim)
        default:
            do {
                return (try TokenizerJSONFile.postProcessor(post, fail), nil)
            } catch {
                throw fail("\(field).type is \(type); RobertaProcessing, ByteLevel, TemplateProcessing, BertProcessing "
                    + "or a Sequence of them is supported with a BPE model (\(error))")
            }
        }
    }

    private static func trimming(_ node: TokenizerJSON, field: String, _ fail: (String) -> OfframpError) throws -> OffsetTrimming? {
        guard try flag(node, "trim_offsets", true, field: field, fail) else { return nil }
        return OffsetTrimming(addPrefixSpace: try flag(node, "add_prefix_space", true, field: field, fail))
    }
}

// MARK: - Templates

extension PostProcessorTemplate {
    /// RoBERTa's: `<s> A </s>` and `<s> A </s> </s> B </s>`, every segment id 0.
    static func roberta(cls: Int32, sep: Int32) -> PostProcessorTemplate {
        PostProcessorTemplate(
            single: [.special(ids: [cls], typeId: 0), .sequence(second: false, typeId: 0), .special(ids: [sep], typeId: 0)],
            pair: [.special(ids: [cls], typeId: 0), .sequence(second: false, typeId: 0), .special(ids: [sep, sep], typeId: 0),
                   .sequence(second: true, typeId: 0), .special(ids: [sep], typeId: 0)]
        )
    }

    /// No special tokens (GPT-2's ByteLevel post-processor): B gets segment 1, as HF gives a pair.
    static let bare = PostProcessorTemplate(single: [.sequence(second: false, typeId: 0)],
                                            pair: [.sequence(second: false, typeId: 0), .sequence(second: true, typeId: 1)])
}
