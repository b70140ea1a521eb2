import ArgumentParser
import Offramp

// MARK: - offramp power retrain

struct PowerRetrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retrain",
        abstract: "Re-train with hard extract layers at a retention configuration (default: the one the search saved).")

    @OptionGroup var common: PowerTrainingOptions
    @Option(help: "Word-vectors kept after each layer, L1,L2,... (default: the model's saved configuration).") var retention: String?

    func run() throws {
        var p = try common.prepare()
        // The selection: --selection, else the one saved with the configuration
        // (the search's, so retrain ranks word-vectors as the search did).
        let saved = p.model.settings.extractSelection ?? .attention
        let r: Retention
        if let retention {
            r = try checkingOptions { try Retention(parsing: retention, layers: p.model.layerCount, selection: common.selection ?? saved) }
        } else {
            guard let found = try p.model.resolve(.saved) else {
                throw UsageError("--model \(common.model): no saved retention configuration; run `offramp power search` or give --retention")
            }
            r = found.selecting(common.selection ?? found.selection)
        }
        p.options.wordVectors = .retrain(r)
        try common.finish(p)
    }
}
