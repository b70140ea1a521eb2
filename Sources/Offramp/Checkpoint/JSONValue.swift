import Foundation

/// Any JSON value. Small on purpose: it exists so keys Offramp does not
/// interpret (in config.json, say) can be carried through a load and save
/// unchanged.
///
/// Numbers are Doubles; a whole number is written back as an integer
/// (`384`, not `384.0`), so integer fields survive a round trip.
public enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    // MARK: - Accessors

    /// The member `key` if this is an object holding it.
    public subscript(key: String) -> JSONValue? {
        if case let .object(members) = self { return members[key] }
        return nil
    }

    public var stringValue: String? { if case let .string(s) = self { return s } else { return nil } }
    public var doubleValue: Double? { if case let .number(d) = self { return d } else { return nil } }
    public var boolValue: Bool? { if case let .bool(b) = self { return b } else { return nil } }
    public var arrayValue: [JSONValue]? { if case let .array(a) = self { return a } else { return nil } }
    public var objectValue: [String: JSONValue]? { if case let .object(o) = self { return o } else { return nil } }

    /// The number as an `Int` if it is a whole number in range.
    public var intValue: Int? {
        guard case let .number(d) = self, let i = Int(exactly: d) else { return nil }
        return i
    }

    // MARK: - Codable

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            // Bool before Double: some decoders will read `true` as 1.0.
            self = .bool(b)
        } else if let d = try? container.decode(Double.self) {
            self = .number(d)
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([JSONValue].self) {
            self = .array(a)
        } else if let o = try? container.decode([String: JSONValue].self) {
            self = .object(o)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a JSON value")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case let .bool(b): try container.encode(b)
        case let .number(d):
            if let whole = JSONValue.wholeNumber(d) { try container.encode(whole) } else { try container.encode(d) }
        case let .string(s): try container.encode(s)
        case let .array(a): try container.encode(a)
        case let .object(o): try container.encode(o)
        }
    }

    /// `d` as an Int64 if it is a whole number small enough to be exact, so it
    /// is written without a fraction.
    static func wholeNumber(_ d: Double) -> Int64? {
        guard d.isFinite, d == d.rounded(), abs(d) < 9.007_199_254_740_992e15 else { return nil }
        return Int64(d)
    }

    // MARK: - Conversion to and from the strict parser's tree

    /// Parses JSON text strictly (UTF-8, no duplicate keys, bounded nesting).
    /// The error gives the line and column ("invalid JSON at line 1, column 9: ...").
    public static func parse(_ data: Data) throws -> JSONValue {
        do {
            return JSONValue(try StrictJSON.parse(data))
        } catch {
            throw OfframpError(error.message)
        }
    }

    init(_ node: StrictJSON.Node) {
        switch node {
        case .null: self = .null
        case let .bool(b): self = .bool(b)
        case let .int(i): self = .number(Double(i))
        case let .double(d): self = .number(d)
        case let .string(s): self = .string(s)
        case let .array(items): self = .array(items.map(JSONValue.init))
        case let .object(members):
            // Keys are unique: the parser rejects duplicates.
            self = .object(Dictionary(members.map { ($0.key, JSONValue($0.value)) }, uniquingKeysWith: { _, last in last }))
        }
    }

    var node: StrictJSON.Node {
        switch self {
        case .null: return .null
        case let .bool(b): return .bool(b)
        case let .number(d):
            if let whole = JSONValue.wholeNumber(d) { return .int(Int(whole)) }
            return .double(d)
        case let .string(s): return .string(s)
        case let .array(items): return .array(items.map(\.node))
        case let .object(members): return .object(members.map { ($0.key, $0.value.node) })
        }
    }
}

// MARK: - Literals

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}
