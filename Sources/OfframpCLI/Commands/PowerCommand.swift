import ArgumentParser

// MARK: - offramp power

/// `offramp power ...`: PoWER-BERT's two training steps.
struct PowerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "power",
        abstract: "PoWER-BERT: search a retention configuration (soft extract), then re-train at it (hard extract).",
        subcommands: [PowerSearchCommand.self, PowerRetrainCommand.self])
}
