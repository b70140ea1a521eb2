import Foundation
import Offramp

/// The tiny models and data sets the suites share: a random BERT directory,
/// learnable classification examples and tagged sentences, and multi-exit
/// models briefly trained on them so their exits differ.
enum TestModels {
    static let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + (0..<35).map { "w\($0)" }

    /// A tiny pretrained-looking directory: random 2-layer BERT (or another
    /// family's encoder: ELECTRA's with 8-wide embeddings) + vocab.
    static func tinyPretrained(layers: Int = 2, family: ModelFamily = .bert) throws -> URL {
        let dir = try TestSupport.temporaryDirectory()
        var c = BertConfig()
        c.family = family
        if family == .electra { c.embeddingSize = 8 }
        c.vocabSize = vocabulary.count; c.hiddenSize = 16; c.numHiddenLayers = layers; c.numAttentionHeads = 2
        c.intermediateSize = 24; c.maxPositionEmbeddings = 16
        c.initializerRange = 0.2  // larger weights: gradients well above Float noise
        let encoder = try BertEncoder(randomWeights: c, seed: 7)
        var w = SafeTensorsWriter()
        for e in encoder.parameters.entries {
            try w.add(e.name, shape: e.shape, floats: Array(UnsafeBufferPointer(start: encoder.parameters[e.name], count: e.count)))
        }
        try w.write(to: dir.appendingPathComponent("model.safetensors"))
        try c.save(to: dir.appendingPathComponent("config.json"))
        try (vocabulary.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        return dir
    }

    /// Larger head weights, so every path carries a gradient well above Float noise.
    static func enlargeHeadWeights(_ model: MultiExitModel) {
        var rng = SeededRandom(seed: 11)
        for e in model.store.entries where e.name.hasPrefix("exits.") {
            let p = model.store[e.name]
            for i in 0..<e.count { p[i] = rng.nextNormal() * 0.3 }
        }
    }

    /// 24 sequences whose label is decided by a token: learnable in a few epochs.
    static func classificationExamples() -> [EncodedExample] {
        (0..<24).map { i in
            let label = Int32(i % 2)
            let marker: Int32 = label == 0 ? 10 : 20
            let ids: [Int32] = [2] + (0..<(3 + i % 4)).map { Int32(5 + ($0 * 7 + i) % 30) } + [marker, 3]
            return EncodedExample(ids: ids, typeIds: ids.map { _ in 0 }, queryPositions: [0], labels: [label])
        }
    }

    /// A tiny 4-layer multi-exit classifier, briefly trained so exits differ.
    static func trainedClassifier() throws -> (MultiExitModel, [EncodedExample], URL) {
        let dir = try tinyPretrained(layers: 4)
        let model = try MultiExitModel.create(pretrained: dir, settings: ExitSettings(
            task: .classify, labels: ["neg", "pos"], head: .linear, pooling: .mean, exits: [1, 2, 3, 4]), seed: 3)
        var o = TrainingOptions()
        o.epochs = 3; o.batchSize = 6; o.learningRate = 3e-3; o.showProgress = false
        let data = classificationExamples()
        try Trainer(model: model, options: o).run(train: data, dev: [], out: dir.appendingPathComponent("trained"), log: { _ in })
        return (model, data + data.map { var e = $0; e.ids.insert(7, at: 1); e.typeIds.insert(0, at: 1); return e }, dir)
    }

    /// The tag set of `taggedSentences`.
    static let tags = ["A", "B", "C"]

    /// Sentences of words of one or two pieces; a word's tag follows its
    /// first piece's id, with a context-dependent twist so exits disagree.
    static func taggedSentences(count: Int = 30, seed: UInt64 = 1) -> [EncodedExample] {
        var rng = SeededRandom(seed: seed)
        return (0..<count).map { _ in
            var ids: [Int32] = [2], positions: [Int] = [], labels: [Int32] = [], rowWords: [Int32] = [-1]
            let words = 3 + Int(rng.next() % 6)
            var previous: Int32 = 0
            for w in 0..<words {
                let first = Int32(5 + rng.next() % 35)
                positions.append(ids.count)
                ids.append(first); rowWords.append(Int32(w))
                labels.append(Int32((Int(first) + (previous % 4 == 0 ? 1 : 0)) % 3))
                if rng.next() % 3 == 0 { ids.append(Int32(5 + rng.next() % 35)); rowWords.append(Int32(w)) }
                previous = first
            }
            ids.append(3); rowWords.append(-1)
            return EncodedExample(ids: ids, typeIds: ids.map { _ in 0 }, queryPositions: positions, labels: labels, rowWords: rowWords)
        }
    }

    /// A 4-layer labeling model, briefly trained jointly so its exits differ.
    static func trainedTagger(head: HeadKind = .linear) throws -> (MultiExitModel, [EncodedExample], URL) {
        let dir = try tinyPretrained(layers: 4)
        var settings = ExitSettings(task: .label, labels: tags, head: head, exits: [1, 2, 3, 4])
        settings.fastbertWidth = 8
        let model = try MultiExitModel.create(pretrained: dir, settings: settings, seed: 3)
        var o = TrainingOptions()
        o.epochs = 4; o.batchSize = 6; o.learningRate = 3e-3; o.showProgress = false
        let data = taggedSentences()
        try Trainer(model: model, options: o).run(train: data, dev: [], out: dir.appendingPathComponent("trained"), log: { _ in })
        return (model, data, dir)
    }
}
