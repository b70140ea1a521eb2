import ArgumentParser
import Offramp

// MARK: - --policy and its settings

/// --policy with its setting, shared by predict and eval.
struct PolicyOptions: ParsableArguments {
    @Option(help: ArgumentHelp("""
        Classification: \(ExitPolicy.names(for: .classify).joined(separator: ", ")). \
        Labeling: \(ExitPolicy.names(for: .label).joined(separator: ", ")). \
        Default: the model's calibrated policy, else full.
        """))
    var policy: ExitPolicy.Kind?
    @Option(help: "Threshold: entropy, sentee, tokee (u < T); confidence and the -confidence variants (c >= T); patience-confidence.")
    var threshold: Double?
    @Option(help: "Patience P (patience, patience-confidence).") var patience: Int?
    @Option(help: "Exit layer K (budget).") var layer: Int?
    @Option(help: "TOKEE window half-width K: a word halts when words i-K...i+K are all sure (default 2).") var window: Int?

    /// The policy given, checked against a model of `layers` layers; nil: none given.
    func resolve(layers: Int) throws -> ExitPolicy? {
        try policy?.policy(threshold: threshold, patience: patience, layer: layer, window: window, layers: layers)
    }
}
