import Foundation

// MARK: - A checkpoint directory's weights: one safetensors file or its shards

/// The tensors of a checkpoint directory: `model.safetensors`, or the shards
/// that `model.safetensors.index.json` lists (HF's `save_pretrained` splits
/// large models so), read as one set of names. A directory with only
/// PyTorch's `pytorch_model.bin` is an error that says how to convert it.
public final class CheckpointWeights: @unchecked Sendable {
    /// What messages name: the file, or the index.
    public let path: String
    public let tensors: [String: SafeTensorInfo]
    private let fileOf: [String: SafeTensorsFile]

    /// One safetensors file.
    public init(_ file: SafeTensorsFile) {
        path = file.url.path
        tensors = file.tensors
        fileOf = file.tensors.mapValues { _ in file }
    }

    private init(path: String, files: [(name: String, file: SafeTensorsFile)], weightMap: [String: String]) throws {
        self.path = path
        let byName = Dictionary(files.map { ($0.name, $0.file) }, uniquingKeysWith: { first, _ in first })
        var tensors: [String: SafeTensorInfo] = [:], fileOf: [String: SafeTensorsFile] = [:]
        for (tensor, shard) in weightMap {
            guard let file = byName[shard], let info = file.tensors[tensor] else {
                throw OfframpError("\(path): weight_map puts \(tensor) in \(shard), which does not hold it")
            }
            tensors[tensor] = info
            fileOf[tensor] = file
        }
        self.tensors = tensors
        self.fileOf = fileOf
    }

    /// Opens the weights of `directory`.
    public static func open(directory: URL) throws -> CheckpointWeights {
        let fm = FileManager.default
        let single = directory.appendingPathComponent("model.safetensors")
        if fm.fileExists(atPath: single.path) { return CheckpointWeights(try SafeTensorsFile(url: single)) }
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        if fm.fileExists(atPath: index.path) { return try sharded(index: index) }
        for torch in ["pytorch_model.bin", "pytorch_model.bin.index.json"] where fm.fileExists(atPath: directory.appendingPathComponent(torch).path) {
            throw OfframpError("\(directory.path): has \(torch) (PyTorch pickle) but no model.safetensors; Offramp reads safetensors only. "
                + "Convert it with transformers: python -c \"from transformers import AutoModel as A; "
                + "A.from_pretrained('\(directory.path)').save_pretrained('\(directory.path)', safe_serialization=True)\" "
                + "(use the model's own class, e.g. AutoModelForSequenceClassification, to keep its head)")
        }
        throw OfframpError("\(directory.path): no model.safetensors (nor model.safetensors.index.json) in the model directory")
    }

    /// The shards an index lists, each opened once.
    static func sharded(index: URL) throws -> CheckpointWeights {
        let path = index.path
        let json: JSONValue
        do {
            json = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: index))
        } catch {
            throw OfframpError("\(path): not a readable JSON index (\(error.localizedDescription))")
        }
        guard let map = json["weight_map"]?.objectValue, !map.isEmpty else {
            throw OfframpError("\(path): no \"weight_map\" object naming each tensor's shard")
        }
        var weightMap: [String: String] = [:]
        for (tensor, value) in map {
            guard let shard = value.stringValue, !shard.contains("/"), !shard.hasPrefix(".") else {
                throw OfframpError("\(path): weight_map[\"\(tensor)\"] must be a file name in the model directory")
            }
            weightMap[tensor] = shard
        }
        let directory = index.deletingLastPathComponent()
        let files = try Set(weightMap.values).sorted().map { shard in
            let url = directory.appendingPathComponent(shard)
            guard FileManager.default.fileExists(atPath: url.path) else {
                let example = weightMap.first { $0.value == shard }!.key
                throw OfframpError("\(path): weight_map names the shard \(shard) (it holds \(example), say), which is not in \(directory.path)")
            }
            return (name: shard, file: try SafeTensorsFile(url: url))
        }
        return try CheckpointWeights(path: path, files: files, weightMap: weightMap)
    }

    /// Tensor `name` as Floats into `destination` (`SafeTensorsFile.readFloats`).
    public func readFloats(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        guard let file = fileOf[name] else { throw OfframpError("\(path): no tensor \(name)") }
        try file.readFloats(name, into: destination)
    }

    /// Tensor `name`'s stored bytes into `destination` (`SafeTensorsFile.copyBytes`).
    public func copyBytes(_ name: String, into destination: UnsafeMutableRawBufferPointer) throws {
        guard let file = fileOf[name] else { throw OfframpError("\(path): no tensor \(name)") }
        try file.copyBytes(name, into: destination)
    }

    /// The file that holds tensor `name` (for its integer and raw readers).
    public func file(of name: String) -> SafeTensorsFile? { fileOf[name] }
}
