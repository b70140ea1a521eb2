// MARK: - ByteLevel pre-tokenizer

/// HF `tokenizers`' ByteLevel pre-tokenizer (GPT-2, RoBERTa): a space put before
/// a text that does not start with one (`addPrefixSpace`), the text cut into
/// words by GPT-2's regex (`useRegex`), and each word's UTF-8 bytes then stand
/// for themselves, one byte-level character each (GPT-2's byte-to-unicode map).
struct ByteLevelPreTokenizer: Sendable, Equatable {
    var addPrefixSpace: Bool
    var useRegex: Bool

    /// Appends the words of `text[range]` as ranges of `text`, as
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    /// finds them: every scalar falls in one alternative, so the words cover the
    /// range.
    static func split(_ text: [UInt32], _ range: Range<Int>, into words: inout [Range<Int>]) {
        let tables = ByteLevelTables.shared
        let end = range.upperBound
        var i = range.lowerBound
        while i < end {
            let c = text[i]
            // 's 't 're 've 'm 'll 'd (case-sensitive, as the regex).
            if c == 0x27, i + 1 < end {
                let n = text[i + 1]
                if n == 0x73 || n == 0x74 || n == 0x6D || n == 0x64 {
                    words.append(i..<(i + 2)); i += 2; continue
                }
                if i + 2 < end {
                    let m = text[i + 2]
                    if (n == 0x72 && m == 0x65) || (n == 0x76 && m == 0x65) || (n == 0x6C && m == 0x6C) {
                        words.append(i..<(i + 3)); i += 3; continue
                    }
                }
            }
            // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an ASCII space may lead.
            let head = c == 0x20 && i + 1 < end ? i + 1 : i
            let kind = tables.kind(text[head])
            if kind != .space {
                var j = head + 1
                while j < end && tables.kind(text[j]) == kind { j += 1 }
                words.append(i..<j); i = j; continue
            }
            // `\s+(?!\S)`: a run of whitespace, but the last one stays for the next
            // word if one follows; else `\s+`: the lone whitespace before a word.
            var j = i + 1
            while j < end && tables.kind(text[j]) == .space { j += 1 }
            if j < end && j - i > 1 { j -= 1 }
            words.append(i..<j); i = j
        }
    }
}

// MARK: - Tables

/// What the regex sees in a scalar, and GPT-2's byte-to-unicode map.
struct ByteLevelTables: Sendable {
    enum Kind: UInt8 {
        /// Neither whitespace, letter nor number.
        case other, letter, number, space
    }

    static let shared = ByteLevelTables()

    /// Planes 0 and 1 flat (one load per scalar); beyond, binary searches.
    private static let flatLimit: UInt32 = 0x20000
    private let flat: [UInt8]
    private let highLetters: [ClosedRange<UInt32>]
    private let highNumbers: [ClosedRange<UInt32>]

    /// The byte-level character (a scalar below 0x144) of each byte.
    let characterOfByte: [UInt32]
    /// The byte of each byte-level character, -1 for other scalars below 0x144.
    let byteOfCharacter: [Int16]

    private init() {
        var flat = [UInt8](repeating: Kind.other.rawValue, count: Int(Self.flatLimit))
        func mark(_ ranges: [ClosedRange<UInt32>], _ kind: Kind) -> [ClosedRange<UInt32>] {
            var above: [ClosedRange<UInt32>] = []
            for r in ranges {
                if r.lowerBound < Self.flatLimit {
                    for c in r.lowerBound...min(r.upperBound, Self.flatLimit - 1) { flat[Int(c)] = kind.rawValue }
                }
                if r.upperBound >= Self.flatLimit { above.append(max(r.lowerBound, Self.flatLimit)...r.upperBound) }
            }
            return above
        }
        highLetters = mark(BertCharacterTables.parseRanges(ByteLevelUnicodeData.letters), .letter)
        highNumbers = mark(BertCharacterTables.parseRanges(ByteLevelUnicodeData.numbers), .number)
        // The regex's \s is White_Space (make_bpe_tokenizer.py checks it), all below the flat limit.
        for c: UInt32 in [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000] {
            flat[Int(c)] = Kind.space.rawValue
        }
        for c: UInt32 in 0x2000...0x200A { flat[Int(c)] = Kind.space.rawValue }
        self.flat = flat

        // Printable Latin-1 bytes stand for themselves; the others, in byte order,
        // take the scalars from U+0100 on.
        var characterOfByte = [UInt32](repeating: 0, count: 256)
        var byteOfCharacter = [Int16](repeating: -1, count: 0x144)
        var next: UInt32 = 0x100
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            let c = printable ? UInt32(b) : next
            if !printable { next += 1 }
            characterOfByte[b] = c
            byteOfCharacter[Int(c)] = Int16(b)
        }
        self.characterOfByte = characterOfByte
        self.byteOfCharacter = byteOfCharacter
    }

    @inline(__always)
    func kind(_ c: UInt32) -> Kind {
        if c < Self.flatLimit { return Kind(rawValue: flat[Int(c)])! }
        if BertCharacterTables.contains(highLetters, c) { return .letter }
        if BertCharacterTables.contains(highNumbers, c) { return .number }
        return .other
    }

    /// The bytes a string of byte-level characters stands for; nil if it holds
    /// any other character.
    func bytes(of token: some Sequence<Unicode.Scalar>) -> [UInt8]? {
        var out: [UInt8] = []
        for s in token {
            guard s.value < 0x144, byteOfCharacter[Int(s.value)] >= 0 else { return nil }
            out.append(UInt8(byteOfCharacter[Int(s.value)]))
        }
        return out
    }

    /// UTF-8 length of the byte-level character of `b` (HF measures BPE symbols
    /// in these bytes of the byte-level string).
    @inline(__always)
    static func encodedLength(ofByte b: UInt8) -> Int { (0x21...0x7E).contains(b) ? 1 : 2 }
}
