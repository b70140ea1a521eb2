import Foundation
import Offramp
import Testing

/// Texts in, vectors out, with the real MiniLM-L6 directory.
@Suite(.serialized) struct TextEncoderTests {
    static func load() throws -> TextEncoder {
        try TextEncoder.load(directory: TestSupport.cached("models/minilm-l6"))
    }

    @Test func textPathMatchesHFPairCosineAndEmbeddings() throws {
        let ref = try SafeTensorsFile(url: TestSupport.fixture("encoder/minilm_reference.safetensors"))
        let model = try Self.load()
        let texts = ["A man is eating food.", "A man is eating a piece of bread."]
        let encodings = try model.tokenize(texts)
        #expect(encodings[0].ids.map(Int.init) == (try ref.integers("pair.a.ids")))
        #expect(encodings[1].ids.map(Int.init) == (try ref.integers("pair.b.ids")))
        let e = try model.embed(texts)
        let wantA = try ref.floats("pair.a.mean")
        #expect(zip(e[0], wantA).map { abs($0 - $1) }.max()! < 1e-4)
        let cosine = cosineSimilarity(e[0], e[1])
        #expect(String(format: "%.4f", cosine) == String(format: "%.4f", try ref.floats("pair.cosine")[0]))
    }

    @Test func emptyTextIsAnErrorNamingItsPosition() throws {
        let model = try Self.load()
        let error = #expect(throws: OfframpError.self) { try model.tokenize(["fine", " \t "]) }
        #expect(error?.message == "text 2 is empty")
    }

    @Test func overLongTextTruncatesByDefaultAndErrsWhenAsked() throws {
        let model = try Self.load()
        try model.setMaxLength(16)
        let long = Array(repeating: "word", count: 40).joined(separator: " ")
        let e = try model.tokenize([long])
        #expect(e[0].ids.count == 16 && e[0].truncated)
        #expect(e[0].ids.last == 102)  // [SEP] kept
        let error = #expect(throws: OfframpError.self) { try model.tokenize([long], truncate: false) }
        #expect(error?.message == "text 1 has 42 tokens, more than the maximum length 16")
        #expect(throws: OfframpError.self) { try model.setMaxLength(513) }
    }

    @Test func missingVocabularyNamesThePath() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = TestSupport.cached("models/minilm-l6")
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent(f), withDestinationURL: src.appendingPathComponent(f))
        }
        let error = #expect(throws: OfframpError.self) { try TextEncoder.load(directory: dir) }
        #expect(error?.message.contains(dir.path) == true, "\(error?.message ?? "")")
    }
}
