import ArgumentParser
import Foundation
import Offramp

// MARK: - offramp eval

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Accuracy of every exit of a multi-exit model on a labeled file.")

    @OptionGroup var checkpoint: ModelOptions
    @OptionGroup var labeled: LabeledDataOptions
    @OptionGroup var batch: BatchOptions
    @Flag(help: "One JSON object per exit: {\"exit\", \"accuracy\"} (and \"f1\" for BIO tags; with --policy: the sweep's keys).") var json = false
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var retentionOptions: RetentionOptions

    func run() throws {
        let m = try checkpoint.load()
        let examples = try labeled.examples(for: m)
        let retention = try retentionOptions.resolve(m)
        if let policy = try policyOptions.resolve(for: m) {
            let points = try ExitSweep.run(try EarlyExitRunner(model: m), examples: examples, policies: [policy], batchSize: batch.batchSize,
                                           retention: retention)
            if json { points.forEach { print($0.json) } } else { print(ExitSweep.table(points)) }
            return
        }
        let scores = try m.exitScores(examples, batchSize: batch.batchSize, retention: retention)
        let acc = scores.accuracy, f1 = scores.entityF1?.map(\.f1)
        if json {
            for (i, (h, a)) in zip(m.heads, acc).enumerated() {
                let f = f1.map { String(format: ",\"f1\":%.6f", $0[i]) } ?? ""
                print("{\"exit\":\(h.layer),\"accuracy\":\(String(format: "%.6f", a))\(f)}")
            }
        } else {
            print(Trainer.exitTable(m, acc, f1: f1, title: "\(labeled.data): \(examples.count) examples"))
        }
    }
}
