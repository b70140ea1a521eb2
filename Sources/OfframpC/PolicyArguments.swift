import Foundation
import Offramp

// MARK: - An exit policy as a C caller gives it: a name and optional settings

/// The value C callers pass for an integer setting they do not give.
let noSetting = Int.min

/// The policy named `name` (null: nil, the model's calibrated one) with
/// its settings (`threshold` NaN and the integers `noSetting` when not
/// given), checked against `model`: its task, its layer count, and that
/// every setting given is one the policy takes. Errors name the argument
/// as the Python binding spells it ("threshold 1.5 is out of range...").
func policy(_ name: UnsafePointer<CChar>?, threshold: Double, patience: Int, layer: Int, window: Int,
            for model: MultiExitModel) throws -> ExitPolicy? {
    let given: [(ExitPolicy.Setting, Bool)] = [
        (.threshold, !threshold.isNaN), (.patience, patience != noSetting), (.layer, layer != noSetting), (.window, window != noSetting),
    ]
    guard let name else {
        let named = given.filter(\.1).map(\.0.rawValue)
        guard named.isEmpty else {
            throw CallError(.invalid, "\(named.joined(separator: ", ")) given without a policy (the model's saved policy takes no settings)")
        }
        return nil
    }
    let text = String(cString: name)
    let task = model.settings.task
    let known = ExitPolicy.names(for: task).joined(separator: ", ")
    guard let kind = ExitPolicy.Kind(rawValue: text) else {
        throw CallError(.invalid, "unknown policy \"\(text)\" (known for a \(task.rawValue) model: \(known))")
    }
    guard kind.applies(to: task) else {
        throw CallError(.invalid, "policy \(text) does not apply to this \(task.rawValue) model (policies: \(known))")
    }
    for (setting, isGiven) in given where isGiven && !kind.settings.contains(setting) {
        throw CallError(.invalid, "\(setting.rawValue) does not apply to policy \(text)")
    }
    func whole(_ v: Int, _ setting: ExitPolicy.Setting) throws -> Int? {
        guard v != noSetting else { return nil }
        guard abs(v) < 1 << 30 else { throw CallError(.invalid, "\(setting.rawValue) \(v) is out of range") }
        return v
    }
    return try kind.policy(threshold: threshold.isNaN ? nil : threshold, patience: try whole(patience, .patience),
                           layer: try whole(layer, .layer), window: try whole(window, .window),
                           layers: model.layerCount, optionPrefix: "")
}

/// What a binding shows of a multi-exit model (`offramp_handle_info`).
func modelInfo(_ kind: String, _ model: MultiExitModel, maxLength: Int, defaultPolicy: ExitPolicy) -> [String: Any] {
    ["kind": kind, "labels": model.labels, "layers": model.layerCount, "exits": model.settings.exits,
     "max_length": maxLength, "policy": defaultPolicy.encoded, "precision": model.encoder.precision.rawValue]
}
