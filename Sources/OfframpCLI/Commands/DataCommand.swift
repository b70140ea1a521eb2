import ArgumentParser

// MARK: - offramp data

/// `offramp data ...`: preparing training data.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Prepare training data.",
        subcommands: [DataPrepareCommand.self]
    )
}
