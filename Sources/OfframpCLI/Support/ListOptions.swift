import Offramp

// MARK: - Comma-separated option values

/// Comma-separated numbers of an option, each checked.
func parseList<T: LosslessStringConvertible>(_ text: String, option: String, valid: (T) -> Bool, range: String) throws -> [T] {
    try text.split(separator: ",").map { s -> T in
        guard let v = T(String(s)), valid(v) else { throw OfframpError("\(option): \"\(s)\" is not \(range)") }
        return v
    }
}
