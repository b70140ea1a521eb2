import ArgumentParser
import Foundation
import Offramp

// MARK: - offramp info

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show a model directory's config, parameter count and tensors.")

    @Argument(help: "Model directory (config.json, model.safetensors, vocab.txt or tokenizer.json).")
    var directory: String

    @Flag(help: "List every tensor of model.safetensors.")
    var tensors = false

    func run() throws {
        let dir = URL(fileURLWithPath: directory)
        let config = try BertConfig.load(from: dir.appendingPathComponent("config.json"))
        let file = try CheckpointWeights.open(directory: dir)
        print("model      \(dir.path)   (\(config.family.rawValue)\(config.embeddingSize.map { ", embeddings \($0) wide" } ?? ""))")
        print("layers     \(config.numHiddenLayers)   hidden \(config.hiddenSize)   heads \(config.numAttentionHeads)   intermediate \(config.intermediateSize)")
        print("vocab      \(config.vocabSize)   positions \(config.maxPositionEmbeddings)   types \(config.typeVocabSize)   act \(config.hiddenAct)   eps \(config.layerNormEps)")
        let configPath = dir.appendingPathComponent("config.json").path
        let saved = try SavedQuantization.read(from: config, file: configPath)
        // A quantized checkpoint's scales and smoothing factors are not parameters of the model.
        let auxiliary = [SavedQuantization.scaleSuffix, SavedQuantization.smoothingSuffix]
        let parameters = file.tensors.filter { name, _ in saved == nil || !auxiliary.contains { name.hasSuffix($0) } }
        let total = parameters.values.reduce(0) { $0 + $1.elementCount }
        print("tensors    \(file.tensors.count)   parameters \(total) (\(String(format: "%.1f", Double(total) / 1e6))M)")
        if let saved {
            let bytes = file.tensors.values.reduce(0) { $0 + $1.byteRange.count }
            print("saved      \(saved.precision) (\(saved.scheme)\(saved.smoothing ? ", SmoothQuant" : "")): encoder layer weights and "
                + "word table; the rest fp32; \(String(format: "%.1f", Double(bytes) / 1e6)) MB of tensors (offramp quantize)")
        } else {
            print("saved      fp32 (load in int8 or bf16 with --precision, or save so with offramp quantize)")
        }
        let encoderParams = BertEncoder.parameterSpecs(config).reduce(0) { $0 + $1.shape.reduce(1, *) }
        print("encoder    \(encoderParams) parameters expected from config.json")
        print("BLAS       OpenBLAS \(BLASKernels.coreName) kernels, \(Threads.count) threads")
        if let settings = try ExitSettings.read(from: config, file: configPath) {
            print("exits      \(settings.task.rawValue) after layers \(settings.exits.map(String.init).joined(separator: ",")): \(settings.headsDescription)")
            if let policy = settings.policy { print("policy     \(policy)") }
            if let g = settings.guarantee { print("guarantee  \(try CalibrationGuarantee(json: g).summary)") }
        }
        if tensors {
            for name in file.tensors.keys.sorted() {
                let t = file.tensors[name]!
                print("  \(name)  \(t.dtype.rawValue)  \(t.shape)")
            }
        }
    }
}
