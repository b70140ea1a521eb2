import Foundation
import Offramp
import Testing

/// MiniLM-L6 against HF transformers (fp32), through the fixture that
/// scripts/fixtures/dump_encoder.py wrote: hidden states after the embeddings
/// and after every layer for 56 real MR sentences of mixed lengths.
@Suite(.serialized) struct EncoderNumericsTests {
    static let modelDirectory = TestSupport.cached("models/minilm-l6")

    struct Reference {
        let file: SafeTensorsFile
        let ids: [[Int32]]
        let maxAbs: [Float]
        let proj: [Float]  // (384, 8)

        init() throws {
            let file = try SafeTensorsFile(url: TestSupport.fixture("encoder/minilm_reference.safetensors"))
            self.file = file
            let n = try file.integers("lengths").count
            ids = try (0..<n).map { i in try file.integers("s\(i).ids").map { Int32($0) } }
            maxAbs = try file.floats("maxabs")
            proj = try file.floats("proj")
        }
    }

    /// Runs the reference sentences in packed batches of 8 and returns, per
    /// sentence, the outputs.
    static func runAll(_ encoder: BertEncoder, _ ids: [[Int32]]) throws -> [(EncoderOutput, Int)] {
        var results: [(EncoderOutput, Int)] = []
        for start in stride(from: 0, to: ids.count, by: 8) {
            let out = try encoder(PackedBatch(ids: Array(ids[start ..< min(start + 8, ids.count)])), hiddenStates: true)
            for s in 0..<out.batch.sequenceCount { results.append((out, s)) }
        }
        return results
    }

    @Test func hiddenStatesMatchHFWithin1e4OfLayerScale() throws {
        let ref = try Reference()
        #expect(ref.ids.count >= 50)
        let encoder = try BertEncoder.load(directory: Self.modelDirectory)
        let results = try Self.runAll(encoder, ref.ids)
        let h = encoder.config.hiddenSize
        var worst = [Float](repeating: 0, count: encoder.config.numHiddenLayers + 1)
        for (i, (out, s)) in results.enumerated() {
            for l in 0...encoder.config.numHiddenLayers {
                let dims = try ref.file.floats("s\(i).h\(l).dims")   // (n, 32)
                let projected = try ref.file.floats("s\(i).h\(l).proj")  // (n, 8)
                for t in 0..<ref.ids[i].count {
                    let row = out.row(out.hiddenStates[l], sequence: s, token: t)
                    for c in 0..<32 { worst[l] = max(worst[l], abs(row[c] - dims[t * 32 + c]) / ref.maxAbs[l]) }
                    for k in 0..<8 {
                        var v: Float = 0
                        for c in 0..<h { v += row[c] * ref.proj[c * 8 + k] }
                        worst[l] = max(worst[l], abs(v - projected[t * 8 + k]) / ref.maxAbs[l])
                    }
                }
            }
        }
        print("MiniLM-L6 vs HF, max abs error / layer max |value|, h0...h6: \(worst.map { String(format: "%.2e", $0) })")
        for (l, w) in worst.enumerated() {
            #expect(w < 1e-4, "hidden state \(l): max abs error relative to the layer's max |value| is \(w)")
        }
    }

    @Test func meanPooledEmbeddingsAndPairCosineMatchHF() throws {
        let ref = try Reference()
        let encoder = try BertEncoder.load(directory: Self.modelDirectory)
        let results = try Self.runAll(encoder, ref.ids)
        for (i, (out, s)) in results.enumerated() {
            let want = try ref.file.floats("s\(i).mean")
            let got = out.pooled(s, .mean)
            let err = zip(got, want).map { abs($0 - $1) }.max()!
            #expect(err < 1e-4, "sentence \(i): mean-pooled max abs error \(err)")
        }
        // "A man is eating food." / "A man is eating a piece of bread.", from HF's ids.
        let a = try ref.file.integers("pair.a.ids").map { Int32($0) }, b = try ref.file.integers("pair.b.ids").map { Int32($0) }
        let out = try encoder(PackedBatch(ids: [a, b]))
        let hfCosine = try ref.file.floats("pair.cosine")[0]
        let cosine = cosineSimilarity(out.pooled(0, .mean), out.pooled(1, .mean))
        #expect(abs(cosine - hfCosine) < 5e-5, "cosine \(cosine) vs HF \(hfCosine)")
        #expect(String(format: "%.4f", cosine) == String(format: "%.4f", hfCosine))
    }

