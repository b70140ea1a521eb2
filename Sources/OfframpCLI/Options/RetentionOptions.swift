import ArgumentParser
import Offramp

// MARK: - --retention and --selection: PoWER-BERT at inference

/// --retention and --selection, shared by eval, predict and sweep.
struct RetentionOptions: ParsableArguments {
    @Option(help: "PoWER-BERT: word-vectors kept after each layer (L1,L2,...), or none (default: the model's saved configuration).")
    var retention: String?
    @Option(help: "How kept word-vectors are chosen: attention, attention-no-self, head or random (default: the model's, else attention).")
    var selection: ExtractSelection?

    /// Whether either option was given.
    var isGiven: Bool { retention != nil || selection != nil }

    /// The elimination to run `m` with: the saved configuration unless
    /// --retention names another (or none); --selection alone re-selects
    /// at the saved lengths.
    func resolve(_ m: MultiExitModel) throws -> WordVectorRetention {
        if isGiven && m.settings.task != .classify {
            throw UsageError("--retention and --selection apply to classification models only (PoWER-BERT); this model labels words")
        }
        guard let retention else {
            guard let selection else { return .saved }
            guard let saved = try m.resolve(.saved) else { throw UsageError("--selection needs --retention (this model has no saved configuration)") }
            return .configuration(saved.selecting(selection))
        }
        if retention == "none" {
            if selection != nil { throw UsageError("--selection does not apply to --retention none") }
            return .all
        }
        return .configuration(try checkingOptions {
            try Retention(parsing: retention, layers: m.layerCount, selection: selection ?? m.settings.extractSelection ?? .attention)
        })
    }
}
