import ArgumentParser
import Foundation
import Offramp

/// Loads labeled data for a task as encoded examples.
func loadExamples(_ path: String, task: ExitTask, labels: LabelSet?, tokenizer: any TextTokenizer,
                  maxLength: Int, requireLabels: Bool = true) throws -> [EncodedExample] {
    let url = URL(fileURLWithPath: path)
    switch task {
    case .classify:
        let data = try ClassificationData.load(url, requireLabels: requireLabels)
        guard !data.isEmpty else { throw OfframpError("\(path): no examples") }
        let labeled = data.allSatisfy { $0.label != nil }
        return try ExampleEncoder.encode(data, labels: labeled ? labels : nil, tokenizer: tokenizer, maxLength: maxLength, file: path)
    case .label:
        let data = try TokenLabelData.load(url)
        guard !data.isEmpty, let labels else { throw OfframpError("\(path): no sentences") }
        return try ExampleEncoder.encode(data, labels: labels, tokenizer: tokenizer, maxLength: maxLength, file: path)
    }
}

/// The label set of a training file.
func collectLabels(_ path: String, task: ExitTask) throws -> LabelSet {
    let url = URL(fileURLWithPath: path)
    switch task {
    case .classify: return LabelSet.collect(try ClassificationData.load(url))
    case .label: return LabelSet.collect(try TokenLabelData.load(url))
    }
}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a multi-exit model (an exit head after every layer) from a pretrained encoder or a multi-exit checkpoint.")

    @Option(help: "Pretrained encoder directory, or a multi-exit checkpoint to continue from (required for distill).") var model: String
    @Option(help: "classify (one label per text) or label (one tag per word).") var task: String = "classify"
    @Option(help: "Training file (.tsv/.csv/.jsonl for classify; CoNLL or word/TAG for label).") var train: String
    @Option(help: "Dev file, evaluated on every exit after each epoch.") var dev: String?
    @Option(help: "Test file, evaluated on every exit at the end.") var test: String?
    @Option(help: "finetune, distill, joint, two-stage; labeling also tokee-random, tokee-self (TOKEE fine-tuning, best from a joint model).")
    var mode: String = "joint"
    @Option(help: "Epochs (per stage for two-stage).") var epochs: Int = 3
    @Option(help: "Output checkpoint directory (written after every epoch).") var out: String
    @Option(help: "Head kind: linear or fastbert.") var head: String = "linear"
    @Option(help: "Sequence pooling for linear heads: cls or mean.") var pooling: String = "cls"
    @Option var batchSize: Int = 32
    @Option var maxLength: Int = 128
    @Option(help: "Learning rate (AdamW).") var lr: Float = 3e-5
    @Option(help: "Learning rate of the exit heads (default: --lr).") var headLr: Float?
    @Option(help: "Heads' learning-rate factor in distillation.") var distillLrFactor: Float = 10
    @Option(help: "Warm-up fraction of the steps.") var warmup: Float = 0.1
    @Option var weightDecay: Float = 0.01
    @Option var maxGradNorm: Float = 1.0
    @Option var seed: UInt64 = 42
    @Option(help: "Joint-training weights: layer (w_l = l) or uniform.") var weights: String = "layer"
    @Option(help: "Distillation KL direction: teacher-student (KL(p_t||p_s), default) or student-teacher.") var klDirection: String = "teacher-student"
    @Flag(help: "Continue from the checkpoint in --out.") var resume = false
    @Flag(help: "Keep the word embeddings fixed (large vocabularies: AdamW over a 250k-row table dominates each step).")
    var freezeWordEmbeddings = false

    func run() throws {
        guard let task = ExitTask(rawValue: task) else { throw ValidationError("--task must be classify or label") }
        guard let mode = TrainingMode(rawValue: mode) else {
            throw ValidationError("--mode must be finetune, distill, joint, two-stage, tokee-random or tokee-self")
        }
        if mode.isTOKEE && task != .label { throw ValidationError("--mode \(mode.rawValue) needs --task label") }
        guard let head = HeadKind(rawValue: head) else { throw ValidationError("--head must be linear or fastbert") }
        guard let pooling = HeadPooling(rawValue: pooling) else { throw ValidationError("--pooling must be cls or mean") }
        guard weights == "layer" || weights == "uniform" else { throw ValidationError("--weights must be layer or uniform") }
        guard ["teacher-student", "student-teacher"].contains(klDirection) else { throw ValidationError("--kl-direction must be teacher-student or student-teacher") }
        guard epochs > 0, batchSize > 0, maxLength >= 2 else { throw ValidationError("--epochs, --batch-size must be positive and --max-length at least 2") }
        let outURL = URL(fileURLWithPath: out)
        let source = URL(fileURLWithPath: resume ? out : model)
        let isMultiExit = (try? BertConfig.load(from: source.appendingPathComponent("config.json")))
            .flatMap { $0.extra["offramp"] } != nil
        let m: MultiExitModel
        if isMultiExit {
            m = try MultiExitModel.load(directory: source)
            guard m.settings.task == task else { throw OfframpError("\(source.path): the model is for --task \(m.settings.task.rawValue)") }
        } else {
            guard mode != .distill else { throw OfframpError("--mode distill needs a trained multi-exit model (run finetune first)") }
            let labels = try collectLabels(train, task: task)
            let config = try BertConfig.load(from: source.appendingPathComponent("config.json"))
            var settings = ExitSettings(task: task, labels: labels.labels, head: head, pooling: pooling,
                                        exits: Array(1...config.numHiddenLayers))
            settings.maxLength = maxLength
            m = try MultiExitModel.create(pretrained: source, settings: settings, seed: seed)
        }
        let labelSet = LabelSet(m.labels)
        let trainData = try loadExamples(train, task: task, labels: labelSet, tokenizer: m.tokenizer, maxLength: maxLength,
                                         requireLabels: mode != .distill)
        let devData = try dev.map { try loadExamples($0, task: task, labels: labelSet, tokenizer: m.tokenizer, maxLength: maxLength) } ?? []
        var options = TrainingOptions()
        options.mode = mode; options.epochs = epochs; options.batchSize = batchSize
        options.learningRate = lr; options.headLearningRate = headLr; options.distillLearningRateFactor = distillLrFactor
        options.warmupFraction = warmup; options.weightDecay = weightDecay; options.maxGradNorm = maxGradNorm
        options.seed = seed; options.layerWeighted = weights == "layer"
        options.freezeWordEmbeddings = freezeWordEmbeddings
        options.klDirection = klDirection == "teacher-student" ? .teacherStudent : .studentTeacher
        printError("training \(m.layerCount)-layer \(head.rawValue)/\(pooling.rawValue) exits, mode \(mode.rawValue): \(trainData.count) train, \(devData.count) dev examples")
        let trainer = Trainer(model: m, options: options)
        let start = Date()
        try trainer.run(train: trainData, dev: devData, out: outURL, resume: resume, log: printError)
        let seconds = Date().timeIntervalSince(start)
        let rates = trainer.reports.map(\.examplesPerSecond)
        printError(String(format: "done in %.0f s, %.1f training examples/s", seconds, rates.isEmpty ? 0 : rates.reduce(0, +) / Double(rates.count)))
        if let test {
            let testData = try loadExamples(test, task: task, labels: labelSet, tokenizer: m.tokenizer, maxLength: maxLength)
            let scores = try m.exitScores(testData)
            print(Trainer.exitTable(m, scores.accuracy, f1: scores.entityF1?.map(\.f1), title: "test (\(testData.count) examples)"))
        }
    }
}

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Accuracy of every exit of a multi-exit model on a labeled file.")

    @Option(help: "Multi-exit checkpoint directory.") var model: String
    @Option(help: "Labeled file.") var data: String
    @Option var batchSize: Int = 32
    @Option(help: "Maximum tokens per input (default: the model's training length).") var maxLength: Int?
    @Flag(help: "One JSON object per exit: {\"exit\", \"accuracy\"} (and \"f1\" for BIO tags; with --policy: the sweep's keys).") var json = false
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var retentionOptions: RetentionOptions

    func run() throws {
        let m = try MultiExitModel.load(directory: URL(fileURLWithPath: model))
        let examples = try loadExamples(data, task: m.settings.task, labels: LabelSet(m.labels), tokenizer: m.tokenizer,
                                        maxLength: maxLength ?? m.settings.maxLength ?? 128)
        let retention = try retentionOptions.resolve(m)
        if let policy = try policyOptions.resolve(layers: m.layerCount) {
            let points = try ExitSweep.run(try EarlyExitRunner(model: m), examples: examples, policies: [policy], batchSize: batchSize,
                                           retention: retention)
            if json { points.forEach { print($0.json) } } else { print(ExitSweep.table(points)) }
            return
        }
        let scores = try m.exitScores(examples, batchSize: batchSize, retention: retention)
        let acc = scores.accuracy, f1 = scores.entityF1?.map(\.f1)
        if json {
            for (i, (h, a)) in zip(m.heads, acc).enumerated() {
                let f = f1.map { String(format: ",\"f1\":%.6f", $0[i]) } ?? ""
                print("{\"exit\":\(h.layer),\"accuracy\":\(String(format: "%.6f", a))\(f)}")
            }
        } else {
            print(Trainer.exitTable(m, acc, f1: f1, title: "\(data): \(examples.count) examples"))
        }
    }
}