    @Test func packedBatchEqualsOneAtATime() throws {
        let ref = try Reference()
        let encoder = try BertEncoder.load(directory: Self.modelDirectory)
        let ids = Array(ref.ids.prefix(6))
        let batched = try encoder(PackedBatch(ids: ids))
        for (s, seq) in ids.enumerated() {
            let alone = try encoder(PackedBatch(ids: [seq]))
            for t in 0..<seq.count {
                let a = batched.row(batched.lastHidden, sequence: s, token: t)
                let b = alone.row(alone.lastHidden, sequence: 0, token: t)
                #expect(zip(a, b).allSatisfy { abs($0 - $1) < 1e-5 })
            }
        }
    }

    /// A layer step whose queries are a subset (halted rows stay keys and
    /// values) equals the naive reference: run every row, then put the halted
    /// rows back to their old states.
    @Test func querySubsetStepEqualsFullStepWithHaltedRowsRestored() throws {
        let ref = try Reference()
        let encoder = try BertEncoder.load(directory: Self.modelDirectory)
        let batch = PackedBatch(ids: Array(ref.ids.prefix(4)))
        let h = encoder.config.hiddenSize
        let x0 = FloatBuffer(count: batch.tokenCount * h)
        encoder.embed(batch, into: x0.pointer)
        encoder.step(0, x0.pointer, active: ActiveSet(batch))  // some realistic layer-1 states
        let isQuery: (Int) -> Bool = { $0 % 3 != 1 }
        let full = FloatBuffer(x0.array), partial = FloatBuffer(x0.array)
        encoder.step(1, full.pointer, active: ActiveSet(batch))
        encoder.step(1, partial.pointer, active: ActiveSet(starts: batch.starts, lengths: batch.lengths, isQuery: isQuery))
        for r in 0..<batch.tokenCount {
            for c in 0..<h {
                let want = isQuery(r) ? full[r * h + c] : x0[r * h + c]
                #expect(abs(partial[r * h + c] - want) < 1e-5)
            }
        }
    }

    /// A batch of over 512 rows runs in groups of whole sequences: the same
    /// hidden states as each sentence alone, with every row a query and with
    /// a query subset (TOKEE's halted rows).
    @Test func largeBatchesRunInGroupsWithTheSameResult() throws {
        let ref = try Reference()
        let encoder = try BertEncoder.load(directory: Self.modelDirectory)
        let batch = PackedBatch(ids: ref.ids)
        #expect(batch.tokenCount > 1024, "several groups")
        let h = encoder.config.hiddenSize
        let isQuery: (Int) -> Bool = { $0 % 3 != 1 }
        for subset in [false, true] {
            let x = FloatBuffer(count: batch.tokenCount * h)
            encoder.embed(batch, into: x.pointer)
            let active = subset ? ActiveSet(starts: batch.starts, lengths: batch.lengths, isQuery: isQuery) : ActiveSet(batch)
            for l in 0..<3 { encoder.step(l, x.pointer, active: active) }
            for s in 0..<batch.sequenceCount {
                let one = PackedBatch(ids: [ref.ids[s]])
                let y = FloatBuffer(count: one.tokenCount * h)
                encoder.embed(one, into: y.pointer)
                let base = batch.starts[s]
                let alone = subset ? ActiveSet(starts: [0], lengths: one.lengths) { isQuery(base + $0) } : ActiveSet(one)
                for l in 0..<3 { encoder.step(l, y.pointer, active: alone) }
                let worst = (0..<(one.tokenCount * h)).reduce(Float(0)) { max($0, abs(x[base * h + $1] - y[$1])) }
                #expect(worst < 1e-3, "sequence \(s), query subset \(subset): \(worst)")
            }
        }
    }

    @Test func attentionProbabilitiesAreRowStochastic() throws {
        let ref = try Reference()
        let encoder = try BertEncoder.load(directory: Self.modelDirectory)
        let batch = PackedBatch(ids: Array(ref.ids.prefix(3)))
        let out = try encoder(batch, attentions: true)
        #expect(out.attentions.count == encoder.config.numHiddenLayers)
        for s in 0..<3 {
            let n = batch.lengths[s]
            for row in 0..<(encoder.config.numAttentionHeads * n) {
                let p = out.attentions[2].pointer + out.attentionOffsets[s] + row * n
                let sum = (0..<n).reduce(Float(0)) { $0 + p[$1] }
                #expect(abs(sum - 1) < 1e-5)
            }
        }
    }
}
