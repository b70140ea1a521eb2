import Foundation

// MARK: - The library API: classify texts with early exit

/// One text's prediction.
public struct Prediction: Sendable, Equatable {
    public let label: String
    /// Probability of each label, in the model's label order.
    public let probabilities: [Float]
    /// The 1-based layer whose exit answered.
    public let exitLayer: Int
    /// Normalized entropy at each exit visited.
    public let uncertainties: [Double]
}

/// A multi-exit text classifier that lets easy texts leave early.
///
/// ```swift
/// let classifier = try AdaptiveClassifier.load(directory: modelURL)
/// let predictions = try classifier.classify(["A gorgeous, witty film."], policy: .entropy(0.3))
/// print(predictions[0].label, predictions[0].exitLayer)
/// ```
public final class AdaptiveClassifier: @unchecked Sendable {
    public let model: MultiExitModel
    public let runner: EarlyExitRunner
    /// Tokens per text, [CLS] and [SEP] included.
    public var maxLength: Int
    /// The policy used when none is given: the calibrated one saved in the
    /// model's config, else full depth.
    public let defaultPolicy: ExitPolicy

    public init(model: MultiExitModel) throws {
        guard model.settings.task == .classify else {
            throw OfframpError("\(model.directory.path): this model labels words (task label); use AdaptiveTagger")
        }
        self.model = model
        runner = try EarlyExitRunner(model: model)
        maxLength = model.defaultMaxLength
        defaultPolicy = try model.calibratedPolicy()
    }

    /// Loads a multi-exit checkpoint directory (made by `offramp train`).
    public static func load(directory: URL, precision: Precision? = nil) throws -> AdaptiveClassifier {
        try AdaptiveClassifier(model: try MultiExitModel.load(directory: directory, precision: precision))
    }

    public var labels: [String] { model.labels }

    /// Tokenizes texts as the classifier does; an empty text is an error naming its position.
    public func encode(_ texts: [String]) throws -> [EncodedExample] {
        try texts.enumerated().map { i, text in try encode(text, position: i + 1).example }
    }

    /// One text, cut to `maxLength` tokens; `truncated` says whether it was.
    /// A blank text is an error naming its 1-based `position`.
    /// With `pair`, the two texts as one input, [CLS] a [SEP] b [SEP] with
    /// token types 0 then 1 (sentence-pair tasks: entailment, paraphrase).
    public func encode(_ text: String, pair: String? = nil, position: Int) throws -> (example: EncodedExample, truncated: Bool) {
        try requireNonBlank(text, position: position)
        if let pair { try requireNonBlank(pair, position: position) }
        let e = try model.tokenizer.encode(text, pair: pair, maxLength: maxLength)
        return (EncodedExample(ids: e.ids, typeIds: e.typeIds, queryPositions: [0], labels: [-1]), e.truncated)
    }

    /// The prediction a runner's result stands for.
    public func prediction(_ r: ExitResult) -> Prediction {
        Prediction(label: labels[r.label], probabilities: r.probabilities, exitLayer: r.exitLayer, uncertainties: r.uncertainties)
    }

    /// Classifies `texts` under `policy` (default: `defaultPolicy`), `batchSize` at a time.
    /// PoWER-BERT models eliminate word-vectors as `retention` says (default: as saved).
    public func classify(_ texts: [String], policy: ExitPolicy? = nil, batchSize: Int = 32,
                         retention: WordVectorRetention = .saved) throws -> [Prediction] {
        guard !texts.isEmpty else { throw OfframpError("no texts to classify") }
        let run = try runner.run(try encode(texts), policy: policy ?? defaultPolicy, batchSize: batchSize, retention: retention)
        return run.results.map(prediction)
    }

    /// Classifies sentence pairs (each encoded as `encode(_:pair:position:)` does).
    public func classify(pairs: [(String, String)], policy: ExitPolicy? = nil, batchSize: Int = 32,
                         retention: WordVectorRetention = .saved) throws -> [Prediction] {
        guard !pairs.isEmpty else { throw OfframpError("no sentence pairs to classify") }
        let examples = try pairs.enumerated().map { i, p in try encode(p.0, pair: p.1, position: i + 1).example }
        return try runner.run(examples, policy: policy ?? defaultPolicy, batchSize: batchSize, retention: retention).results.map(prediction)
    }
}
