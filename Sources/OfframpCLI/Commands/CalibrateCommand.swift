import ArgumentParser
import Foundation
import Offramp

// MARK: - offramp calibrate

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Pick on dev the fastest policy setting within --max-drop points of full depth, report it on test, save it as the model's default (in its config.json).")

    @OptionGroup var checkpoint: ModelOptions
    @Option var dev: String
    @Option var test: String?
    @Option(help: "Largest drop allowed, in points (of accuracy; of entity F1 for BIO tags).") var maxDrop: Double = 1.0
    @Option(help: ArgumentHelp("Policies to try (\(defaultSweepPoliciesHelp)).")) var policies: String?
    @OptionGroup var batch: BatchOptions

    func run() throws {
        guard maxDrop >= 0 else { throw ValidationError("--max-drop must be non-negative") }
        let dir = checkpoint.directory
        let m = try checkpoint.load()
        let runner = try EarlyExitRunner(model: m)
        let batchSize = batch.batchSize
        let grid = ExitSweep.policies((policies ?? defaultSweepPolicies(m)).split(separator: ",").map(String.init), layers: m.layerCount)
        let devPoints = try ExitSweep.run(runner, examples: try loadLabeled(dev, model: m, maxLength: nil), policies: grid, batchSize: batchSize)
        guard let best = ExitSweep.calibrate(devPoints, maxDrop: maxDrop) else { throw OfframpError("no setting found") }
        print(String(format: "dev: full %.2f; chosen %@ at %.2f (%.2fx FLOPs, %.2fx wall, exit layer %.2f)",
                     100 * devPoints[0].score, best.exitPolicy.description, 100 * best.score, best.flopsSpeedup, best.wallSpeedup, best.averageExitLayer))
        if let test {
            let testPoints = try ExitSweep.run(runner, examples: try loadLabeled(test, model: m, maxLength: nil), policies: [best.exitPolicy], batchSize: batchSize)
            print(String(format: "test: full %.2f; %@ %.2f (%.2fx FLOPs, %.2fx wall, exit layer %.2f)", 100 * testPoints[0].score,
                         best.exitPolicy.description, 100 * testPoints[1].score, testPoints[1].flopsSpeedup, testPoints[1].wallSpeedup,
                         testPoints[1].averageExitLayer))
        }
        var config = try BertConfig.load(from: dir.appendingPathComponent("config.json"))
        var settings = m.settings
        settings.policy = best.exitPolicy.encoded
        try settings.write(into: &config)
        try config.save(to: dir.appendingPathComponent("config.json"))
        print("saved \(best.exitPolicy.encoded) as the default policy in \(dir.appendingPathComponent("config.json").path)")
    }
}
