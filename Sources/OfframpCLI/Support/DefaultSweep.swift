import Foundation
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

/// The policies `--policies` names for `m` (its default when nil), each
/// checked: a misspelt name or one that does not suit the model's task is a
/// usage error, never silently left out of the sweep.
func sweepPolicyKinds(_ policies: String?, for m: MultiExitModel) throws -> [ExitPolicy.Kind] {
    let names = (policies ?? defaultSweepPolicies(m)).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    let task = m.settings.task
    let known = ExitPolicy.names(for: task).filter { $0 != "full" }
    guard !names.isEmpty else { throw UsageError("--policies is empty (known: \(known.joined(separator: ", ")))") }
    return try names.map { n in
        guard let kind = ExitPolicy.Kind(rawValue: n), known.contains(n) else {
            throw UsageError("--policies: \"\(n)\" is not a policy for this \(task.rawValue) model (known: \(known.joined(separator: ", ")))")
        }
        return kind
    }
}
