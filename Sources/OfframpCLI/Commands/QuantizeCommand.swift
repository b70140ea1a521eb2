import ArgumentParser
import Foundation
import Offramp

// MARK: - offramp quantize

/// `offramp quantize --model DIR --precision int8|bf16 [--smooth-quant FILE] --out DIR`:
/// the model with its encoder weights saved as load-time quantization makes
/// them, so loading it allocates no fp32 copy (docs/cli.md#quantize).
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Save a model with its encoder weights in int8 or bf16, loadable without the fp32 weights.",
        discussion: """
            Each encoder layer weight is stored as I8 (symmetric per output channel, with <name>.weight_scale, and \
            <name>.input_smoothing with --smooth-quant) or BF16, the word-embedding table likewise (a scale per row); \
            the rest stays F32. config.json gets an "offramp_quantization" block. Every inference command then loads \
            OUT in that precision (--precision defaults to it); training and export need the fp32 model. OUT must not \
            exist; it appears whole or not at all. docs/cli.md#quantize.
            """)

    @Option(help: ArgumentHelp("The fp32 model directory (an encoder or a multi-exit checkpoint).", valueName: "dir")) var model: String
    @Option(help: ArgumentHelp("int8 or bf16.", valueName: "precision")) var precision: String
    @Option(help: ArgumentHelp("int8: SmoothQuant, calibrated on these texts (one per line; a few hundred suffice).",
                               valueName: "file"))
    var smoothQuant: String?
    @Option(help: ArgumentHelp("The directory to create (must not exist).", valueName: "dir")) var out: String

    func run() throws {
        let target = try checkingOptions { try Precision(parsing: precision) }
        guard target != .fp32 else { throw ValidationError("--precision: quantize writes int8 or bf16 (fp32 is the model itself)") }
        if smoothQuant != nil { try require(target == .int8, "--smooth-quant applies to --precision int8") }
        let source = URL(fileURLWithPath: model), outURL = URL(fileURLWithPath: out)
        guard !FileManager.default.fileExists(atPath: outURL.path) else {
            throw ValidationError("--out \(out) already exists; quantize writes a new directory (remove it or choose another)")
        }
        let configURL = source.appendingPathComponent("config.json")
        let config = try BertConfig.load(from: configURL)
        if let saved = try SavedQuantization.read(from: config, file: configURL.path) { throw saved.needsFP32("quantize", path: source.path) }
        // Loaded as `encode` loads it, so --smooth-quant's texts are cut at the same length.
        let text = try TextEncoder.load(directory: source)
        let encoder = text.encoder, weights = try CheckpointWeights.open(directory: source)
        let calibration = try smoothQuant.map { try PrecisionOptions.calibration(file: $0, text.tokenizer, maxLength: text.maxLength) } ?? []
        try encoder.prepare(precision: target, smoothQuantOn: calibration, evenWithoutKernels: true)
        do {
            try encoder.writeQuantized(source: weights, config: config, sourceDirectory: source,
                                       copying: BertEncoder.filesKeptWhenQuantizing(source), to: outURL)
        } catch let e as OfframpError where FileManager.default.fileExists(atPath: outURL.path) && e.message.hasSuffix("(it is not replaced)") {
            throw ValidationError("--out \(out) already exists; quantize writes a new directory (remove it or choose another)")
        }
        let bytes = (try? FileManager.default.attributesOfItem(atPath: outURL.appendingPathComponent("model.safetensors").path)[.size] as? Int) ?? 0
        printError("wrote \(out): encoder weights in \(target)\(encoder.smoothed ? " with SmoothQuant" : ""), model.safetensors "
            + String(format: "%.1f MB", Double(bytes) / 1e6))
    }
}
