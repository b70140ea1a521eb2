// MARK: - Trie over Unicode scalars

/// A trie keyed by Unicode scalar sequences, with several roots, frozen into an
/// open-addressing hash table of edges.
///
/// WordPiece's greedy longest-match-first ("try the whole rest of the word, then
/// one character shorter, ...") finds the longest prefix that is in the vocabulary,
/// which a single walk down a trie finds without building any substring. Keys are
/// compared scalar by scalar, as the Rust library compares bytes (Swift `String`
/// equality would merge canonically equivalent tokens).
struct ScalarTrie: Sendable {
    /// Value stored at each node; -1 when no key ends there.
    private let values: [Int32]
    /// Edge table: key = parent node << 21 | scalar, `emptyKey` when free.
    private let edgeKeys: [UInt64]
    private let edgeChildren: [Int32]
    private let shift: UInt64

    private static let emptyKey = UInt64.max

    fileprivate init(values: [Int32], edges: [UInt64: Int32]) {
        var bits: UInt64 = 4
        while (1 << bits) < edges.count * 2 { bits += 1 }
        let capacity = 1 << Int(bits)
        var keys = [UInt64](repeating: Self.emptyKey, count: capacity)
        var children = [Int32](repeating: -1, count: capacity)
        let shift = 64 - bits
        for (key, child) in edges {
            var slot = Int((key &* 0x9E37_79B9_7F4A_7C15) >> shift)
            while keys[slot] != Self.emptyKey { slot = (slot + 1) & (capacity - 1) }
            keys[slot] = key
            children[slot] = child
        }
        self.values = values
        self.edgeKeys = keys
        self.edgeChildren = children
        self.shift = shift
    }

    /// The child of `node` along `scalar`, or -1.
    @inline(__always)
    func child(_ node: Int32, _ scalar: UInt32) -> Int32 {
        let key = UInt64(node) << 21 | UInt64(scalar)
        let mask = edgeKeys.count - 1
        var slot = Int((key &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while true {
            let k = edgeKeys[slot]
            if k == key { return edgeChildren[slot] }
            if k == Self.emptyKey { return -1 }
            slot = (slot + 1) & mask
        }
    }

    /// The value stored at `node` (a node `child` returned), -1 when no key ends there.
    @inline(__always)
    func value(at node: Int32) -> Int32 { values[Int(node)] }

    /// The value of the longest non-empty key that is a prefix of
    /// `scalars[start..<end]`, searched from `root`, with that key's end index.
    @inline(__always)
    func longestMatch(from root: Int32, in scalars: [UInt32], start: Int, end: Int) -> (value: Int32, end: Int)? {
        var node = root
        var best: (value: Int32, end: Int)?
        var i = start
        while i < end {
            node = child(node, scalars[i])
            if node < 0 { break }
            i += 1
            let v = values[Int(node)]
            if v >= 0 { best = (v, i) }
        }
        return best
    }

    /// The value stored for exactly `key` under `root`.
    func value(from root: Int32, for key: some Sequence<UInt32>) -> Int32? {
        var node = root
        for scalar in key {
            node = child(node, scalar)
            if node < 0 { return nil }
        }
        let v = values[Int(node)]
        return v >= 0 ? v : nil
    }
}

// MARK: - Building

struct ScalarTrieBuilder {
    private var values: [Int32]
    private var edges: [UInt64: Int32] = [:]

    /// A builder with `roots` empty roots, numbered 0..<roots.
    init(roots: Int) {
        values = [Int32](repeating: -1, count: roots)
    }

    /// Stores `value` for `key` under `root`. Returns the value already stored
    /// there instead (and changes nothing) if the key is a duplicate.
    mutating func insert(_ key: some Sequence<UInt32>, root: Int32, value: Int32) -> Int32? {
        var node = root
        for scalar in key {
            let edge = UInt64(node) << 21 | UInt64(scalar)
            if let next = edges[edge] {
                node = next
            } else {
                let next = Int32(values.count)
                values.append(-1)
                edges[edge] = next
                node = next
            }
        }
        if values[Int(node)] >= 0 { return values[Int(node)] }
        values[Int(node)] = value
        return nil
    }

    func build() -> ScalarTrie { ScalarTrie(values: values, edges: edges) }
}
