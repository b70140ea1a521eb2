import ArgumentParser
import Offramp

// MARK: - --policy and its settings

/// --policy with its setting, shared by predict and eval (which, without
/// --policy, reports every exit rather than the saved policy).
struct PolicyOptions: ParsableArguments {
    @Option(help: ArgumentHelp("""
        Classification: \(ExitPolicy.names(for: .classify).joined(separator: ", ")). \
        Labeling: \(ExitPolicy.names(for: .label).joined(separator: ", ")). \
        Default: predict uses the model's calibrated policy, else full; eval reports every exit.
        """))
    var policy: ExitPolicy.Kind?
    @Option(help: "Threshold: entropy, sentee, tokee (u < T); confidence and the -confidence variants (c >= T); patience-confidence.")
    var threshold: Double?
    @Option(help: "Patience P (patience, patience-confidence).") var patience: Int?
    @Option(help: "Exit layer K (budget).") var layer: Int?
    @Option(help: "TOKEE window half-width K: a word halts when words i-K...i+K are all sure (default 2).") var window: Int?

    /// The settings given, by the policy setting each one is.
    private var given: [(ExitPolicy.Setting, Any?)] {
        [(.threshold, threshold), (.patience, patience), (.layer, layer), (.window, window)]
    }

    /// A setting without --policy, or one the policy does not take, would be ignored.
    func validate() throws {
        for (setting, value) in given {
            guard let policy else { try requireAbsent(value, "--\(setting.rawValue)", "needs --policy"); continue }
            if !policy.settings.contains(setting) {
                try requireAbsent(value, "--\(setting.rawValue)", "does not apply to --policy \(policy.name)")
            }
        }
    }

    /// The policy given, checked against the model (its task and layer
    /// count); nil: none given.
    func resolve(for model: MultiExitModel) throws -> ExitPolicy? {
        guard let policy else { return nil }
        let task = model.settings.task
        guard policy.applies(to: task) else {
            throw UsageError("--policy \(policy.name) does not apply to this \(task.rawValue) model (policies: \(ExitPolicy.names(for: task).joined(separator: ", ")))")
        }
        return try checkingOptions {
            try policy.policy(threshold: threshold, patience: patience, layer: layer, window: window, layers: model.layerCount)
        }
    }
}
