import ArgumentParser
import Foundation
import Offramp

// MARK: - Comma-separated option values

/// Comma-separated numbers of an option, each checked (a usage error names
/// the option and the value). NaN passes no range check.
func parseList<T: LosslessStringConvertible>(_ text: String, option: String, valid: (T) -> Bool, range: String) throws -> [T] {
    let values = try text.split(separator: ",").map { s -> T in
        guard let v = T(s.trimmingCharacters(in: .whitespaces)), valid(v) else { throw ValidationError("\(option): \"\(s)\" is not \(range)") }
        return v
    }
    guard !values.isEmpty else { throw ValidationError("\(option) is empty") }
    return values
}
