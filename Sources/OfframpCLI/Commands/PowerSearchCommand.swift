import ArgumentParser
import Offramp

// MARK: - offramp power search

struct PowerSearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Configuration search: soft extract layers learn how many word-vectors each layer keeps (loss = CE + λ Σ_j j·mass(r_j)).")

    @OptionGroup var common: PowerTrainingOptions
    @Option(help: "λ: the price of each kept word-vector, times the layer number.") var lambda: Double = 1e-3
    @Option(help: "Learning rate of the retention parameters r (10-100x the model's).") var retentionLr: Float = 3e-3

    func validate() throws {
        try requireNumber(lambda, "--lambda", "in [0, 1]") { (0...1).contains($0) }
        try requireNumber(retentionLr, "--retention-lr", "in (0, 1]") { $0 > 0 && $0 <= 1 }
    }

    func run() throws {
        var p = try common.prepare()
        p.options.wordVectors = .search(lambda: lambda, selection: common.selection ?? .attention, learningRate: retentionLr, length: p.length)
        try common.finish(p)
    }
}
