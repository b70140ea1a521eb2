import Foundation

/// A small, strict JSON parser for checkpoint files (safetensors headers and
/// config.json).
///
/// Why not JSONSerialization: we need exact 64-bit integers (data offsets of
/// large files do not survive a round trip through Double), duplicate keys
/// reported rather than silently merged, a nesting limit so hostile input
/// cannot overflow the stack, and error positions we can put in a message.
enum StrictJSON {
    /// A parsed value. Integers that fit in `Int` stay exact; every other
    /// number is a finite `Double`. Objects keep their keys in file order.
    indirect enum Node: Equatable {
        case null
        case bool(Bool)
        case int(Int)
        case double(Double)
        case string(String)
        case array([Node])
        case object([(key: String, value: Node)])

        static func == (lhs: Node, rhs: Node) -> Bool {
            switch (lhs, rhs) {
            case (.null, .null): return true
            case let (.bool(a), .bool(b)): return a == b
            case let (.int(a), .int(b)): return a == b
            case let (.double(a), .double(b)): return a == b
            case let (.string(a), .string(b)): return a == b
            case let (.array(a), .array(b)): return a == b
            case let (.object(a), .object(b)):
                return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
            default: return false
            }
        }

        /// A short name of the value's JSON type, for error messages.
        var typeName: String {
            switch self {
            case .null: return "null"
            case .bool: return "a boolean"
            case .int, .double: return "a number"
            case .string: return "a string"
            case .array: return "a list"
            case .object: return "an object"
            }
        }

        /// The value as it would appear in JSON, shortened, for error messages.
        var preview: String {
            switch self {
            case .null: return "null"
            case let .bool(b): return b ? "true" : "false"
            case let .int(i): return String(i)
            case let .double(d): return String(d)
            case let .string(s): return s.count > 40 ? "\"\(s.prefix(40))...\"" : "\"\(s)\""
            case let .array(items): return "a list of \(items.count)"
            case let .object(members): return "an object of \(members.count) keys"
            }
        }
    }

    /// Deep enough for any real config, shallow enough that recursion is safe.
    static let maxDepth = 256

