import ArgumentParser
import Offramp

// MARK: - offramp: the root command

/// The `offramp` command: one subcommand per file in Commands/, the option
/// groups several of them share in Options/.
struct OfframpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "offramp",
        abstract: "Adaptive inference for BERT-family encoders: early exit, token exit, word-vector elimination.",
        subcommands: [InfoCommand.self, EncodeCommand.self, TrainCommand.self, EvalCommand.self, PredictCommand.self, SweepCommand.self, CalibrateCommand.self, PowerCommand.self, QuantizeCommand.self, ServeCommand.self, LoadTestCommand.self, PlotCommand.self, ImportCommand.self, ExportCommand.self, BenchCommand.self, DataCommand.self]
    )
}
