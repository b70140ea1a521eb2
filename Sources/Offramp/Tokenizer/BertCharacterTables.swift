// MARK: - Character facts

/// What the BERT normalizer and pre-tokenizer need to know about one code point.
struct BertCharacterFlags: OptionSet, Sendable {
    let rawValue: UInt16

    /// `clean_text` drops it (controls, format characters, private use, U+FFFD).
    static let removed = BertCharacterFlags(rawValue: 1 << 0)
    /// `clean_text` turns it into U+0020.
    static let cleanSpace = BertCharacterFlags(rawValue: 1 << 1)
    /// The pre-tokenizer splits on it and drops it (Rust's `char::is_whitespace`).
    static let splitSpace = BertCharacterFlags(rawValue: 1 << 2)
    /// The pre-tokenizer isolates it as a one-character word.
    static let punctuation = BertCharacterFlags(rawValue: 1 << 3)
    /// `handle_chinese_chars` puts spaces around it.
    static let cjk = BertCharacterFlags(rawValue: 1 << 4)
    /// `strip_accents` drops it after NFD (category Mn in the library's tables).
    static let nonspacingMark = BertCharacterFlags(rawValue: 1 << 5)
    /// NFD changes it (Hangul syllables included).
    static let decomposes = BertCharacterFlags(rawValue: 1 << 6)
    /// Lower-casing changes it.
    static let lowercases = BertCharacterFlags(rawValue: 1 << 7)
    /// Non-zero canonical combining class: NFD may reorder it.
    static let combining = BertCharacterFlags(rawValue: 1 << 8)
}

// MARK: - Tables

/// Lookup structures built once (lazily, thread-safely: a `static let`) from the
/// generated `BertUnicodeData` strings.
///
/// Planes 0 and 1, where nearly all text lives (emoji included), get a flat array
/// of flags so the hot loop does one load per scalar; the rarely seen higher planes
/// fall back to binary searches over the range lists.
struct BertCharacterTables: Sendable {
    static let shared = BertCharacterTables()

    private static let flatLimit: UInt32 = 0x20000

    private let flat: [UInt16]
    /// Ranges at or above `flatLimit` for one flag, sorted.
    private struct HighRanges: Sendable {
        var flag: BertCharacterFlags
        var ranges: [ClosedRange<UInt32>]
    }

    private let high: [HighRanges]
    private let decompositions: [UInt32: [UInt32]]
    private let lowercaseMappings: [UInt32: [UInt32]]
    private let combiningClasses: [UInt32: UInt8]

    private init() {
        var flat = [UInt16](repeating: 0, count: Int(Self.flatLimit))
        var high: [HighRanges] = []

        func mark(_ ranges: [ClosedRange<UInt32>], _ flag: BertCharacterFlags) {
            var above: [ClosedRange<UInt32>] = []
            for r in ranges {
                if r.lowerBound < Self.flatLimit {
                    for c in r.lowerBound...min(r.upperBound, Self.flatLimit - 1) { flat[Int(c)] |= flag.rawValue }
                }
                if r.upperBound >= Self.flatLimit { above.append(max(r.lowerBound, Self.flatLimit)...r.upperBound) }
            }
            if !above.isEmpty { high.append(HighRanges(flag: flag, ranges: above)) }
        }

        mark(Self.parseRanges(BertUnicodeData.removed), .removed)
        mark(Self.parseRanges(BertUnicodeData.whitespace), .cleanSpace)
        mark(Self.parseRanges(BertUnicodeData.punctuation), .punctuation)
        mark(Self.parseRanges(BertUnicodeData.nonspacingMarks), .nonspacingMark)
        mark(Self.splitSpaceRanges, .splitSpace)
        mark(Self.cjkRanges, .cjk)
        mark([Self.hangulFirst...Self.hangulLast], .decomposes)

        let decompositions = Self.parseMap(BertUnicodeData.decompositions)
        mark(decompositions.keys.map { $0...$0 }.sorted { $0.lowerBound < $1.lowerBound }, .decomposes)
        let lowercase = Self.parseMap(BertUnicodeData.lowercase)
        mark(lowercase.keys.map { $0...$0 }.sorted { $0.lowerBound < $1.lowerBound }, .lowercases)

        var classes: [UInt32: UInt8] = [:]
        var classRanges: [ClosedRange<UInt32>] = []
        for entry in Self.entries(BertUnicodeData.combiningClasses) {
            let parts = entry.split(separator: ":")
            guard parts.count == 2, let range = Self.parseRange(parts[0]), let ccc = UInt8(parts[1]) else {
                preconditionFailure("BertUnicodeData.combiningClasses: bad entry \(entry)")
            }
            for c in range { classes[c] = ccc }
            classRanges.append(range)
        }
        mark(classRanges, .combining)

        self.flat = flat
        self.high = high
        self.decompositions = decompositions
        self.lowercaseMappings = lowercase
        self.combiningClasses = classes
    }

