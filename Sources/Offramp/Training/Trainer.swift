import Foundation

// MARK: - Training modes (docs/methods.md#training)

public enum TrainingMode: String, Sendable, CaseIterable {
    /// Backbone + final head, CE on gold labels.
    case finetune
    /// FastBERT self-distillation: backbone and final head frozen, lower heads learn KL to the final head.
    case distill
    /// All exits at once: Σ w_l CE_l / Σ w_l.
    case joint
    /// DeeBERT: finetune, then the backbone frozen and lower heads trained with CE.
    case twoStage = "two-stage"
    /// TOKEE fine-tuning, labeling only: every word halts at a layer drawn
    /// uniformly, is copied upward from there, and all exits train jointly.
    case tokeeRandom = "tokee-random"
    /// TOKEE fine-tuning by self-sampling: halting layers come from TOKEE
    /// inference with the current model at a random window and threshold.
    case tokeeSelf = "tokee-self"

    public var isTOKEE: Bool { self == .tokeeRandom || self == .tokeeSelf }
}

/// One stage of training: what the loss is and which parameters move.
public enum TrainingStage: String, Sendable, CaseIterable {
    case finetune, joint, headsCE = "heads-ce", headsKL = "heads-kl"
    /// Joint loss over halt-and-copy states: exit l learns the words still
    /// running at layer l (halting layer >= l), as in Li et al.'s code.
    case tokee

    static func stages(for mode: TrainingMode) -> [TrainingStage] {
        switch mode {
        case .finetune: [.finetune]
        case .joint: [.joint]
        case .twoStage: [.finetune, .headsCE]
        case .distill: [.headsKL]
        case .tokeeRandom, .tokeeSelf: [.tokee]
        }
    }

    public var trainsBackbone: Bool { self == .finetune || self == .joint || self == .tokee }
}

public struct TrainingOptions: Sendable {
    public var mode: TrainingMode = .joint
    public var epochs = 3
    /// Epochs of the second stage of two-stage training (default: `epochs`).
    public var secondStageEpochs: Int?
    public var batchSize = 32
    public var learningRate: Float = 3e-5
    /// Learning rate of the exit heads (default: `learningRate`).
    public var headLearningRate: Float?
    /// Multiplies the heads' learning rate in distillation (FastBERT used 10x).
    public var distillLearningRateFactor: Float = 10
    public var warmupFraction: Float = 0.1
    public var weightDecay: Float = 0.01
    public var maxGradNorm: Float = 1.0
    public var seed: UInt64 = 42
    /// Joint-training weights: w_l = l (true) or 1.
    public var layerWeighted = true
    public var klDirection: KLDirection = .teacherStudent
    /// TOKEE self-sampling: the window half-widths and thresholds drawn from.
    public var sampleWindows = [1, 2, 3, 4]
    public var sampleThresholds = [0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5]
    /// TOKEE sandwich rule: this fraction of each batch (its first sentences)
    /// takes the most aggressive setting, this fraction (its last) full depth.
    public var sandwichAggressive = 0.2
    public var sandwichFull = 0.3
    /// PoWER-BERT: search a retention configuration, or re-train at one.
    public var wordVectors: WordVectorTraining?
    /// Keep the word embeddings fixed. For a large vocabulary (XLM-R's 250,037
    /// rows: 96M of e5-small's 118M parameters) AdamW over the embedding table
    /// dominates each step although a batch touches a few hundred of its rows;
    /// frozen, the table gets no update, no moments and no share of the norm
    /// clipping. Position and token-type embeddings still train.
    public var freezeWordEmbeddings = false
    /// Which epoch's weights the output directory holds: the best on dev
    /// (`Trainer.selectionScore`) or the last. Without dev data, the last.
    public var keep: CheckpointChoice = .best
    /// Whether the output directory also holds the optimizer state (twice
    /// the weights). Off, it is the model alone; what `--resume` needs lives
    /// beside it (`Trainer.resumeDirectory`) until the run finishes.
    public var keepOptimizerState = false
    /// Stop after this many steps in total without saving (tests simulate a kill with it).
    public var stopAfterSteps: Int?
    public var showProgress = true

    public init() {}

