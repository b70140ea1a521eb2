// MARK: - Byte-level BPE model

/// HF `tokenizers`' BPE model over byte-level words: each byte of a word starts
/// as the vocabulary token of its byte-level character (with the continuing
/// subword prefix after the first, the end-of-word suffix on the last), then
/// merges apply as HF applies them: a min-heap on (rank, position), an entry
/// applying if the pair now at its position still merges into the entry's token.
///
/// A byte whose token is missing becomes its `<0xHH>` tokens (`byteFallback`),
/// else the unknown token (runs of them fused with `fuseUnk`), else nothing. As
/// in HF, token offsets are counted along the word (in UTF-8 bytes of its
/// byte-level characters) from the tokens' lengths, so a dropped byte shifts the
/// offsets of the tokens after it.
struct BPEModel: Sendable {
    /// Token text by id; nil for ids the vocabulary skips.
    let tokens: [String?]
    let unkId: Int32?
    let fuseUnk: Bool
    let byteFallback: Bool
    let ignoreMerges: Bool
    let continuingSubwordPrefix: String?
    let endOfWordSuffix: String?

    private let ids: [[UInt32]: Int32]
    /// Tokens made only of byte-level characters, by their bytes (`ignoreMerges`).
    private let idsByBytes: [[UInt8]: Int32]
    /// The starting token of a byte by variant: 256 × (plain, prefixed, suffixed, both); -1 if none.
    private let byteTokens: [Int32]
    /// `<0xHH>` tokens of each variant's string, when byte fallback has them all.
    private let fallbackTokens: [[Int32]?]
    /// (left << 32 | right) → (rank, merged token).
    private let merges: [UInt64: (rank: Int32, id: Int32)]

    /// - Parameters:
    ///   - merges: token pairs by rank (a later duplicate overrides, as in HF).
    ///   - locateMerge: the JSON path of merge `i`, for errors.
    init(vocabulary: [(token: String, id: Int32)], merges: [(String, String)], unkToken: String?,
         continuingSubwordPrefix: String?, endOfWordSuffix: String?, fuseUnk: Bool, byteFallback: Bool,
         ignoreMerges: Bool, source: String, locateMerge: (Int) -> String) throws {
        guard !vocabulary.isEmpty else { throw OfframpError("\(source): model.vocab is empty") }
        var ids: [[UInt32]: Int32] = [:]
        var idsByBytes: [[UInt8]: Int32] = [:]
        var maxId: Int32 = -1
        for (token, id) in vocabulary {
            guard id >= 0 else { throw OfframpError("\(source): model.vocab[\(quotedToken(token))] has negative id \(id)") }
            let key = token.unicodeScalars.map(\.value)
            if ids[key] != nil { throw OfframpError("\(source): model.vocab has \(quotedToken(token)) twice") }
            ids[key] = id
            if let bytes = ByteLevelTables.shared.bytes(of: token.unicodeScalars) { idsByBytes[bytes] = id }
            maxId = max(maxId, id)
        }
        var tokens = [String?](repeating: nil, count: Int(maxId) + 1)
        for (token, id) in vocabulary {
            if let other = tokens[Int(id)] {
                throw OfframpError("\(source): model.vocab gives id \(id) to both \(quotedToken(other)) and \(quotedToken(token))")
            }
            tokens[Int(id)] = token
        }
        self.tokens = tokens
        self.ids = ids
        self.idsByBytes = idsByBytes
        if let unkToken {
            // HF fails only when an unknown byte needs it; refusing the file is clearer.
            guard let id = ids[unkToken.unicodeScalars.map(\.value)] else {
                throw OfframpError("\(source): model.unk_token \(quotedToken(unkToken)) is not in model.vocab")
            }
            unkId = id
        } else {
            unkId = nil
        }
        self.fuseUnk = fuseUnk
        self.byteFallback = byteFallback
        self.ignoreMerges = ignoreMerges
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.endOfWordSuffix = endOfWordSuffix

        let prefix = (continuingSubwordPrefix ?? "").unicodeScalars.map(\.value)
        let suffix = (endOfWordSuffix ?? "").unicodeScalars.map(\.value)
        var byteTokens = [Int32](repeating: -1, count: 4 * 256)
        var fallbackTokens = [[Int32]?](repeating: nil, count: 4 * 256)
        let fallbackIds: [Int32?] = (0..<256).map { ids[String(format: "<0x%02X>", $0).unicodeScalars.map(\.value)] }
        for variant in 0..<4 {
            for b in 0..<256 {
                let character = ByteLevelTables.shared.characterOfByte[b]
                let key = (variant & 1 != 0 ? prefix : []) + [character] + (variant & 2 != 0 ? suffix : [])
                byteTokens[variant * 256 + b] = ids[key] ?? -1
                if byteFallback {
                    let utf8 = String(String.UnicodeScalarView(key.compactMap(Unicode.Scalar.init))).utf8
                    let fallback = utf8.map { fallbackIds[Int($0)] }
                    if fallback.allSatisfy({ $0 != nil }) { fallbackTokens[variant * 256 + b] = fallback.map { $0! } }
                }
            }
        }
        self.byteTokens = byteTokens
        self.fallbackTokens = fallbackTokens

        var mergeMap: [UInt64: (rank: Int32, id: Int32)] = [:]
        mergeMap.reserveCapacity(merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            let aKey = a.unicodeScalars.map(\.value), bKey = b.unicodeScalars.map(\.value)
            guard let aId = ids[aKey] else { throw OfframpError("\(source): \(locateMerge(rank)): \(quotedToken(a)) is not in model.vocab") }
            guard let bId = ids[bKey] else { throw OfframpError("\(source): \(locateMerge(rank)): \(quotedToken(b)) is not in model.vocab") }
            guard bKey.starts(with: prefix) else {
                throw OfframpError("\(source): \(locateMerge(rank)): \(quotedToken(b)) does not start with the continuing_subword_prefix")
            }
            let merged = aKey + bKey.dropFirst(prefix.count)
            guard let newId = ids[merged] else {
                throw OfframpError("\(source): \(locateMerge(rank)): the merged token is not in model.vocab")
            }
            mergeMap[UInt64(UInt32(aId)) << 32 | UInt64(UInt32(bId))] = (Int32(rank), newId)
        }
        self.merges = mergeMap
    }

