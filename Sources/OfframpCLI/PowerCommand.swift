import ArgumentParser
import Foundation
import Offramp

/// The value of --selection, or an error listing the valid ones.
func parseSelection(_ s: String) throws -> ExtractSelection {
    guard let v = ExtractSelection(rawValue: s) else {
        throw ValidationError("--selection must be one of \(ExtractSelection.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return v
}

/// --retention and --selection, shared by eval, predict and sweep.
struct RetentionOptions: ParsableArguments {
    @Option(help: "PoWER-BERT: word-vectors kept after each layer (L1,L2,...), or none (default: the model's saved configuration).")
    var retention: String?
    @Option(help: "How kept word-vectors are chosen: attention, attention-no-self, head or random (default: the model's, else attention).")
    var selection: String?

    func resolve(_ m: MultiExitModel) throws -> WordVectorRetention {
        let chosen = try selection.map(parseSelection)
        guard let retention else {
            guard let chosen else { return .saved }
            guard let saved = try m.resolve(.saved) else { throw OfframpError("--selection needs --retention (this model has no saved configuration)") }
            return .configuration(saved.0, chosen)
        }
        if retention == "none" { return .all }
        return .configuration(try Retention(parsing: retention, layers: m.layerCount), chosen ?? m.settings.extractSelection ?? .attention)
    }
}

struct PowerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "power",
        abstract: "PoWER-BERT: search a retention configuration (soft extract), then re-train at it (hard extract).",
        subcommands: [PowerSearchCommand.self, PowerRetrainCommand.self])
}

/// Options both PoWER-BERT training steps take.
struct PowerTrainingOptions: ParsableArguments {
    @Option(help: "A trained multi-exit classification checkpoint (offramp train).") var model: String
    @Option var train: String
    @Option var dev: String?
    @Option(help: "Test file, evaluated on every exit at the end, with elimination.") var test: String?
    @Option(help: "Output checkpoint directory (written after every epoch).") var out: String
    @Option(help: "The loss: joint (every exit) or finetune (final exit).") var mode: String = "joint"
    @Option var epochs: Int = 2
    @Option var batchSize: Int = 32
    @Option(help: "Maximum tokens per input (default: the model's).") var maxLength: Int?
    @Option var lr: Float = 3e-5
    @Option var headLr: Float?
    @Option var seed: UInt64 = 42
    @Option(help: "attention (Attn-WS), attention-no-self, head (Head-WS) or random (Rand-WS).") var selection: String = "attention"
    @Flag(help: "Continue from the checkpoint in --out.") var resume = false

    func prepare() throws -> (MultiExitModel, [EncodedExample], [EncodedExample], TrainingOptions, ExtractSelection, Int) {
        let sel = try parseSelection(selection)
        guard let mode = TrainingMode(rawValue: mode), mode == .joint || mode == .finetune else {
            throw ValidationError("--mode must be joint or finetune")
        }
        let m = try MultiExitModel.load(directory: URL(fileURLWithPath: resume ? out : model))
        guard m.settings.task == .classify else { throw OfframpError("\(model): PoWER-BERT needs a classification model (--task classify)") }
        let length = maxLength ?? m.defaultMaxLength
        let train = try loadLabeled(self.train, model: m, maxLength: length)
        let dev = try self.dev.map { try loadLabeled($0, model: m, maxLength: length) } ?? []
        var o = TrainingOptions()
        o.mode = mode; o.epochs = epochs; o.batchSize = batchSize; o.learningRate = lr; o.headLearningRate = headLr; o.seed = seed
        return (m, train, dev, o, sel, length)
    }

    func finish(_ trainer: Trainer, model m: MultiExitModel, train: [EncodedExample], dev: [EncodedExample], length: Int) throws {
        try trainer.run(train: train, dev: dev, out: URL(fileURLWithPath: out), resume: resume, log: printError)
        printError("retention configuration \(m.settings.retention.map { $0.map(String.init).joined(separator: ",") } ?? "-") saved in \(out)/config.json")
        if let test {
            let data = try loadLabeled(test, model: m, maxLength: length)
            let scores = try m.exitScores(data)
            print(Trainer.exitTable(m, scores.accuracy, title: "test (\(data.count) examples), word-vectors eliminated as configured"))
        }
    }
}

struct PowerSearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Configuration search: soft extract layers learn how many word-vectors each layer keeps (loss = CE + λ Σ_j j·mass(r_j)).")

    @OptionGroup var common: PowerTrainingOptions
    @Option(help: "λ: the price of each kept word-vector, times the layer number.") var lambda: Double = 1e-3
    @Option(help: "Learning rate of the retention parameters r (10-100x the model's).") var retentionLr: Float = 3e-3

    func run() throws {
        guard lambda >= 0 else { throw ValidationError("--lambda must be non-negative") }
        var (m, train, dev, o, selection, length) = try common.prepare()
        o.wordVectors = .search(lambda: lambda, selection: selection, learningRate: retentionLr, length: length)
        try common.finish(Trainer(model: m, options: o), model: m, train: train, dev: dev, length: length)
    }
}

struct PowerRetrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retrain",
        abstract: "Re-train with hard extract layers at a retention configuration (default: the one the search saved).")

    @OptionGroup var common: PowerTrainingOptions
    @Option(help: "Word-vectors kept after each layer, L1,L2,... (default: the model's saved configuration).") var retention: String?

    func run() throws {
        var (m, train, dev, o, selection, length) = try common.prepare()
        let r: Retention
        if let retention { r = try Retention(parsing: retention, layers: m.layerCount) } else {
            guard let saved = try m.resolve(.saved) else { throw OfframpError("\(common.model): no saved retention configuration; run `offramp power search` or give --retention") }
            r = saved.0
        }
        o.wordVectors = .retrain(r, selection)
        try common.finish(Trainer(model: m, options: o), model: m, train: train, dev: dev, length: length)
    }
}
