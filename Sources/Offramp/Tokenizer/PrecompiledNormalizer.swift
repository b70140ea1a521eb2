import Foundation

// MARK: - SentencePiece's precompiled charsmap

/// HF `tokenizers`' `Precompiled` normalizer: SentencePiece's normalization rules
/// (nmt_nfkc and the like) as the model file ships them, a double-array trie
/// from UTF-8 strings to replacement strings.
///
/// The blob (`precompiled_charsmap`, base64 in tokenizer.json): a little-endian
/// u32 giving the trie's size in bytes, the trie as little-endian u32 units
/// (Darts-clone's layout), then the replacements, each NUL-terminated, which the
/// trie's values index by byte.
///
/// Applied as HF applies it (not as SentencePiece itself does): per extended
/// grapheme cluster, the whole cluster is looked up when it is under 6 bytes;
/// else, or when that finds nothing, each character on its own. A lookup takes
/// the *shortest* key that is a prefix of the chunk (HF's first common-prefix
/// result), and what it maps to replaces the whole chunk, even where the key is
/// shorter than the chunk. Offsets follow HF's alignment bookkeeping exactly,
/// oddities included (see `realign`).
struct PrecompiledNormalizer: Sendable {
    private let units: [UInt32]
    /// The replacement each reachable trie value names, as scalars.
    private let replacements: [UInt32: [UInt32]]

    /// Chunks are at most 5 bytes (a grapheme under 6 bytes, or one character).
    private static let maxKeyLength = 5

    /// Parses and checks the blob: every unit a lookup of up to 5 bytes can
    /// reach lies inside the trie, and every value it can find starts a
    /// NUL-terminated UTF-8 string inside the replacements. `fail` gets what is
    /// wrong.
    init(charsmap: [UInt8], _ fail: (String) -> OfframpError) throws {
        guard charsmap.count >= 4 else { throw fail("is \(charsmap.count) bytes, too short for its trie size") }
        let trieBytes = Int(charsmap[0]) | Int(charsmap[1]) << 8 | Int(charsmap[2]) << 16 | Int(charsmap[3]) << 24
        let unitCount = trieBytes / 4
        guard unitCount >= 1, unitCount <= (charsmap.count - 4) / 4 else {
            throw fail("trie size \(trieBytes) bytes does not fit the \(charsmap.count - 4) bytes after it")
        }
        var units = [UInt32](repeating: 0, count: unitCount)
        for i in 0..<unitCount {
            let b = 4 + 4 * i
            units[i] = UInt32(charsmap[b]) | UInt32(charsmap[b + 1]) << 8 | UInt32(charsmap[b + 2]) << 16 | UInt32(charsmap[b + 3]) << 24
        }
        let pool = Array(charsmap[(4 + 4 * unitCount)...])
        // HF refuses a pool that is not UTF-8 as a whole.
        guard String(validating: pool, as: UTF8.self) != nil else { throw fail("replacement strings are not valid UTF-8") }

        var replacements: [UInt32: [UInt32]] = [:]
        func replacement(_ value: UInt32) throws {
            guard replacements[value] == nil else { return }
            let start = Int(value)
            guard start <= pool.count else {
                throw fail("a trie value (\(start)) points past the \(pool.count) bytes of replacement strings")
            }
            guard start == pool.count || pool[start] & 0xC0 != 0x80 else {
                throw fail("a trie value (\(start)) points inside a UTF-8 character of the replacement strings")
            }
            let end = pool[start...].firstIndex(of: 0) ?? pool.count
            replacements[value] = String(decoding: pool[start..<end], as: UTF8.self).unicodeScalars.map(\.value)
        }
        // Every node a key of up to 5 bytes reaches, with the children and values a lookup reads.
        var frontier = [Self.offset(units[0])]
        for _ in 0..<Self.maxKeyLength {
            var next: [Int] = []
            for base in frontier {
                for label in 1...255 {
                    let position = base ^ label
                    guard position < unitCount else {
                        throw fail("trie unit \(position) (from base \(base), byte \(label)) is past its \(unitCount) units")
                    }
                    let unit = units[position]
                    guard Self.label(unit) == UInt32(label) else { continue }
                    let child = position ^ Self.offset(unit)
                    if Self.hasLeaf(unit) {
                        guard child < unitCount else { throw fail("trie value unit \(child) is past its \(unitCount) units") }
                        try replacement(Self.value(units[child]))
                    }
                    next.append(child)
                }
            }
            frontier = next
        }
        self.units = units
        self.replacements = replacements
    }

