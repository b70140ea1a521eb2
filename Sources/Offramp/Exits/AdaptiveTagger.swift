import Foundation

// MARK: - The library API: label words with SENTEE / TOKEE early exit

/// One word's prediction.
public struct TaggedWord: Sendable, Equatable {
    public let word: String
    /// nil when the word got no piece (cut off by --max-length, or nothing
    /// left after normalization): no layer saw it.
    public let label: String?
    /// Probability of the chosen label.
    public let probability: Float
    /// The 1-based layer at which the word halted (0 when unlabeled).
    public let exitLayer: Int
}

/// A multi-exit sequence labeler (POS, NER) whose words halt as soon as
/// they, or their window, are sure enough.
///
/// ```swift
/// let tagger = try AdaptiveTagger.load(directory: modelURL)
/// let tagged = try tagger.tag([["Stocks", "rose", "sharply", "."]], policy: .tokee(window: 2, tau: 0.1, .entropy))
/// print(tagged[0].map { "\($0.word)/\($0.label ?? "-")@\($0.exitLayer)" })
/// ```
public final class AdaptiveTagger: @unchecked Sendable {
    public let model: MultiExitModel
    public let runner: EarlyExitRunner
    /// Tokens per sentence, [CLS] and [SEP] included.
    public var maxLength: Int
    /// The model's calibrated policy, else full depth.
    public let defaultPolicy: ExitPolicy

    public init(model: MultiExitModel) throws {
        guard model.settings.task == .label else {
            throw OfframpError("\(model.directory.path): this model classifies whole texts (task classify); use AdaptiveClassifier")
        }
        self.model = model
        runner = try EarlyExitRunner(model: model)
        maxLength = model.defaultMaxLength
        defaultPolicy = try model.calibratedPolicy()
    }

    public static func load(directory: URL, precision: Precision? = nil) throws -> AdaptiveTagger {
        try AdaptiveTagger(model: try MultiExitModel.load(directory: directory, precision: precision))
    }

    /// Labels pre-split sentences under `policy` (default: `defaultPolicy`).
    public func tag(_ sentences: [[String]], policy: ExitPolicy? = nil, batchSize: Int = 32) throws -> [[TaggedWord]] {
        guard !sentences.isEmpty else { throw OfframpError("no sentences to label") }
        let encoded = try sentences.enumerated().map { i, words in try encode(words, position: i + 1) }
        let run = try runner.run(encoded.map(\.example), policy: policy ?? defaultPolicy, batchSize: batchSize)
        return zip(sentences, zip(run.results, encoded)).map { words, pair in tagged(words, pair.0, pair.1.wordQueries) }
    }

    /// One sentence's words, cut to `maxLength` tokens. `wordQueries` maps a
    /// word's index to its query (words cut off have none); `truncated` says
    /// whether any piece was cut. No words is an error naming the 1-based `position`.
    public func encode(_ words: [String], position: Int) throws
        -> (example: EncodedExample, wordQueries: [Int: Int], truncated: Bool) {
        guard !words.isEmpty else { throw OfframpError("sentence \(position) has no words") }
        let encoding = try model.tokenizer.encode(words: words, maxLength: maxLength)
        let (e, index) = ExampleEncoder.wordExample(encoding, labels: nil)
        return (e, index, encoding.truncated)
    }

    /// The words of a runner's result (`wordQueries` from `encode`).
    public func tagged(_ words: [String], _ r: ExitResult, _ wordQueries: [Int: Int]) -> [TaggedWord] {
        words.enumerated().map { w, word in
            guard let k = wordQueries[w] else { return TaggedWord(word: word, label: nil, probability: 0, exitLayer: 0) }
            return TaggedWord(word: word, label: model.labels[r.labels[k]], probability: r.labelProbabilities[k][r.labels[k]],
                              exitLayer: r.exitLayers[k])
        }
    }

    /// Splits text into words at white space (the input format of `tag`).
    public static func words(_ text: String) -> [String] { text.split(whereSeparator: \.isWhitespace).map(String.init) }
}