    /// Throws unless every setting is a finite number in its range: a NaN
    /// learning rate would train NaN weights without a word, a NaN or huge
    /// warm-up fraction would trap converting steps to Int.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw OfframpError(message) } }
        func rate(_ x: Float) -> Bool { x.isFinite && x > 0 && x <= 1 }
        try check(epochs >= 1 && (secondStageEpochs ?? 1) >= 1, "epochs must be at least 1")
        try check(batchSize >= 1, "the batch size must be at least 1, got \(batchSize)")
        try check(rate(learningRate), "the learning rate must be in (0, 1], got \(learningRate)")
        try check(headLearningRate.map(rate) ?? true, "the heads' learning rate must be in (0, 1], got \(headLearningRate ?? 0)")
        try check(distillLearningRateFactor.isFinite && distillLearningRateFactor > 0, "the distillation learning-rate factor must be positive")
        try check(warmupFraction.isFinite && (0...1).contains(warmupFraction), "the warm-up fraction must be in [0, 1], got \(warmupFraction)")
        try check(weightDecay.isFinite && (0...1).contains(weightDecay), "the weight decay must be in [0, 1], got \(weightDecay)")
        try check(maxGradNorm.isFinite && maxGradNorm >= 0, "the gradient-norm limit must be 0 (off) or positive, got \(maxGradNorm)")
        try check(!sampleWindows.isEmpty && sampleWindows.allSatisfy { $0 >= 0 }, "TOKEE sample windows must be 0 or more")
        try check(!sampleThresholds.isEmpty && sampleThresholds.allSatisfy { (0...1).contains($0) }, "TOKEE sample thresholds must be in [0, 1]")
        try check((0...1).contains(sandwichAggressive) && (0...1).contains(sandwichFull), "the sandwich fractions must be in [0, 1]")
        if case .search(let lambda, _, let lr, let length) = wordVectors {
            try check(lambda.isFinite && lambda >= 0, "λ must be a non-negative number, got \(lambda)")
            try check(rate(lr), "the retention learning rate must be in (0, 1], got \(lr)")
            try check(length >= 2, "the retention parameters' length must be at least 2")
        }
    }
}

/// Which epoch a training run delivers.
public enum CheckpointChoice: String, Sendable, CaseIterable {
    /// The epoch with the best dev score (ties: the earlier).
    case best
    /// The last epoch.
    case last
}

/// PoWER-BERT's training steps 2 and 3 (docs/methods.md#power-training).
public enum WordVectorTraining: Sendable {
    /// Soft extract layers; the loss adds λ Σ_j j·mass(r_j); r learns at its
    /// own rate. `length` is the longest input (the size of each r_j).
    case search(lambda: Double, selection: ExtractSelection, learningRate: Float, length: Int)
    /// Hard extract layers at a retention configuration.
    case retrain(Retention)
}

/// What a training run reports per epoch.
public struct EpochReport: Sendable {
    public let stage: String
    public let epoch: Int
    public let meanLoss: Double
    public let examplesPerSecond: Double
    /// Dev accuracy of every exit (empty without dev data).
    public let devAccuracy: [Double]
}

// MARK: - The trainer

public final class Trainer: @unchecked Sendable {
    public let model: MultiExitModel
    public let options: TrainingOptions
    public let grads: Gradients
    var optimizer: AdamW
    let activations: EncoderActivations
    var headActivations: [HeadActivations]
    let ws = Workspace()
    /// Global step counter (over all stages); seeds each step's dropout.
    public private(set) var globalStep = 0
    var stageIndex = 0
    var epochsDone = 0
    /// The best dev score of this stage so far (`selectionScore`).
    var bestScore = -Double.infinity
    public private(set) var reports: [EpochReport] = []
    /// Mean loss of the most recent step.
    public private(set) var lastLoss: Double = 0
    /// The configuration search's retention parameters.
    public let retentionParameters: RetentionParameters?

    public init(model: MultiExitModel, options: TrainingOptions) {
        self.model = model
        self.options = options
        grads = Gradients(for: model.store)
        optimizer = AdamW(parameterCount: model.store.storage.count)
        let pass = TrainingPass.deterministic()
        activations = EncoderActivations(layers: model.layerCount, pass: pass)
        headActivations = model.heads.map { _ in HeadActivations(pass: pass) }
        if case .search(_, let selection, _, let length) = options.wordVectors {
            retentionParameters = RetentionParameters(layers: model.layerCount, length: length, selection: selection)
        } else {
            retentionParameters = nil
        }
    }