    /// From tokenizer.json's base64 text.
    init(base64 text: String, _ fail: (String) -> OfframpError) throws {
        guard let data = Data(base64Encoded: text) else { throw fail("is not valid base64") }
        try self.init(charsmap: [UInt8](data), fail)
    }

    // MARK: Darts-clone units

    private static func hasLeaf(_ unit: UInt32) -> Bool { (unit >> 8) & 1 == 1 }
    private static func value(_ unit: UInt32) -> UInt32 { unit & 0x7FFF_FFFF }
    /// The label byte, with bit 31 kept so a value unit never matches a label.
    private static func label(_ unit: UInt32) -> UInt32 { unit & 0x8000_00FF }
    private static func offset(_ unit: UInt32) -> Int { Int((unit >> 10) << ((unit & (1 << 9)) >> 6)) }

    /// The replacement of the shortest key that is a prefix of `bytes` (a NUL
    /// byte ends the key, as in SentencePiece).
    func transform(_ bytes: some Collection<UInt8>) -> [UInt32]? {
        var position = Self.offset(units[0])
        for byte in bytes {
            guard byte != 0 else { return nil }
            position ^= Int(byte)
            guard position < units.count else { return nil }  // checked at load; never here
            let unit = units[position]
            guard Self.label(unit) == UInt32(byte) else { return nil }
            position ^= Self.offset(unit)
            if Self.hasLeaf(unit) {
                guard position < units.count else { return nil }
                return replacements[Self.value(units[position])]
            }
        }
        return nil
    }

    // MARK: Normalizing

    /// Normalizes `text` in place (scalars and their input origins).
    func normalize(_ text: inout NormalizedText, scratch: inout NormalizedText) {
        guard text.count > 0 else { return }
        var view = String.UnicodeScalarView()
        for s in text.scalars { view.append(Unicode.Scalar(s) ?? "\u{FFFD}") }
        // (scalar, change): HF's transformation list. change 0 takes the next
        // input character's place, 1 is inserted, -k also swallows k more.
        var changes: [(UInt32, Int)] = []
        changes.reserveCapacity(text.count)
        var modified = false
        var bytes: [UInt8] = []
        var index = 0
        for grapheme in String(view) {
            let scalars = grapheme.unicodeScalars
            let count = scalars.count
            defer { index += count }
            bytes.removeAll(keepingCapacity: true)
            bytes.append(contentsOf: grapheme.utf8)
            if bytes.count < 6, let replacement = transform(bytes) {
                modified = true
                Self.replace(&changes, oldCount: count, with: replacement)
                continue
            }
            for scalar in scalars {
                bytes.removeAll(keepingCapacity: true)
                bytes.append(contentsOf: String(Character(scalar)).utf8)
                if let replacement = transform(bytes) {
                    modified = true
                    Self.replace(&changes, oldCount: 1, with: replacement)
                } else {
                    changes.append((scalar.value, 0))
                }
            }
        }
        guard modified else { return }
        Self.realign(text, changes, into: &scratch)
        swap(&text, &scratch)
    }

    /// HF's `replace` in precompiled.rs: the new characters take the old ones'
    /// places; extra ones count as inserted, and a shortfall is swallowed by the
    /// last transformation so far (which may belong to an earlier grapheme).
    private static func replace(_ changes: inout [(UInt32, Int)], oldCount: Int, with new: [UInt32]) {
        let diff = new.count - oldCount
        for s in new { changes.append((s, 0)) }
        if diff > 0 {
            for k in (changes.count - diff)..<changes.count { changes[k].1 = 1 }
        } else if diff < 0, !changes.isEmpty {
            changes[changes.count - 1].1 += diff
        }
    }

    /// HF's `NormalizedString::transform` on character alignments: a kept or
    /// replacing character takes the origin of the input character at the
    /// cursor and moves it on (by 1 + k for a change of -k); an inserted one
    /// takes the origin of the character before the cursor. A deletion at the
    /// very start has nothing to swallow it, so the cursor lags and every later
    /// character takes its predecessor's origin, as HF reports it.
    static func realign(_ old: NormalizedText, _ changes: [(UInt32, Int)], into out: inout NormalizedText) {
        out.removeAll()
        let n = old.count
        guard n > 0 else { return }
        var cursor = 0
        for (scalar, change) in changes {
            let origin: Int
            if change > 0 {
                origin = old.origins[max(cursor - 1, 0)]
            } else {
                origin = old.origins[min(cursor, n - 1)]
                cursor = min(n, cursor + 1 - change)
            }
            out.append(scalar, from: origin)
        }
    }
}
