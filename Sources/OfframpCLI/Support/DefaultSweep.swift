import Offramp

// MARK: - The policies sweep and calibrate try when none are named

/// `--policies`' default for a model: the table's default-swept policies for
/// its task (the sequence-level ones for classification, SENTEE and TOKEE
/// for labeling), comma-separated as the option takes them.
func defaultSweepPolicies(_ m: MultiExitModel) -> String { defaultSweepPolicies(for: m.settings.task) }

func defaultSweepPolicies(for task: ExitTask) -> String {
    ExitPolicy.Kind.sweptByDefault(for: task).map(\.name).joined(separator: ",")
}

/// The help's account of that default.
let defaultSweepPoliciesHelp = "default: \(defaultSweepPolicies(for: .classify)); labeling: \(defaultSweepPolicies(for: .label))"