    /// The id of exactly `token`.
    func id(for token: String) -> Int32? { ids[token.unicodeScalars.map(\.value)] }

    // MARK: Merging

    fileprivate struct Symbol {
        var id: Int32
        var prev: Int
        var next: Int
        /// In UTF-8 bytes of the byte-level characters; 0 once merged into its left neighbour.
        var length: Int
    }

    fileprivate struct Merge: Comparable {
        var rank: Int32
        var position: Int
        var id: Int32
        static func < (a: Merge, b: Merge) -> Bool { a.rank != b.rank ? a.rank < b.rank : a.position < b.position }
    }

    /// Reused storage of one word's merging.
    struct Scratch {
        fileprivate var symbols: [Symbol] = []
        fileprivate var heap = MinHeap<Merge>()
    }

    /// The tokens of one word (its bytes), as (id, offsets in UTF-8 bytes of the
    /// byte-level characters), into `tokens` (emptied first).
    func tokenize(_ word: ArraySlice<UInt8>, scratch s: inout Scratch, into tokens: inout [(id: Int32, range: Range<Int>)]) {
        tokens.removeAll(keepingCapacity: true)
        guard !word.isEmpty else { return }
        if ignoreMerges, let id = idsByBytes[Array(word)] {
            tokens.append((id, 0..<word.reduce(0) { $0 + ByteLevelTables.encodedLength(ofByte: $1) }))
            return
        }
        s.symbols.removeAll(keepingCapacity: true)
        func add(_ id: Int32, _ length: Int) {
            let n = s.symbols.count
            if n > 0 { s.symbols[n - 1].next = n }
            s.symbols.append(Symbol(id: id, prev: n - 1, next: -1, length: length))
        }
        var unknown: (id: Int32, length: Int)?
        for (k, b) in word.enumerated() {
            let variant = (k > 0 && continuingSubwordPrefix != nil ? 1 : 0) | (k == word.count - 1 && endOfWordSuffix != nil ? 2 : 0)
            let length = ByteLevelTables.encodedLength(ofByte: b)
            let id = byteTokens[variant * 256 + Int(b)]
            if id >= 0 {
                if let u = unknown { add(u.id, u.length); unknown = nil }
                add(id, length)
                continue
            }
            if byteFallback, let fallback = fallbackTokens[variant * 256 + Int(b)] {
                for t in fallback { add(t, 1) }  // HF counts one byte each
                continue
            }
            guard let unkId else { continue }
            if let u = unknown {
                if fuseUnk {
                    unknown = (u.id, u.length + length)
                    continue
                }
                add(u.id, u.length)
            }
            unknown = (unkId, length)
        }
        if let u = unknown { add(u.id, u.length) }
        mergeAll(&s)
        var position = 0
        for symbol in s.symbols where symbol.length > 0 {
            tokens.append((symbol.id, position..<(position + symbol.length)))
            position += symbol.length
        }
    }

    private func merge(_ left: Int32, _ right: Int32) -> (rank: Int32, id: Int32)? {
        merges[UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))]
    }

    /// HF's `Word::merge_all` without dropout.
    private func mergeAll(_ s: inout Scratch) {
        s.heap.removeAll()
        for i in 0..<max(0, s.symbols.count - 1) {
            if let m = merge(s.symbols[i].id, s.symbols[i + 1].id) { s.heap.push(Merge(rank: m.rank, position: i, id: m.id)) }
        }
        while let top = s.heap.pop() {
            let p = top.position
            guard s.symbols[p].length > 0, s.symbols[p].next >= 0 else { continue }
            let nextPosition = s.symbols[p].next
            let right = s.symbols[nextPosition]
            // A stale entry: the pair here no longer merges into its token.
            guard let current = merge(s.symbols[p].id, right.id), current.id == top.id else { continue }
            s.symbols[p].id = top.id
            s.symbols[p].length += right.length
            s.symbols[p].next = right.next
            s.symbols[nextPosition].length = 0
            if right.next >= 0 && right.next < s.symbols.count { s.symbols[right.next].prev = p }
            let prev = s.symbols[p].prev
            if prev >= 0, let m = merge(s.symbols[prev].id, top.id) {
                s.heap.push(Merge(rank: m.rank, position: prev, id: m.id))
            }
            let next = s.symbols[p].next
            if next >= 0 && next < s.symbols.count, let m = merge(top.id, s.symbols[next].id) {
                s.heap.push(Merge(rank: m.rank, position: p, id: m.id))
            }
        }
    }
}

// MARK: - Heap

/// A binary min-heap.
struct MinHeap<Element: Comparable> {
    private var items: [Element] = []

    mutating func removeAll() { items.removeAll(keepingCapacity: true) }

    mutating func push(_ e: Element) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i] < items[parent] else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Element? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        guard !items.isEmpty else { return first }
        items[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < items.count && items[l] < items[smallest] { smallest = l }
            if r < items.count && items[r] < items[smallest] { smallest = r }
            if smallest == i { break }
            items.swapAt(i, smallest)
            i = smallest
        }
        return first
    }
}