    /// What the training forward eliminates, if anything.
    var elimination: (any EliminationPlan)? {
        switch options.wordVectors {
        case .search: return retentionParameters
        case .retrain(let r): return r
        case nil: return nil
        }
    }

    // MARK: One step

    /// Forward, loss and backward on `batch` for `stage`, leaving the
    /// gradients in `grads`; returns the loss. `pass` decides dropout.
    /// `haltingLayers` (stage tokee), one per row, makes rows halt and copy.
    public func lossAndGradients(_ batch: ExampleBatch, stage: TrainingStage, pass: TrainingPass,
                                 haltingLayers: [Int]? = nil) throws -> Double {
        grads.zero()
        activations.reset(pass: pass)
        for a in headActivations { a.pass = pass }
        retentionParameters?.zeroGradients()
        let elimination = self.elimination
        let hiddens = try model.encoder.forwardTraining(batch.tokens, activations: activations, haltingLayers: haltingLayers, plan: elimination)
        // Heads read each layer's layout: compacted when word-vectors were eliminated.
        func headInput(_ i: Int) -> HeadInput {
            guard case .retrain = options.wordVectors else { return batch.input }
            let layout = activations.layouts[model.heads[i].layer - 1]
            return .sequences(starts: layout.starts, lengths: layout.lengths)
        }
        let heads = model.heads, last = heads.count - 1
        let n = model.labels.count, q = batch.input.queryCount
        let h = model.config.hiddenSize, rows = batch.tokens.tokenCount
        let used: [Int] = switch stage {
        case .finetune: [last]
        case .joint, .headsKL, .tokee: Array(heads.indices)
        case .headsCE: Array(heads.indices.dropLast())
        }
        var logits: [Int: UnsafeMutablePointer<Float>] = [:]
        for i in used {
            let buf = ws.buffer("logits.\(i)", count: q * n)
            heads[i].forward(hiddens[heads[i].layer - 1], input: headInput(i), logits: buf, activations: headActivations[i],
                             workspace: ws, training: true)
            logits[i] = buf
        }
        // Losses and their gradients with respect to the logits.
        var loss: Double = 0
        var dLogits: [Int: UnsafeMutablePointer<Float>] = [:]
        func dBuffer(_ i: Int) -> UnsafeMutablePointer<Float> {
            let b = ws.buffer("dlogits.\(i)", count: q * n)
            b.update(repeating: 0, count: q * n)
            dLogits[i] = b
            return b
        }
        switch stage {
        case .finetune:
            loss = softmaxCrossEntropy(logits: logits[last]!, labels: batch.labels, classes: n, dLogits: dBuffer(last))
        case .joint:
            let weights = used.map { options.layerWeighted ? Float(heads[$0].layer) : 1 }
            let total = weights.reduce(0, +)
            for (i, w) in zip(used, weights) {
                loss += softmaxCrossEntropy(logits: logits[i]!, labels: batch.labels, classes: n, dLogits: dBuffer(i), scale: w / total)
            }
        case .tokee:
            // Exit l sees the words whose halting layer is l or above; each
            // exit's loss is a mean over all the batch's words (Li et al.).
            let weights = used.map { options.layerWeighted ? Float(heads[$0].layer) : 1 }
            let total = weights.reduce(0, +)
            let wordHalts = batch.input.queryRows.map { haltingLayers?[$0] ?? model.layerCount }
            let words = batch.labels.filter { $0 >= 0 }.count
            for (i, w) in zip(used, weights) {
                let l = heads[i].layer
                let labels = zip(batch.labels, wordHalts).map { $1 >= l ? $0 : -1 }
                let counted = labels.filter { $0 >= 0 }.count
                guard counted > 0 else { continue }
                let share = Float(counted) / Float(max(words, 1))
                loss += softmaxCrossEntropy(logits: logits[i]!, labels: labels, classes: n, dLogits: dBuffer(i), scale: w / total * share)
            }
        case .headsCE:
            for i in used { loss += softmaxCrossEntropy(logits: logits[i]!, labels: batch.labels, classes: n, dLogits: dBuffer(i)) }
        case .headsKL:
            let teacher = ws.buffer("teacher", count: q * n)
            softmaxRows(out: teacher, logits: logits[last]!, rows: q, classes: n)
            for i in used where i != last {
                loss += klDivergence(studentLogits: logits[i]!, teacherProbs: teacher, rows: q, classes: n,
                                     direction: options.klDirection, dStudentLogits: dBuffer(i))
            }
        }
        // Backward: heads, then (when it trains) the backbone.
        var exitGradients = [UnsafeMutablePointer<Float>?](repeating: nil, count: model.layerCount)
        for (i, d) in dLogits {
            var dX: UnsafeMutablePointer<Float>? = nil
            if stage.trainsBackbone {
                let l = heads[i].layer
                if exitGradients[l - 1] == nil {
                    let b = ws.buffer("dx.\(l)", count: rows * h)
                    b.update(repeating: 0, count: rows * h)
                    exitGradients[l - 1] = b
                }
                dX = exitGradients[l - 1]
            }
            heads[i].backward(hiddens[heads[i].layer - 1], input: headInput(i), dLogits: d, dX: dX,
                              activations: headActivations[i], grads: grads, workspace: ws)
        }
        if stage.trainsBackbone { model.encoder.backward(activations: activations, exitGradients: exitGradients, grads: grads) }
        if case .search(let lambda, _, _, _) = options.wordVectors, let rp = retentionParameters {
            loss += rp.addPenalty(lambda: lambda)
        }
        return loss
    }

