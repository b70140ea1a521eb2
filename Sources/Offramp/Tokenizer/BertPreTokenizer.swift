// MARK: - Pre-tokenizer

/// HF `tokenizers`' BertPreTokenizer: split on whitespace (dropped), then isolate
/// every punctuation character as a word of its own.
///
/// Works on normalized scalars and reports words as index ranges into them, so no
/// strings are made.
enum BertPreTokenizer {
    /// Appends the words of `text[range]` to `words` (not emptied first).
    static func split(_ text: [UInt32], _ range: Range<Int>, into words: inout [Range<Int>]) {
        let tables = BertCharacterTables.shared
        var start = -1
        for i in range {
            let c = text[i]
            let flags: BertCharacterFlags
            if c < 0x80 {
                // Fast path: letters and digits, by far the most common.
                if (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) {
                    if start < 0 { start = i }
                    continue
                }
            }
            flags = tables.flags(c)
            if flags.contains(.splitSpace) {
                if start >= 0 { words.append(start..<i); start = -1 }
            } else if flags.contains(.punctuation) {
                if start >= 0 { words.append(start..<i); start = -1 }
                words.append(i..<(i + 1))
            } else if start < 0 {
                start = i
            }
        }
        if start >= 0 { words.append(start..<range.upperBound) }
    }
}
