import ArgumentParser
import Foundation
import Offramp

// MARK: - --model: a multi-exit checkpoint

/// The checkpoint eval, predict, sweep, calibrate and serve run: one option
/// and one way to load it.
struct ModelOptions: ParsableArguments {
    @Option(help: "Multi-exit checkpoint directory.") var model: String

    var directory: URL { URL(fileURLWithPath: model) }

    func load() throws -> MultiExitModel { try MultiExitModel.load(directory: directory) }
}
