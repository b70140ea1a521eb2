import ArgumentParser
import Foundation
import Offramp

// MARK: - offramp train

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a multi-exit model (an exit head after every layer) from a pretrained encoder or a multi-exit checkpoint.")

    @Option(help: "Pretrained encoder directory, or a multi-exit checkpoint to continue from (required for distill).") var model: String
    @Option(help: "classify (one label per text) or label (one tag per word).") var task: ExitTask = .classify
    @OptionGroup var training: TrainingRunOptions
    @Option(help: "finetune, distill, joint, two-stage; labeling also tokee-random, tokee-self (TOKEE fine-tuning, best from a joint model).")
    var mode: TrainingMode = .joint
    @Option(help: "Epochs (per stage for two-stage).") var epochs: Int = 3
    @Option(help: "Head kind: linear or fastbert.") var head: HeadKind = .linear
    @Option(help: "Sequence pooling for linear heads: cls or mean.") var pooling: HeadPooling = .cls
    @Option var maxLength: Int = 128
    @Option(help: "Heads' learning-rate factor in distillation.") var distillLrFactor: Float = 10
    @Option(help: "Warm-up fraction of the steps.") var warmup: Float = 0.1
    @Option var weightDecay: Float = 0.01
    @Option var maxGradNorm: Float = 1.0
    @Option(help: "Joint-training weights: layer (w_l = l) or uniform.") var weights: JointWeights = .layer
    @Option(help: "Distillation KL direction: teacher-student (KL(p_t||p_s), default) or student-teacher.")
    var klDirection: KLDirectionArgument = .teacherStudent
    @Flag(help: "Keep the word embeddings fixed (large vocabularies: AdamW over a 250k-row table dominates each step).")
    var freezeWordEmbeddings = false

    func run() throws {
        if mode.isTOKEE && task != .label { throw ValidationError("--mode \(mode.rawValue) needs --task label") }
        guard epochs > 0, training.batch.batchSize > 0, maxLength >= 2 else {
            throw ValidationError("--epochs, --batch-size must be positive and --max-length at least 2")
        }
        let m = try startingModel()
        let labelSet = LabelSet(m.labels)
        let trainData = try loadExamples(training.train, task: task, labels: labelSet, tokenizer: m.tokenizer, maxLength: maxLength,
                                         requireLabels: mode != .distill)
        let devData = try training.dev.map { try loadExamples($0, task: task, labels: labelSet, tokenizer: m.tokenizer, maxLength: maxLength) } ?? []
        var options = training.options(mode: mode, epochs: epochs)
        options.distillLearningRateFactor = distillLrFactor
        options.warmupFraction = warmup; options.weightDecay = weightDecay; options.maxGradNorm = maxGradNorm
        options.layerWeighted = weights.isLayerWeighted
        options.freezeWordEmbeddings = freezeWordEmbeddings
        options.klDirection = klDirection.direction
        printError("training \(m.layerCount)-layer \(head.rawValue)/\(pooling.rawValue) exits, mode \(mode.rawValue): \(trainData.count) train, \(devData.count) dev examples")
        let trainer = Trainer(model: m, options: options)
        let start = Date()
        try training.run(trainer, train: trainData, dev: devData)
        let seconds = Date().timeIntervalSince(start)
        let rates = trainer.reports.map(\.examplesPerSecond)
        printError(String(format: "done in %.0f s, %.1f training examples/s", seconds, rates.isEmpty ? 0 : rates.reduce(0, +) / Double(rates.count)))
        if let test = training.test {
            let testData = try loadExamples(test, task: task, labels: labelSet, tokenizer: m.tokenizer, maxLength: maxLength)
            let scores = try m.exitScores(testData)
            print(Trainer.exitTable(m, scores.accuracy, f1: scores.entityF1?.map(\.f1), title: "test (\(testData.count) examples)"))
        }
    }

    /// The model training starts from: the checkpoint in --out (--resume) or
    /// --model when either is a multi-exit checkpoint, else new exits on the
    /// pretrained encoder in --model.
    func startingModel() throws -> MultiExitModel {
        let source = URL(fileURLWithPath: training.resume ? training.out : model)
        let isMultiExit = (try? BertConfig.load(from: source.appendingPathComponent("config.json")))
            .flatMap { $0.extra["offramp"] } != nil
        if isMultiExit {
            let m = try MultiExitModel.load(directory: source)
            guard m.settings.task == task else { throw OfframpError("\(source.path): the model is for --task \(m.settings.task.rawValue)") }
            return m
        }
        let config = try BertConfig.load(from: source.appendingPathComponent("config.json"))
        if let hf = try MultiExitModel.huggingFaceClassifier(at: source) {
            // FastBERT's recipe on a model fine-tuned with HF: its head stays the last exit (the teacher
            // of --mode distill), its labels are the model's, new exits go below it.
            guard hf.task == task else { throw ValidationError("--model \(model) is a HF \(hf.task == .classify ? "sequence" : "token") classifier; use --task \(hf.task.rawValue)") }
            guard head == .linear, pooling == .cls else {
                throw ValidationError("--model \(model) is a HF classifier, whose head is linear on [CLS]: --head linear --pooling cls")
            }
            var settings = ExitSettings(task: task, labels: hf.labels, head: .linear, pooling: .cls, exits: Array(1...config.numHiddenLayers))
            settings.maxLength = maxLength
            return try MultiExitModel.create(pretrained: source, settings: settings, seed: training.seed)
        }
        guard mode != .distill else { throw OfframpError("--mode distill needs a trained multi-exit model (run finetune first) or a HF classifier") }
        let labels = try collectLabels(training.train, task: task)
        var settings = ExitSettings(task: task, labels: labels.labels, head: head, pooling: pooling,
                                    exits: Array(1...config.numHiddenLayers))
        settings.maxLength = maxLength
        return try MultiExitModel.create(pretrained: source, settings: settings, seed: training.seed)
    }
}