    /// The entries a stage updates, with their learning rate and decay.
    func trainable(_ stage: TrainingStage) -> [(ParameterStore.Entry, AdamW.Group)] {
        let lastPrefix = "exits.\(model.heads.last!.layer)."
        let headLR = (options.headLearningRate ?? options.learningRate) * (stage == .headsKL ? options.distillLearningRateFactor : 1)
        return model.store.entries.compactMap { e in
            let isHead = e.name.hasPrefix("exits.")
            let isLast = e.name.hasPrefix(lastPrefix)
            let included: Bool = switch stage {
            case .finetune: (!isHead && !e.name.hasPrefix("pooler.")) || isLast
            case .joint, .tokee: !e.name.hasPrefix("pooler.")
            case .headsCE, .headsKL: isHead && !isLast
            }
            guard included, !(options.freezeWordEmbeddings && e.name == "embeddings.word_embeddings.weight") else { return nil }
            let noDecay = e.name.hasSuffix("bias") || e.name.contains("LayerNorm")
            return (e, AdamW.Group(learningRate: isHead ? headLR : options.learningRate,
                                   weightDecay: noDecay ? 0 : options.weightDecay))
        }
    }

    // MARK: The loop

    /// Trains on `train` (evaluating every exit on `dev` after each epoch),
    /// saving the checkpoint to `out` after every epoch. Continues from the
    /// state in `out` when `resume` is set.
    public func run(train: [EncodedExample], dev: [EncodedExample], out: URL, resume: Bool = false,
                    log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) throws {
        guard !train.isEmpty else { throw OfframpError("no training examples") }
        try model.requireFP32Weights("training")
        try options.validate()
        if options.wordVectors != nil {
            guard model.settings.task == .classify else { throw OfframpError("PoWER-BERT eliminates word-vectors of classification models (--task classify)") }
            guard options.mode == .joint || options.mode == .finetune else {
                throw OfframpError("PoWER-BERT trains with --mode joint or finetune (the backbone must learn), not \(options.mode.rawValue)")
            }
        }
        if case .search(_, _, _, let length) = options.wordVectors, let longest = train.map(\.ids.count).max(), longest > length {
            throw OfframpError("a training input has \(longest) tokens, more than the retention parameters' length \(length)")
        }
        if case .retrain(let r) = options.wordVectors {
            model.settings.retention = r.lengths
            model.settings.extractSelection = r.selection
        }
        if options.mode.isTOKEE && model.settings.task != .label {
            throw OfframpError("--mode \(options.mode.rawValue) fine-tunes token labeling models (--task label); this model classifies whole inputs")
        }
        let stages = TrainingStage.stages(for: options.mode)
        let resumeDirectory = Self.resumeDirectory(for: out)
        if resume { try loadState(from: Self.resumeSource(for: out)) }
        // The search's dev accuracy favours the epochs that eliminate least:
        // its deliverable is the configuration it ends with.
        let keepsBest: Bool
        if case .search = options.wordVectors { keepsBest = false } else { keepsBest = options.keep == .best && !dev.isEmpty }
        let stepsPerEpoch = (train.count + options.batchSize - 1) / options.batchSize
        while stageIndex < stages.count {
            let stage = stages[stageIndex]
            let epochs = stageIndex == 1 ? (options.secondStageEpochs ?? options.epochs) : options.epochs
            let totalSteps = epochs * stepsPerEpoch
            let warmup = Int((Float(totalSteps) * options.warmupFraction).rounded())
            let entries = trainable(stage)
            let clipEntries = entries.map(\.0)
            let dropout = (Float(model.config.hiddenDropoutProb), Float(model.config.attentionProbsDropoutProb))
            while epochsDone < epochs {
                let order = Self.permutation(train.count, seed: options.seed &+ UInt64(stageIndex) &* 1_000_003 &+ UInt64(epochsDone))
                let start = Date()
                var lossSum: Double = 0, seen = 0
                for b in 0..<stepsPerEpoch {
                    if let stop = options.stopAfterSteps, globalStep >= stop { return }
                    let idx = order[(b * options.batchSize) ..< min((b + 1) * options.batchSize, train.count)]
                    let examples = idx.map { train[$0] }
                    let batch = ExampleBatch(examples)
                    let pass = TrainingPass(seed: Self.stepSeed(options.seed, globalStep),
                                            hiddenDropout: dropout.0, attentionDropout: dropout.1)
                    let halting = stage == .tokee ? try haltingLayers(examples, step: globalStep) : nil
                    let loss = try lossAndGradients(batch, stage: stage, pass: pass, haltingLayers: halting)
                    // Diverged: saving would overwrite a good checkpoint with NaN weights.
                    guard loss.isFinite else {
                        throw OfframpError("step \(globalStep + 1): the loss is \(loss); training diverged (a lower learning rate may help); the last checkpoint is left as it was")
                    }
                    clipGradientNorm(grads, entries: clipEntries, maxNorm: options.maxGradNorm)
                    let stageStep = epochsDone * stepsPerEpoch + b
                    optimizer.update(store: model.store, grads: grads, entries: entries,
                                     scale: linearWarmupDecay(step: stageStep + 1, warmup: warmup, total: totalSteps))
                    if case .search(_, _, let lr, _) = options.wordVectors { retentionParameters?.update(learningRate: lr) }
                    globalStep += 1
                    lastLoss = loss
                    lossSum += loss; seen += idx.count
                    if options.showProgress && (b % 10 == 9 || b == stepsPerEpoch - 1) {
                        let elapsed = Date().timeIntervalSince(start)
                        let rate = Double(seen) / max(elapsed, 1e-9)
                        let eta = Double(train.count - seen) / max(rate, 1e-9)
                        log(String(format: "[%@] epoch %d/%d  step %d/%d  loss %.4f  %.1f ex/s  ETA %@",
                                   stage.rawValue, epochsDone + 1, epochs, b + 1, stepsPerEpoch, lossSum / Double(b + 1), rate, Self.clock(eta)))
                    }
                }
                let rate = Double(seen) / Date().timeIntervalSince(start)
                let devScores = dev.isEmpty ? nil : try model.exitScores(dev)
                let devAccuracy = devScores?.accuracy ?? []
                epochsDone += 1
                reports.append(EpochReport(stage: stage.rawValue, epoch: epochsDone, meanLoss: lossSum / Double(stepsPerEpoch),
                                           examplesPerSecond: rate, devAccuracy: devAccuracy))
                if let devScores {
                    log(Self.exitTable(model, devScores.accuracy, f1: devScores.entityF1?.map(\.f1),
                                       title: "dev after \(stage.rawValue) epoch \(epochsDone)"))
                }
                if let rp = retentionParameters {
                    let found = try rp.retention()
                    model.settings.retention = found.lengths
                    model.settings.extractSelection = rp.selection
                    log("retention masses " + rp.masses.map { String(format: "%.4f", $0) }.joined(separator: " ") + " -> configuration \(found)")
                }
                // The deliverable first, then the resume state: killed between
                // the two, a resumed run redoes this epoch (the same weights, as
                // every step is seeded) and writes the deliverable again.
                let score = devScores.map { Self.selectionScore(stage, $0) }
                let improved = !keepsBest || (score ?? 0) > bestScore
                if improved { bestScore = score ?? bestScore }
                let state = try stateData()
                if improved {
                    try model.save(to: out, trainingMode: options.mode.rawValue, step: globalStep,
                                   extraFiles: options.keepOptimizerState ? [("trainer_state.safetensors", state)] : [])
                    if keepsBest, let score { log(String(format: "kept %@ epoch %d in %@ (dev score %.2f)", stage.rawValue, epochsDone, out.path, 100 * score)) }
                }
                try model.save(to: resumeDirectory, trainingMode: options.mode.rawValue, step: globalStep,
                               extraFiles: [("trainer_state.safetensors", state)])
            }
            stageIndex += 1
            epochsDone = 0
            optimizer = AdamW(parameterCount: model.store.storage.count)  // each stage starts afresh
            if stageIndex < stages.count && keepsBest {
                // The next stage (two-stage's heads) builds on this stage's best
                // epoch, the weights the deliverable holds, not on its last.
                _ = try model.store.load(from: try SafeTensorsFile(url: out.appendingPathComponent("model.safetensors")),
                                         optional: ["pooler.dense.weight", "pooler.dense.bias"])
                bestScore = -.infinity
            }
        }
        // Finished: nothing left to resume.
        try? FileManager.default.removeItem(at: resumeDirectory)
    }

