import ArgumentParser
import Foundation
import Offramp

// MARK: - offramp encode

struct EncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Embed texts: one JSON object per line, {\"text\", \"embedding\"} (or per-token \"tokens\" and \"hidden\").")

    @Option(help: "Model directory.") var model: String
    @Option(help: "mean, cls or none (every token's last hidden state).") var pooling: Pooling = .mean
    @Option(help: "Read texts from this file, one per line (default: arguments, else stdin).") var file: String?
    @Option(help: "Maximum tokens per text, [CLS] and [SEP] included (default: the model's).") var maxLength: Int?
    @Option(help: "Texts per forward pass.") var batchSize: Int = 32
    @Flag(help: "Fail on a text longer than the maximum length instead of truncating it.") var noTruncate = false
    @Flag(help: "L2-normalize the embeddings.") var normalize = false
    @OptionGroup var precisionOptions: PrecisionOptions
    @Argument(help: "Texts to embed.") var texts: [String] = []

    func validate() throws {
        try requireCount(batchSize, "--batch-size", in: 1...BatchOptions.most)
        if pooling == .none { try require(!normalize, "--normalize applies to pooled embeddings, not --pooling none") }
    }

    func run() throws {
        let precision = try precisionOptions.single()
        let encoder = try TextEncoder.load(directory: URL(fileURLWithPath: model))
        if let maxLength { try checkingOptions { try encoder.setMaxLength(maxLength) } }
        let calibration = try precisionOptions.calibration(encoder.tokenizer, maxLength: encoder.maxLength,
                                                           saved: encoder.encoder.savedQuantization)
        try PrecisionOptions.prepare(encoder.encoder, precision, smoothQuantOn: calibration)
        let inputs = try readInputTexts(arguments: texts, file: file)
        guard !inputs.isEmpty else { throw OfframpError("no input texts (give TEXT arguments, --file, or lines on stdin)") }
        var out = OutputBuffer()
        var start = 0
        while start < inputs.count {
            let chunk = Array(inputs[start ..< min(start + batchSize, inputs.count)])
            let encodings = try encoder.tokenize(chunk, truncate: !noTruncate, firstIndex: start)
            for (i, e) in encodings.enumerated() where e.truncated {
                printError("note: text \(start + i + 1) was truncated to \(encoder.maxLength) tokens (use --no-truncate to make this an error)")
            }
            let result = try encoder.encoder(PackedBatch(encodings: encodings))
            for (i, text) in chunk.enumerated() {
                if pooling == .none {
                    let tokens = encodings[i].ids.map { jsonString(encoder.tokenizer.token(for: $0) ?? "[UNK]") }
                    let hidden = (0..<encodings[i].ids.count).map { jsonFloats(result.row(result.lastHidden, sequence: i, token: $0)) }
                    out.line("{\"text\":\(jsonString(text)),\"tokens\":[\(tokens.joined(separator: ","))],\"hidden\":[\(hidden.joined(separator: ","))]}")
                } else {
                    var v = result.pooled(i, pooling)
                    if normalize {
                        let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                        if n > 0 { v = v.map { $0 / n } }
                    }
                    out.line("{\"text\":\(jsonString(text)),\"embedding\":\(jsonFloats(v))}")
                }
            }
            start += batchSize
        }
        out.flush()
    }
}
