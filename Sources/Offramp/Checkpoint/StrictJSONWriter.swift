import Foundation

extension StrictJSON {
    /// Serializes `node` with object keys sorted (by code point, as Python's
    /// `sort_keys=True` does).
    ///
    /// - `indent: nil` writes compact JSON with no spaces (the safetensors
    ///   header style of the reference implementation);
    /// - `indent: 2` writes Python's `json.dumps(indent=2)` layout, the layout
    ///   Hugging Face uses for config.json.
    ///
    /// Throws a plain description if the tree holds a non-finite number, which
    /// JSON cannot represent.
    static func write(_ node: Node, indent: Int?) throws(ParseError) -> String {
        var out = ""
        try write(node, indent: indent, level: 0, into: &out)
        return out
    }

    private static func write(_ node: Node, indent: Int?, level: Int, into out: inout String) throws(ParseError) {
        switch node {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .int(i): out += String(i)
        case let .double(d):
            guard d.isFinite else { throw ParseError(message: "cannot write the non-finite number \(d) as JSON") }
            // Swift prints the shortest text that reads back as the same
            // Double ("0.1", "1e-12", "384.0"), like Python's repr.
            out += d.description
        case let .string(s): appendQuoted(s, to: &out)
        case let .array(items):
            guard !items.isEmpty else { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                newline(indent, level + 1, &out)
                try write(item, indent: indent, level: level + 1, into: &out)
            }
            newline(indent, level, &out)
            out += "]"
        case let .object(members):
            guard !members.isEmpty else { out += "{}"; return }
            out += "{"
            let sorted = members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            for (i, member) in sorted.enumerated() {
                if i > 0 { out += "," }
                newline(indent, level + 1, &out)
                appendQuoted(member.key, to: &out)
                out += indent == nil ? ":" : ": "
                try write(member.value, indent: indent, level: level + 1, into: &out)
            }
            newline(indent, level, &out)
            out += "}"
        }
    }

    private static func newline(_ indent: Int?, _ level: Int, _ out: inout String) {
        guard let indent else { return }
        out += "\n"
        out += String(repeating: " ", count: indent * level)
    }

    /// A JSON string literal. Non-ASCII text is written as UTF-8 (valid JSON);
    /// only quotes, backslashes and control characters need escapes.
    static func appendQuoted(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

/// `s` as a JSON string literal (quotes, backslashes and control characters
/// escaped; other text as UTF-8): for writers of JSON lines.
public func jsonStringLiteral(_ s: String) -> String {
    var out = ""
    StrictJSON.appendQuoted(s, to: &out)
    return out
}