    // MARK: Where checkpoints go

    /// Where an unfinished run keeps what `--resume` needs (the last epoch's
    /// weights and the optimizer state): `OUT.resume`, beside the output
    /// directory, not in it. Removed when the run finishes.
    public static func resumeDirectory(for out: URL) -> URL {
        out.deletingLastPathComponent().appendingPathComponent(out.lastPathComponent + ".resume")
    }

    /// The checkpoint a resumed run continues from: the resume directory, or
    /// (runs of earlier versions, and --keep-optimizer-state) `out` itself
    /// when it holds the optimizer state.
    public static func resumeSource(for out: URL) -> URL {
        let dir = resumeDirectory(for: out)
        return FileManager.default.fileExists(atPath: dir.appendingPathComponent(stateFile).path) ? dir : out
    }

    static let stateFile = "trainer_state.safetensors"

    /// The dev score `--keep best` ranks a stage's epochs by: the final exit's
    /// (entity F1 for BIO tag sets, else accuracy) when the stage trains it;
    /// in the stages that train only the lower exits (two-stage's second,
    /// distillation) the final exit does not move, so the mean of the lower ones.
    static func selectionScore(_ stage: TrainingStage,
                               _ scores: (accuracy: [Double], entityF1: [EntityCounts]?)) -> Double {
        let values = scores.entityF1?.map(\.f1) ?? scores.accuracy
        guard stage == .headsCE || stage == .headsKL, values.count > 1 else { return values.last ?? 0 }
        return values.dropLast().reduce(0, +) / Double(values.count - 1)
    }