    // MARK: Lookups

    @inline(__always)
    func flags(_ c: UInt32) -> BertCharacterFlags {
        if c < Self.flatLimit { return BertCharacterFlags(rawValue: flat[Int(c)]) }
        var result: BertCharacterFlags = []
        for entry in high where Self.contains(entry.ranges, c) { result.insert(entry.flag) }
        return result
    }

    /// Appends the canonical decomposition of `c` (which has `.decomposes`).
    func appendDecomposition(of c: UInt32, to out: inout [UInt32]) {
        if c >= Self.hangulFirst && c <= Self.hangulLast {
            // Unicode's algorithmic decomposition of precomposed Hangul syllables.
            let s = c - Self.hangulFirst
            out.append(0x1100 + s / 588)
            out.append(0x1161 + (s % 588) / 28)
            if s % 28 != 0 { out.append(0x11A7 + s % 28) }
        } else if let d = decompositions[c] {
            out.append(contentsOf: d)
        } else {
            out.append(c)
        }
    }

    /// The full lower-case mapping of `c` (which has `.lowercases`).
    func lowercase(_ c: UInt32) -> [UInt32] { lowercaseMappings[c] ?? [c] }

    /// Canonical combining class; 0 for starters.
    func combiningClass(_ c: UInt32) -> UInt8 { combiningClasses[c] ?? 0 }

    // MARK: Fixed sets

    /// Rust's `char::is_whitespace` (the White_Space property), which the
    /// pre-tokenizer splits on. Stable across Unicode versions; the Python script
    /// checks it against the library anyway.
    private static let splitSpaceRanges: [ClosedRange<UInt32>] = [
        0x09...0x0D, 0x20...0x20, 0x85...0x85, 0xA0...0xA0, 0x1680...0x1680, 0x2000...0x200A,
        0x2028...0x2029, 0x202F...0x202F, 0x205F...0x205F, 0x3000...0x3000,
    ]

    /// `is_chinese_char` of the Rust BertNormalizer (not the same as the Python
    /// BasicTokenizer's: U+2B820-U+2B91F is left out).
    private static let cjkRanges: [ClosedRange<UInt32>] = [
        0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0x20000...0x2A6DF,
        0x2A700...0x2B81F, 0x2B920...0x2CEAF, 0x2F800...0x2FA1F,
    ]

    private static let hangulFirst: UInt32 = 0xAC00
    private static let hangulLast: UInt32 = 0xD7A3

    // MARK: Parsing the generated strings

    static func entries(_ table: String) -> [Substring] {
        table.split(whereSeparator: { $0 == " " || $0 == "\n" })
    }

    static func parseRange(_ text: Substring) -> ClosedRange<UInt32>? {
        let bounds = text.split(separator: "-")
        guard let lo = bounds.first.flatMap({ UInt32($0, radix: 16) }) else { return nil }
        if bounds.count == 1 { return lo...lo }
        guard bounds.count == 2, let hi = UInt32(bounds[1], radix: 16), hi >= lo else { return nil }
        return lo...hi
    }

    static func parseRanges(_ table: String) -> [ClosedRange<UInt32>] {
        entries(table).map { entry in
            guard let range = parseRange(entry) else { preconditionFailure("BertUnicodeData: bad range \(entry)") }
            return range
        }
    }

    private static func parseMap(_ table: String) -> [UInt32: [UInt32]] {
        var map: [UInt32: [UInt32]] = [:]
        for entry in entries(table) {
            let parts = entry.split(separator: ":")
            guard parts.count == 2, let key = UInt32(parts[0], radix: 16) else {
                preconditionFailure("BertUnicodeData: bad mapping \(entry)")
            }
            map[key] = parts[1].split(separator: ",").map { value in
                guard let v = UInt32(value, radix: 16) else { preconditionFailure("BertUnicodeData: bad mapping \(entry)") }
                return v
            }
        }
        return map
    }

    static func contains(_ ranges: [ClosedRange<UInt32>], _ c: UInt32) -> Bool {
        var lo = 0, hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[mid].upperBound < c { lo = mid + 1 } else { hi = mid }
        }
        return lo < ranges.count && ranges[lo].contains(c)
    }
}
