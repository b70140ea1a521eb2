// MARK: - Normalized text

/// Text after normalization, one Unicode scalar per slot, each remembering the
/// index of the input scalar it came from. That is all the alignment information
/// HF keeps that matters for offsets: every normalized character maps to exactly
/// one input character (NFD parts and lower-case expansions share their source's
/// index; removed characters leave nothing behind).
struct NormalizedText {
    var scalars: [UInt32] = []
    var origins: [Int] = []

    var count: Int { scalars.count }

    mutating func removeAll() {
        scalars.removeAll(keepingCapacity: true)
        origins.removeAll(keepingCapacity: true)
    }

    @inline(__always)
    mutating func append(_ scalar: UInt32, from origin: Int) {
        scalars.append(scalar)
        origins.append(origin)
    }

    /// The input scalar range covered by normalized slots `range` (non-empty): from
    /// the first slot's origin to the last one's, as HF's `expand_alignments`.
    func originalRange(_ range: Range<Int>) -> Range<Int> {
        let lower = origins[range.lowerBound]
        // Origins never decrease, so this max is only a guard against a trap.
        return lower..<max(lower, origins[range.upperBound - 1] + 1)
    }
}

// MARK: - Normalizer

/// HF `tokenizers`' BertNormalizer, applied in its order: clean text, pad CJK
/// characters with spaces, strip accents (NFD, then drop nonspacing marks), lower-case.
///
/// The ASCII path is inlined; everything else goes through `BertCharacterTables`,
/// which holds the exact tables of the Rust library (see BertUnicodeData.swift).
struct BertNormalizer: Sendable, Equatable {
    var cleanText: Bool
    var handleChineseChars: Bool
    var stripAccents: Bool
    var lowercase: Bool

    /// Normalizes `input[range]` into `out` (emptied first). `scratch` is reused
    /// storage for the second pass.
    func normalize(_ input: [UInt32], _ range: Range<Int>, into out: inout NormalizedText, scratch: inout NormalizedText) {
        out.removeAll()
        let tables = BertCharacterTables.shared
        var sawNonASCII = false
        var sawCombining = false

        // Pass 1: clean_text, handle_chinese_chars, and the decomposition half of
        // strip_accents. ASCII is lower-cased here too: NFD and mark removal never
        // touch it, so doing it early gives the same result.
        for i in range {
            var c = input[i]
            if c < 0x80 {
                if cleanText && (c < 0x20 || c == 0x7F) {
                    // \t \n \r count as whitespace, every other C0 control is dropped.
                    guard c == 0x09 || c == 0x0A || c == 0x0D else { continue }
                    c = 0x20
                }
                if lowercase && c >= 0x41 && c <= 0x5A { c += 0x20 }
                out.append(c, from: i)
                continue
            }
            sawNonASCII = true
            let flags = tables.flags(c)
            if cleanText {
                if flags.contains(.removed) { continue }
                if flags.contains(.cleanSpace) {
                    out.append(0x20, from: i)
                    continue
                }
            }
            let isCJK = handleChineseChars && flags.contains(.cjk)
            if isCJK { out.append(0x20, from: i) }
            if stripAccents && flags.contains(.decomposes) {
                let start = out.scalars.count
                tables.appendDecomposition(of: c, to: &out.scalars)
                for _ in start..<out.scalars.count { out.origins.append(i) }
                sawCombining = true  // a decomposition usually brings a mark
            } else {
                out.append(c, from: i)
                if flags.contains(.combining) { sawCombining = true }
            }
            if isCJK { out.append(0x20, from: i) }
        }
        guard sawNonASCII, stripAccents || lowercase else { return }

        // NFD also puts runs of combining marks in canonical order.
        if stripAccents && sawCombining { reorderCombiningMarks(&out, tables) }

        // Pass 2: drop nonspacing marks, then lower-case (it can expand: U+0130).
        scratch.removeAll()
        for k in 0..<out.count {
            let c = out.scalars[k], origin = out.origins[k]
            if c < 0x80 {
                scratch.append(lowercase && c >= 0x41 && c <= 0x5A ? c + 0x20 : c, from: origin)
                continue
            }
            let flags = tables.flags(c)
            if stripAccents && flags.contains(.nonspacingMark) { continue }
            if lowercase && flags.contains(.lowercases) {
                for l in tables.lowercase(c) { scratch.append(l, from: origin) }
            } else {
                scratch.append(c, from: origin)
            }
        }
        swap(&out, &scratch)
    }

    /// The canonical ordering step of NFD: a stable sort, by combining class, of each
    /// run of non-starters. Runs are short, so insertion sort.
    ///
    /// Offsets follow what HF's `transform` makes of the reordered output: every
    /// character that begins a decomposition "consumes" the next input character
    /// in input order, whatever it is after sorting, and the other parts of a
    /// decomposition share the last consumed character's position. Before sorting,
    /// the parts are exactly the slots whose origin repeats the previous slot's.
    private func reorderCombiningMarks(_ text: inout NormalizedText, _ tables: BertCharacterTables) {
        let n = text.count
        var k = 0
        while k < n {
            guard tables.flags(text.scalars[k]).contains(.combining) else {
                k += 1
                continue
            }
            var end = k + 1
            var sorted = true
            var previousClass = tables.combiningClass(text.scalars[k])
            while end < n, tables.flags(text.scalars[end]).contains(.combining) {
                let cc = tables.combiningClass(text.scalars[end])
                if cc < previousClass { sorted = false }
                previousClass = cc
                end += 1
            }
            if !sorted { sortRun(&text, k..<end, tables) }
            k = end
        }
    }

    private func sortRun(_ text: inout NormalizedText, _ run: Range<Int>, _ tables: BertCharacterTables) {
        var entries = run.map { j in
            (scalar: text.scalars[j], cc: tables.combiningClass(text.scalars[j]),
             consumes: j == 0 || text.origins[j] != text.origins[j - 1])
        }
        let consumed = run.filter { j in j == 0 || text.origins[j] != text.origins[j - 1] }.map { text.origins[$0] }
        var last = run.lowerBound > 0 ? text.origins[run.lowerBound - 1] : consumed.first ?? 0
        for j in 1..<entries.count {
            let entry = entries[j]
            var m = j
            while m > 0 && entries[m - 1].cc > entry.cc {
                entries[m] = entries[m - 1]
                m -= 1
            }
            entries[m] = entry
        }
        var next = 0
        for (offset, entry) in entries.enumerated() {
            let j = run.lowerBound + offset
            text.scalars[j] = entry.scalar
            if entry.consumes {
                last = consumed[next]
                next += 1
            }
            text.origins[j] = last
        }
    }
}