    // MARK: TOKEE fine-tuning: where each word halts

    /// One halting layer per row of the batch made of `examples`: per word
    /// drawn uniformly over the exits (tokee-random) or taken from TOKEE
    /// inference with the current model at a random window and threshold
    /// (tokee-self); a word's pieces share its layer, [CLS] and [SEP] run
    /// every layer. Sandwich rule: the batch's first sentences get the most
    /// aggressive setting (self-sampling only), its last ones run at full depth. Draws depend only on the seed and the step.
    func haltingLayers(_ examples: [EncodedExample], step: Int) throws -> [Int] {
        var rng = SeededRandom(seed: Self.stepSeed(options.seed ^ 0x70CE_E5A1, step))
        let exits = model.settings.exits, last = model.layerCount
        let count = examples.count
        let aggressive = Int((Double(count) * options.sandwichAggressive).rounded(.down))
        let full = Int((Double(count) * options.sandwichFull).rounded(.down))
        func pick<T>(_ xs: [T]) -> T { xs[Int(rng.next() % UInt64(xs.count))] }
        var wordLayers: [[Int]]
        switch options.mode {
        case .tokeeSelf:
            let kMin = options.sampleWindows.min()!, tauMax = options.sampleThresholds.max()!
            let policies: [ExitPolicy] = (0..<count).map { i in
                if i < aggressive {  // the reference flips a coin: smallest window or largest threshold
                    return rng.next() % 2 == 0 ? .tokee(window: kMin, tau: pick(options.sampleThresholds), .entropy)
                                               : .tokee(window: pick(options.sampleWindows), tau: tauMax, .entropy)
                }
                return .tokee(window: pick(options.sampleWindows), tau: pick(options.sampleThresholds), .entropy)
            }
            let run = try EarlyExitRunner(model: model).run(examples, policyFor: { policies[$0] }, batchSize: max(count, 1))
            wordLayers = run.results.map(\.exitLayers)
        default:
            wordLayers = examples.enumerated().map { i, e in
                e.queryPositions.map { _ in pick(exits) }
            }
        }
        for i in max(0, count - full) ..< count { wordLayers[i] = wordLayers[i].map { _ in last } }
        var rows: [Int] = []
        for (e, layers) in zip(examples, wordLayers) {
            rows += e.wordOfRow().map { $0 >= 0 ? layers[$0] : last }
        }
        return rows
    }

