import ArgumentParser
import Foundation
import Offramp

// MARK: - offramp export

/// `offramp export ...`: a checkpoint in another library's format.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write a model in another library's format.", subcommands: [ExportHFCommand.self])
}

/// `offramp export hf --model DIR --out DIR`.
struct ExportHFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hf",
        abstract: "Write the model as HF transformers' <Family>ForSequenceClassification / ...ForTokenClassification (its final exit; BERT, RoBERTa, XLM-R, DistilBERT, ELECTRA).",
        discussion: """
            HF loads OUT with from_pretrained and computes the final exit at full depth. The other exits go to \
            OUT/offramp_exits.safetensors and the "offramp" section stays in config.json, so Offramp reads OUT \
            back as the same multi-exit model. Needs linear heads ([CLS] pooling for sequences) and an exit after \
            the last layer. OUT is replaced whole, atomically. docs/cli.md#export-hf.
            """)

    @OptionGroup var checkpoint: ModelOptions
    @Option(help: ArgumentHelp("The directory to write.", valueName: "dir")) var out: String

    func run() throws {
        let m = try checkpoint.load()
        let outURL = URL(fileURLWithPath: out)
        guard outURL.standardizedFileURL != m.directory.standardizedFileURL else {
            throw UsageError("--out must differ from --model (the export replaces its directory whole)")
        }
        try m.exportHuggingFace(to: outURL)
        if m.settings.retention != nil || m.settings.policy != nil {
            printError("note: HF runs the whole model at full depth; the saved policy and PoWER-BERT configuration apply in Offramp only")
        }
        printError("exported \(m.config.family.classPrefix)\(m.settings.task == .classify ? "ForSequenceClassification" : "ForTokenClassification") "
            + "with \(m.labels.count) labels to \(out)")
    }
}
