import ArgumentParser
import Foundation
import Offramp

// MARK: - --model: a multi-exit checkpoint

/// The checkpoint eval, predict, sweep, calibrate and serve run: one option
/// and one way to load it, in the precision `--precision` asks for.
struct ModelOptions: ParsableArguments {
    @Option(help: "Multi-exit checkpoint directory.") var model: String
    @OptionGroup var precisionOptions: PrecisionOptions

    var directory: URL { URL(fileURLWithPath: model) }

    func load() throws -> MultiExitModel {
        let precision = try precisionOptions.single()
        let m = try MultiExitModel.load(directory: directory)
        let calibration = try precisionOptions.calibration(m.tokenizer, maxLength: m.defaultMaxLength, saved: m.encoder.savedQuantization)
        try PrecisionOptions.prepare(m.encoder, precision, smoothQuantOn: calibration)
        return m
    }
}