    /// Parses one JSON value filling all of `bytes` (surrounding whitespace
    /// allowed). Throws a plain description ("line 3, column 7: expected ':'"),
    /// which callers prefix with the file name.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(ParseError) -> Node {
        // Validate UTF-8 once up front, so string slices can be decoded
        // without checks later.
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw ParseError(message: "not valid UTF-8 text")
        }
        var parser = Parser(bytes: bytes)
        parser.skipWhitespace()
        let node = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.position == bytes.count else {
            throw parser.error("unexpected text after the JSON value")
        }
        return node
    }

    static func parse(_ data: Data) throws(ParseError) -> Node {
        // `withUnsafeBytes` cannot forward a typed throw, so carry it out by hand.
        let result: Result<Node, ParseError> = data.withUnsafeBytes { raw in
            do throws(ParseError) { return .success(try parse(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    struct ParseError: Error {
        let message: String
    }

    // MARK: - Parser

    private struct Parser {
        let bytes: UnsafeRawBufferPointer
        var position = 0

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        func error(_ what: String) -> ParseError {
            // Line and column of `position`, counted in bytes (cheap and
            // good enough to find the spot in an editor).
            var line = 1, column = 1
            for i in 0..<min(position, bytes.count) {
                if bytes[i] == UInt8(ascii: "\n") { line += 1; column = 1 } else { column += 1 }
            }
            let at = position >= bytes.count ? "end of text" : "line \(line), column \(column)"
            return ParseError(message: "invalid JSON at \(at): \(what)")
        }

        var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skipWhitespace() {
            while let b = peek, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { position += 1 }
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws(ParseError) {
            guard peek == byte else { throw error("expected \(what)") }
            position += 1
        }

        mutating func parseValue(depth: Int) throws(ParseError) -> Node {
            guard depth < StrictJSON.maxDepth else { throw error("nested deeper than \(StrictJSON.maxDepth) levels") }
            guard let b = peek else { throw error("expected a value") }
            switch b {
            case UInt8(ascii: "{"): return try parseObject(depth: depth)
            case UInt8(ascii: "["): return try parseArray(depth: depth)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
            default: throw error("expected a value")
            }
        }

        mutating func literal(_ word: StaticString) throws(ParseError) {
            let count = word.utf8CodeUnitCount
            guard position + count <= bytes.count else { throw error("expected \(word)") }
            for i in 0..<count where bytes[position + i] != word.utf8Start[i] {
                throw error("expected \(word)")
            }
            position += count
        }

        mutating func parseObject(depth: Int) throws(ParseError) -> Node {
            position += 1  // {
            var members: [(key: String, value: Node)] = []
            var seen = Set<String>()
            skipWhitespace()
            if peek == UInt8(ascii: "}") { position += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard peek == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let keyStart = position
                let key = try parseString()
                guard seen.insert(key).inserted else {
                    position = keyStart
                    throw error("duplicate key \"\(key)\"")
                }
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "':' after key \"\(key)\"")
                skipWhitespace()
                members.append((key, try parseValue(depth: depth + 1)))
                skipWhitespace()
                if peek == UInt8(ascii: ",") { position += 1; continue }
                try expect(UInt8(ascii: "}"), "',' or '}'")
                return .object(members)
            }
        }

        mutating func parseArray(depth: Int) throws(ParseError) -> Node {
            position += 1  // [
            var items: [Node] = []
            skipWhitespace()
            if peek == UInt8(ascii: "]") { position += 1; return .array(items) }
            while true {
                skipWhitespace()
                items.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                if peek == UInt8(ascii: ",") { position += 1; continue }
                try expect(UInt8(ascii: "]"), "',' or ']'")
                return .array(items)
            }
        }

        mutating func parseNumber() throws(ParseError) -> Node {
            // JSON grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
            let start = position
            func digits(_ p: inout Parser) -> Int {
                let s = p.position
                while let b = p.peek, b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") { p.position += 1 }
                return p.position - s
            }
            if peek == UInt8(ascii: "-") { position += 1 }
            if peek == UInt8(ascii: "0") {
                position += 1
            } else if digits(&self) == 0 {
                throw error("expected a digit")
            }
            var isInteger = true
            if peek == UInt8(ascii: ".") {
                position += 1
                isInteger = false
                guard digits(&self) > 0 else { throw error("expected a digit after '.'") }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                position += 1
                isInteger = false
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { position += 1 }
                guard digits(&self) > 0 else { throw error("expected a digit in the exponent") }
            }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
            if isInteger, let exact = Int(text) { return .int(exact) }
            guard let value = Double(text), value.isFinite else {
                position = start
                throw error("number \(text) is out of range")
            }
            return .double(value)
        }

        mutating func parseString() throws(ParseError) -> String {
            position += 1  // opening quote
            var result = ""
            var runStart = position
            func flush(_ p: Parser, upTo end: Int, into result: inout String) {
                if end > runStart {
                    result += String(decoding: UnsafeRawBufferPointer(rebasing: p.bytes[runStart..<end]), as: UTF8.self)
                }
            }
            while true {
                guard let b = peek else { throw error("unterminated string") }
                switch b {
                case UInt8(ascii: "\""):
                    flush(self, upTo: position, into: &result)
                    position += 1
                    return result
                case UInt8(ascii: "\\"):
                    flush(self, upTo: position, into: &result)
                    position += 1
                    result.unicodeScalars.append(try parseEscape())
                    runStart = position
                case 0..<0x20:
                    throw error("control character in a string (must be escaped)")
                default:
                    position += 1
                }
            }
        }

        /// After a backslash: one escape, including \uXXXX surrogate pairs.
        mutating func parseEscape() throws(ParseError) -> Unicode.Scalar {
            guard let c = peek else { throw error("unterminated string") }
            position += 1
            switch c {
            case UInt8(ascii: "\""): return "\""
            case UInt8(ascii: "\\"): return "\\"
            case UInt8(ascii: "/"): return "/"
            case UInt8(ascii: "b"): return "\u{08}"
            case UInt8(ascii: "f"): return "\u{0C}"
            case UInt8(ascii: "n"): return "\n"
            case UInt8(ascii: "r"): return "\r"
            case UInt8(ascii: "t"): return "\t"
            case UInt8(ascii: "u"):
                let first = try hex4()
                if (0xD800..<0xDC00).contains(first) {
                    // A high surrogate must be followed by an escaped low one.
                    guard peek == UInt8(ascii: "\\"), position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "u") else {
                        throw error("unpaired surrogate \\u\(String(first, radix: 16))")
                    }
                    position += 2
                    let second = try hex4()
                    guard (0xDC00..<0xE000).contains(second) else {
                        throw error("unpaired surrogate \\u\(String(first, radix: 16))")
                    }
                    let value = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                    // Always valid: the range is 0x10000...0x10FFFF.
                    guard let scalar = Unicode.Scalar(value) else { throw error("invalid escape") }
                    return scalar
                }
                guard let scalar = Unicode.Scalar(first) else {
                    throw error("unpaired surrogate \\u\(String(first, radix: 16))")
                }
                return scalar
            default:
                position -= 1
                throw error("invalid escape '\\\(Character(Unicode.Scalar(c)))'")
            }
        }

        mutating func hex4() throws(ParseError) -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard let b = peek else { throw error("unterminated \\u escape") }
                let digit: UInt32
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - UInt8(ascii: "A") + 10)
                default: throw error("expected four hex digits after \\u")
                }
                value = value << 4 | digit
                position += 1
            }
            return value
        }
    }
}
