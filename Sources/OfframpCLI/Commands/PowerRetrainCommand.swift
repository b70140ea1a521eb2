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
        let r: Retention
        if let retention { r = try Retention(parsing: retention, layers: p.model.layerCount) } else {
            guard let saved = try p.model.resolve(.saved) else { throw OfframpError("\(common.model): no saved retention configuration; run `offramp power search` or give --retention") }
            r = saved
        }
        p.options.wordVectors = .retrain(r.selecting(common.selection))
        try common.finish(p)
    }
}
