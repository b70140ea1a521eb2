import ArgumentParser
import Foundation
import Offramp

// MARK: - offramp bench tokenize

/// Tokenizer throughput on real text (a speed figure, kept out of the unit tests).
struct BenchTokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Sentences/s and tokens/s of a model's tokenizer (WordPiece or Unigram) over a text file.")

    @Option(help: "Model directory (its tokenizer.json or vocab.txt).") var model: String
    @Option(help: "Texts: a classification file (.tsv/.csv/.jsonl/.txt).") var data: String
    @Option(help: "Passes over the file (the median is reported).") var passes = 5

    func validate() throws { try requireCount(passes, "--passes", in: 1...1000) }

    func run() throws {
        let tokenizer = try Tokenizers.load(directory: URL(fileURLWithPath: model))
        let texts = try ClassificationData.load(URL(fileURLWithPath: data), requireLabels: false).map(\.text)
        guard !texts.isEmpty else { throw OfframpError("\(data): no texts") }
        var times: [Double] = [], tokens = 0
        for _ in 0..<passes {
            let start = Date()
            tokens = 0
            for text in texts { tokens += try tokenizer.encode(text).count }
            times.append(Date().timeIntervalSince(start))
        }
        let t = times.sorted()[times.count / 2]
        print(String(format: "%@: %d texts, %d tokens in %.3f s (median of %d): %.0f texts/s, %.0f tokens/s",
                     String(describing: type(of: tokenizer)), texts.count, tokens, t, passes, Double(texts.count) / t, Double(tokens) / t))
    }
}
