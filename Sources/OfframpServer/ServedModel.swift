import Offramp

// MARK: - What the server answers with: a classifier or a tagger

/// The model's task with the wrapper that serves it: one value, so the
/// server never holds a classifier and a tagger of which one must be nil.
enum ServedModel: Sendable {
    /// `--task classify`: one label per text, on POST /v1/classify.
    case classifier(AdaptiveClassifier)
    /// `--task label`: one label per word, on POST /v1/label.
    case tagger(AdaptiveTagger)

    /// Wraps `model` for its task, cutting texts at `maxTokens` tokens.
    init(_ model: MultiExitModel, maxTokens: Int) throws {
        switch model.settings.task {
        case .classify:
            let c = try AdaptiveClassifier(model: model)
            c.maxLength = maxTokens
            self = .classifier(c)
        case .label:
            let t = try AdaptiveTagger(model: model)
            t.maxLength = maxTokens
            self = .tagger(t)
        }
    }

    var runner: EarlyExitRunner {
        switch self {
        case .classifier(let c): c.runner
        case .tagger(let t): t.runner
        }
    }

    /// The model's calibrated policy (else full depth), used when a request names none.
    var defaultPolicy: ExitPolicy {
        switch self {
        case .classifier(let c): c.defaultPolicy
        case .tagger(let t): t.defaultPolicy
        }
    }

    /// Tokens per text; longer texts are cut or refused.
    var maxTokens: Int {
        switch self {
        case .classifier(let c): c.maxLength
        case .tagger(let t): t.maxLength
        }
    }

    /// What the model does, as the 404 on the other endpoint says it.
    var work: String {
        switch self {
        case .classifier: "classifies whole texts"
        case .tagger: "labels words"
        }
    }

    /// The endpoint this model answers on.
    var path: String {
        switch self {
        case .classifier: "/v1/classify"
        case .tagger: "/v1/label"
        }
    }
}
