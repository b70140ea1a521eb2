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
    @Option(help: "Epochs (per stage for two-stage; default: about 800 steps, 3 to 30 epochs).") var epochs: Int?
    // Head and pooling are optional so that a value that cannot apply (a
    // checkpoint's own heads, FastBERT or labeling heads) is an error, not ignored.
    @Option(help: "Head kind of new exits: linear or fastbert (default linear).") var head: HeadKind?
    @Option(help: "Sequence pooling of new linear classification heads: cls or mean (default: the checkpoint's sentence-transformers pooling, else cls).")
    var pooling: HeadPooling?
    @Option var maxLength: Int = 128
    @Option(help: "Heads' learning-rate factor in distillation (default 10).") var distillLrFactor: Float?
    @Option(help: "Warm-up fraction of the steps, in [0, 1].") var warmup: Float = 0.1
    @Option(help: "AdamW weight decay, in [0, 1].") var weightDecay: Float = 0.01
    @Option(help: "Largest gradient norm (0: no clipping).") var maxGradNorm: Float = 1.0
    @Option(help: "Joint and TOKEE training's weights: layer (w_l = l, default) or uniform.") var weights: JointWeights?
    @Option(help: "Distillation KL direction: teacher-student (KL(p_t||p_s), default) or student-teacher.")
    var klDirection: KLDirectionArgument?
    @Flag(help: "Keep the word embeddings fixed (large vocabularies: AdamW over a 250k-row table dominates each step).")
    var freezeWordEmbeddings = false

    func validate() throws {
        try require(!mode.isTOKEE || task == .label, "--mode \(mode.rawValue) needs --task label")
        if let epochs { try requireCount(epochs, "--epochs", in: 1...10_000) }
        try requireCount(maxLength, "--max-length", in: 2...(1 << 16))
        try requireNumber(warmup, "--warmup", "in [0, 1]") { (0...1).contains($0) }
        try requireNumber(weightDecay, "--weight-decay", "in [0, 1]") { (0...1).contains($0) }
        try requireNumber(maxGradNorm, "--max-grad-norm", "in [0, 1e6] (0: no clipping)") { (0...1e6).contains($0) }
        if mode == .distill {
            try requireNumber(distillLrFactor ?? 10, "--distill-lr-factor", "in (0, 1000]") { $0 > 0 && $0 <= 1000 }
        } else {
            try requireAbsent(distillLrFactor, "--distill-lr-factor", "applies to --mode distill only")
            try requireAbsent(klDirection, "--kl-direction", "applies to --mode distill only")
        }
        if !(mode == .joint || mode.isTOKEE) {
            try requireAbsent(weights, "--weights", "applies to --mode joint, tokee-random and tokee-self only")
        }
        if head == .fastbert { try requireAbsent(pooling, "--pooling", "applies to linear heads only (FastBERT heads attend over the tokens)") }
        if task == .label { try requireAbsent(pooling, "--pooling", "applies to classification heads only (a labeling head reads each word)") }
    }

    func run() throws {
        let (m, headDefault) = try startingModel()
        guard maxLength <= m.config.maxTokens else {
            throw UsageError("--max-length \(maxLength) is more than the model's \(m.config.maxTokensDescription)")
        }
        let labelSet = LabelSet(m.labels)
        let trainData = try loadExamples(training.train, task: task, labels: labelSet, tokenizer: m.tokenizer, maxLength: maxLength,
                                         requireLabels: mode != .distill)
        let devData = try training.dev.map { try loadExamples($0, task: task, labels: labelSet, tokenizer: m.tokenizer, maxLength: maxLength) } ?? []
        // Defaults taken, each said with its reason (TrainingDefaults).
        var defaults: [String] = []
        let epochs = self.epochs ?? TrainingDefaults.epochs(examples: trainData.count, batchSize: training.batch.batchSize)
        if self.epochs == nil {
            defaults.append("epochs \(epochs) (about \(TrainingDefaults.targetSteps) steps for \(trainData.count) examples at batch \(training.batch.batchSize))")
        }
        var options = training.options(mode: mode, epochs: epochs)
        if let headDefault { defaults.append(headDefault) }
        if training.headLr == nil && TrainingDefaults.scalesHeadLearningRate(mode) {
            options.headLearningRate = TrainingDefaults.headLearningRateFactor * training.lr
            defaults.append(String(format: "head lr %g (%gx --lr: new heads start from random weights, the backbone is pretrained)",
                                   options.headLearningRate!, TrainingDefaults.headLearningRateFactor))
        }
        options.distillLearningRateFactor = distillLrFactor ?? 10
        options.warmupFraction = warmup; options.weightDecay = weightDecay; options.maxGradNorm = maxGradNorm
        options.layerWeighted = (weights ?? .layer).isLayerWeighted
        options.freezeWordEmbeddings = freezeWordEmbeddings
        options.klDirection = (klDirection ?? .teacherStudent).direction
        printError("training \(m.layerCount)-layer \(m.settings.headsDescription), mode \(mode.rawValue): \(trainData.count) train, \(devData.count) dev examples")
        // Say what the run uses, defaults included, so a weak result can be traced to a setting.
        printError(String(format: "settings: epochs %d, batch %d, max length %d, lr %g, head lr %g, warm-up %g, seed %llu",
                          epochs, training.batch.batchSize, maxLength, training.lr, options.headLearningRate ?? training.lr, warmup, training.seed))
        if !defaults.isEmpty { printError("defaults taken: " + defaults.joined(separator: "; ")) }
        let trainer = Trainer(model: m, options: options)
        let start = Date()
        try training.run(trainer, train: trainData, dev: devData)
        let seconds = Date().timeIntervalSince(start)
        let rates = trainer.reports.map(\.examplesPerSecond)
        printError(String(format: "done in %.0f s, %.1f training examples/s", seconds, rates.isEmpty ? 0 : rates.reduce(0, +) / Double(rates.count)))
        if let warning = TrainingDiagnostics.weakModelWarning(dev: devData, finalExitAccuracies: trainer.reports.compactMap(\.devAccuracy.last),
                                                              labels: m.labels) {
            printError(warning)
        }
        if let test = training.test {
            let testData = try loadExamples(test, task: task, labels: labelSet, tokenizer: m.tokenizer, maxLength: maxLength)
            let scores = try m.exitScores(testData)
            print(Trainer.exitTable(m, scores.accuracy, f1: scores.entityF1?.map(\.f1), title: "test (\(testData.count) examples)"))
        }
    }

    /// The pooling of new heads: --pooling, else for linear classification
    /// heads the checkpoint's own (a sentence encoder's mean) with the reason
    /// to print, else [CLS].
    func newHeadPooling(_ source: URL) throws -> (pooling: HeadPooling, reason: String?) {
        if let pooling { return (pooling, nil) }
        guard (head ?? .linear) == .linear, task == .classify,
              let found = try TrainingDefaults.pooling(ofCheckpoint: source) else { return (.cls, nil) }
        return (found.pooling, found.reason)
    }

    /// The model training starts from: the checkpoint in --out (--resume) or
    /// --model when either is a multi-exit checkpoint, else new exits on the
    /// pretrained encoder in --model; with the new heads' default kind or
    /// pooling and its reason, when one was taken ("defaults taken:").
    func startingModel() throws -> (model: MultiExitModel, headDefault: String?) {
        let source = training.resume ? training.resumeSource : URL(fileURLWithPath: model)
        let isMultiExit = (try? BertConfig.load(from: source.appendingPathComponent("config.json")))
            .flatMap { $0.extra["offramp"] } != nil
        if isMultiExit {
            let m = try MultiExitModel.load(directory: source)
            guard m.settings.task == task else { throw UsageError("\(source.path): the model is for --task \(m.settings.task.rawValue)") }
            // A checkpoint keeps its heads: a different kind asked for would be ignored.
            if let head, head != m.settings.head { throw UsageError("--head \(head.rawValue): \(source.path) already has \(m.settings.head.rawValue) exit heads") }
            if let pooling, pooling != m.settings.pooling {
                throw UsageError("--pooling \(pooling.rawValue): \(source.path) already has \(m.settings.pooling.rawValue)-pooled exit heads")
            }
            return (m, nil)
        }
        let config = try BertConfig.load(from: source.appendingPathComponent("config.json"))
        if let hf = try MultiExitModel.huggingFaceClassifier(at: source) {
            // FastBERT's recipe on a model fine-tuned with HF: its head stays the last exit (the teacher
            // of --mode distill), its labels are the model's, new exits go below it.
            guard hf.task == task else { throw UsageError("--model \(model) is a HF \(hf.task == .classify ? "sequence" : "token") classifier; use --task \(hf.task.rawValue)") }
            // The HF head stays linear on [CLS]; --head and --pooling choose the new exits below it.
            let students = Self.studentHead(task: task, head: head, pooling: pooling)
            var settings = ExitSettings(task: task, labels: hf.labels, head: students.head, pooling: pooling ?? .cls,
                                        exits: Array(1...max(1, config.numHiddenLayers)))
            settings.huggingFaceFinalExit = true
            settings.poolerActivation = hf.poolerActivation
            settings.maxLength = maxLength
            return (try MultiExitModel.create(pretrained: source, settings: settings, seed: training.seed), students.reason)
        }
        guard mode != .distill else {
            throw UsageError("--mode distill needs a trained multi-exit model in --model (run finetune first) or a HF classifier")
        }
        let labels = try collectLabels(training.train, task: task)
        let newPooling = try newHeadPooling(source)
        var settings = ExitSettings(task: task, labels: labels.labels, head: head ?? .linear, pooling: newPooling.pooling,
                                    exits: Array(1...max(1, config.numHiddenLayers)))
        settings.maxLength = maxLength
        return (try MultiExitModel.create(pretrained: source, settings: settings, seed: training.seed),
                newPooling.reason.map { "pooling \(newPooling.pooling.rawValue) (\($0))" })
    }

    /// The kind of the exits added below a HF classifier's head: --head, else
    /// for sequences FastBERT's students (they attend over the tokens, which
    /// the shallow layers of a model fine-tuned on [CLS] need), with the
    /// reason to print; token heads stay linear (each reads its word).
    static func studentHead(task: ExitTask, head: HeadKind?, pooling: HeadPooling?) -> (head: HeadKind, reason: String?) {
        if let head { return (head, nil) }
        guard task == .classify, pooling == nil else { return (.linear, nil) }
        return (.fastbert, "head fastbert below the HF classifier's head (FastBERT's students: distilled from a MiniLM-L6 fine-tuned "
            + "on MR, test exits 1-3 scored 82.0/83.7/87.4 against 79.6/82.0/84.1 for mean-pooled linear heads and chance for [CLS] ones; "
            + "docs/results.md#hf-workflow)")
    }
}
