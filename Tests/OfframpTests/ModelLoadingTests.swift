import Foundation
import Offramp
import Testing

/// Loading a model directory: key renaming, and the errors a user sees for a
/// checkpoint that does not fit its config.
@Suite struct ModelLoadingTests {
    static func tinyConfig() -> BertConfig {
        var c = BertConfig()
        c.vocabSize = 50; c.hiddenSize = 16; c.numHiddenLayers = 2; c.numAttentionHeads = 2
        c.intermediateSize = 24; c.maxPositionEmbeddings = 20
        return c
    }

    /// Writes `encoder`'s parameters as a checkpoint directory, renaming keys
    /// with `rename` and leaving out those it maps to nil.
    static func writeCheckpoint(_ encoder: BertEncoder, config: BertConfig, to dir: URL,
                                rename: (String) -> String? = { $0 }, extra: [(String, [Int], [Float])] = []) throws {
        var w = SafeTensorsWriter()
        for e in encoder.parameters.entries {
            guard let key = rename(e.name) else { continue }
            try w.add(key, shape: e.shape, floats: Array(UnsafeBufferPointer(start: encoder.parameters[e.name], count: e.count)))
        }
        for (name, shape, values) in extra { try w.add(name, shape: shape, floats: values) }
        try w.write(to: dir.appendingPathComponent("model.safetensors"))
        try config.save(to: dir.appendingPathComponent("config.json"))
    }

    static func output(_ encoder: BertEncoder) throws -> [Float] {
        try encoder(PackedBatch(ids: [[1, 5, 7, 2], [1, 9, 2]], typeIds: [[0, 0, 1, 1], [0, 1, 1]])).lastHidden.array
    }

    @Test func roundTripIsBitExact() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = Self.tinyConfig()
        let original = try BertEncoder(randomWeights: config, seed: 3)
        try Self.writeCheckpoint(original, config: config, to: dir)
        let loaded = try BertEncoder.load(directory: dir)
        #expect(try Self.output(loaded) == Self.output(original))
        #expect(loaded.hasPooler)
    }

    @Test func acceptsBertPrefixLegacyLayerNormNamesAndIgnoresBuffers() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = Self.tinyConfig()
        let original = try BertEncoder(randomWeights: config, seed: 4)
        try Self.writeCheckpoint(original, config: config, to: dir, rename: { name in
            if name.hasPrefix("pooler") { return nil }  // a checkpoint without a pooler
            var k = "bert." + name
            if k.hasSuffix("LayerNorm.weight") { k = k.replacingOccurrences(of: "LayerNorm.weight", with: "LayerNorm.gamma") }
            if k.hasSuffix("LayerNorm.bias") { k = k.replacingOccurrences(of: "LayerNorm.bias", with: "LayerNorm.beta") }
            return k
        }, extra: [("bert.embeddings.position_ids", [1, 20], (0..<20).map(Float.init)),
                   ("cls.predictions.bias", [50], [Float](repeating: 0, count: 50))])
        let loaded = try BertEncoder.load(directory: dir)
        #expect(try Self.output(loaded) == Self.output(original))
        #expect(!loaded.hasPooler)
    }

    @Test func missingTensorIsNamed() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = Self.tinyConfig()
        try Self.writeCheckpoint(try BertEncoder(randomWeights: config), config: config, to: dir,
                                 rename: { $0 == "encoder.layer.1.output.dense.weight" ? nil : $0 })
        let error = #expect(throws: OfframpError.self) { try BertEncoder.load(directory: dir) }
        #expect(error?.message.contains("missing tensor encoder.layer.1.output.dense.weight") == true)
        #expect(error?.message.contains("model.safetensors") == true)
    }

    @Test func shapeContradictingConfigNamesBothShapes() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = Self.tinyConfig()
        try Self.writeCheckpoint(try BertEncoder(randomWeights: config), config: config, to: dir)
        config.intermediateSize = 32  // config.json now says 32, the tensors hold 24
        try config.save(to: dir.appendingPathComponent("config.json"))
        let error = #expect(throws: OfframpError.self) { try BertEncoder.load(directory: dir) }
        let message = error?.message ?? ""
        #expect(message.contains("encoder.layer.0.intermediate.dense.weight"))
        #expect(message.contains("[24, 16]") && message.contains("[32, 16]"), "\(message)")
    }

    @Test func outOfRangeTokenIsAnError() throws {
        let encoder = try BertEncoder(randomWeights: Self.tinyConfig())
        let error = #expect(throws: OfframpError.self) { try encoder(PackedBatch(ids: [[1, 50, 2]])) }
        #expect(error?.message.contains("vocab_size = 50") == true)
        let long = #expect(throws: OfframpError.self) { try encoder(PackedBatch(ids: [[Int32](repeating: 3, count: 21)])) }
        #expect(long?.message.contains("max_position_embeddings = 20") == true)
    }

    @Test func invalidUTF8InAnInputFileNamesTheLine() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("texts.txt")
        try (Data("good line\nsecond\nbad ".utf8) + [0xC3, 0x28, 0x0A, 0x61]).write(to: url)
        let error = #expect(throws: OfframpError.self) { try readTextLines(url) }
        #expect(error?.message == "\(url.path):3: invalid UTF-8")
    }
}