    // MARK: Reproducibility

    /// The permutation of 0..<n for an epoch (SplitMix64 + Fisher–Yates).
    static func permutation(_ n: Int, seed: UInt64) -> [Int] {
        var order = Array(0..<n)
        var rng = SeededRandom(seed: seed)
        for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return order
    }

    /// Each step's dropout seed depends only on the run's seed and the step,
    /// so a resumed run draws the same masks as an uninterrupted one.
    static func stepSeed(_ seed: UInt64, _ step: Int) -> UInt64 {
        var r = SeededRandom(seed: seed ^ (UInt64(step) &* 0x9E37_79B9_7F4A_7C15))
        return r.next()
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.isFinite ? min(max(seconds, 0), 1e9) : 0)
        return String(format: "%d:%02d", s / 60, s % 60)
    }

    /// "exit  1  2 ..." / "accuracy ..." (/ "F1 ...") table.
    public static func exitTable(_ model: MultiExitModel, _ values: [Double], f1: [Double]? = nil, title: String) -> String {
        var lines = [title, "exit     " + model.heads.map { String(format: "%7d", $0.layer) }.joined()]
        lines.append("accuracy " + values.map { String(format: "%7.2f", 100 * $0) }.joined())
        if let f1 { lines.append("F1       " + f1.map { String(format: "%7.2f", 100 * $0) }.joined()) }
        return lines.joined(separator: "\n")
    }

    /// The optimizer's moments and the loop's position, for `--resume`.
    func stateData() throws -> Data {
        var w = SafeTensorsWriter()
        try w.add("adam.m", shape: [optimizer.m.count], floats: UnsafeBufferPointer(optimizer.m.buffer))
        try w.add("adam.v", shape: [optimizer.v.count], floats: UnsafeBufferPointer(optimizer.v.buffer))
        w.metadata = ["stage": String(stageIndex), "epochs_done": String(epochsDone), "global_step": String(globalStep),
                      "adam_step": String(optimizer.step), "mode": options.mode.rawValue, "seed": String(options.seed),
                      "best_score": String(bestScore)]
        if let rp = retentionParameters {
            try rp.state(into: &w)
            w.metadata["retention_adam_step"] = String(rp.optimizer.step)
        }
        return try w.serialized()
    }

    func loadState(from dir: URL) throws {
        let url = dir.appendingPathComponent(Self.stateFile)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw OfframpError("\(url.path): nothing to resume (the run finished, or never saved an epoch)")
        }
        let file = try SafeTensorsFile(url: url)
        func meta(_ k: String) throws -> Int {
            guard let s = file.metadata[k], let v = Int(s) else { throw OfframpError("\(url.path): metadata \(k) missing or not an integer") }
            return v
        }
        guard file.metadata["mode"] == options.mode.rawValue else {
            throw OfframpError("\(url.path): the checkpoint was trained with --mode \(file.metadata["mode"] ?? "?"), not \(options.mode.rawValue)")
        }
        try file.readFloats("adam.m", into: optimizer.m.buffer)
        try file.readFloats("adam.v", into: optimizer.v.buffer)
        optimizer.step = try meta("adam_step")
        stageIndex = try meta("stage")
        epochsDone = try meta("epochs_done")
        globalStep = try meta("global_step")
        // Older states have no best score: the next epoch is then kept.
        bestScore = file.metadata["best_score"].flatMap(Double.init) ?? -.infinity
        if let rp = retentionParameters { try rp.load(from: file, adamStep: try meta("retention_adam_step")) }
    }
}
