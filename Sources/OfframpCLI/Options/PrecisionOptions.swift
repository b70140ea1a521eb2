import ArgumentParser
import Foundation
import Offramp

// MARK: - --precision: the number format of the encoder's products

/// `--precision` of every inference command: fp32, bf16 or int8
/// (docs/methods.md#precision). Benchmarks take a comma-separated list and
/// measure each in the same run. Without it a model runs in the precision
/// it was saved in (`offramp quantize`), else fp32.
struct PrecisionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Encoder products: fp32, bf16 or int8 (exit heads, LayerNorm, softmax and GELU stay fp32). "
                                   + "Default: the precision a quantized model was saved in (offramp quantize), else fp32.",
                               valueName: "precision"))
    var precision: String?
    @Option(help: ArgumentHelp("int8: SmoothQuant, calibrated on these texts (one per line; a few hundred suffice).",
                               valueName: "file"))
    var smoothQuant: String?

    /// The precisions listed (benchmarks), in order, each once; without
    /// --precision, `saved` (a quantized model's), else fp32.
    func list(saved: Precision? = nil) throws -> [Precision] {
        guard let precision else { return [saved ?? .fp32] }
        var out: [Precision] = []
        for part in precision.split(separator: ",", omittingEmptySubsequences: false) {
            let p = try parse(String(part))
            if !out.contains(p) { out.append(p) }
        }
        return out
    }

    /// The one precision of a command that runs one; nil without --precision.
    func single() throws -> Precision? {
        guard let precision else { return nil }
        let all = try list()
        guard all.count == 1 else { throw ValidationError("--precision takes one value here (\(precision))") }
        return all[0]
    }

    private func parse(_ text: String) throws -> Precision {
        do { return try Precision(parsing: text.trimmingCharacters(in: .whitespaces)) } catch let e as OfframpError {
            throw ValidationError(e.message)
        }
    }

    /// `--smooth-quant`'s texts, tokenized in batches of 32 (none without it).
    /// An error when the precisions asked for include no int8, or when the
    /// model was saved quantized (`saved`: smoothing was chosen then).
    func calibration(_ tokenizer: any TextTokenizer, maxLength: Int, saved: SavedQuantization? = nil) throws -> [PackedBatch] {
        guard let smoothQuant else { return [] }
        if let saved {
            throw ValidationError("--smooth-quant: the model is saved quantized in \(saved.precision)\(saved.smoothing ? " with SmoothQuant" : ""); "
                + "smoothing is chosen by offramp quantize, not at load")
        }
        guard try list().contains(.int8) else { throw ValidationError("--smooth-quant applies to --precision int8") }
        return try Self.calibration(file: smoothQuant, tokenizer, maxLength: maxLength)
    }

    /// The texts of `file` (--smooth-quant's), tokenized in batches of 32.
    static func calibration(file smoothQuant: String, _ tokenizer: any TextTokenizer, maxLength: Int) throws -> [PackedBatch] {
        let texts = try readTextLines(URL(fileURLWithPath: smoothQuant)).map { String($0.text) }
            .filter { !$0.allSatisfy(\.isWhitespace) }
        guard !texts.isEmpty else { throw ValidationError("--smooth-quant \(smoothQuant): no texts in the file") }
        return try stride(from: 0, to: texts.count, by: 32).map { start in
            PackedBatch(encodings: try texts[start ..< min(start + 32, texts.count)].map {
                try tokenizer.encode($0, pair: nil, maxLength: maxLength)
            })
        }
    }

    /// Prepares `encoder` for the precision (int8 with SmoothQuant when
    /// `calibration` has batches), saying on standard error when this CPU
    /// lacks its kernels and fp32 runs instead. `precision` nil: the model's
    /// saved precision (a quantized checkpoint), else fp32; another than a
    /// quantized checkpoint's is an error.
    static func prepare(_ encoder: BertEncoder, _ requested: Precision?, smoothQuantOn calibration: [PackedBatch] = []) throws {
        if let saved = encoder.savedQuantization {
            if let requested, requested != saved.precision {
                throw ValidationError("--precision \(requested): the model is saved quantized in \(saved.precision) (offramp quantize) and holds "
                    + "no fp32 weights; it runs in \(saved.precision) only (omit --precision, or use the fp32 model)")
            }
            return
        }
        let precision = requested ?? .fp32
        let ran = try encoder.prepare(precision: precision, smoothQuantOn: calibration)
        if ran != precision {
            let needs = precision == .int8 ? "AVX512-VNNI" : "AVX512-BF16"
            FileHandle.standardError.write(Data("note: this CPU has no \(needs); --precision \(precision) runs in fp32\n".utf8))
        }
    }
}
