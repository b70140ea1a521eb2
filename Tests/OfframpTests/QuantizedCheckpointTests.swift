import Foundation
import Offramp
import Testing

/// Quantized checkpoints (`offramp quantize`, docs/cli.md#quantize): what is
/// saved is what load-time quantization computes, bit for bit; the file holds
/// I8 + F32 scales (or BF16) under the documented names; loading allocates no
/// fp32 copy of those weights; and what needs fp32 weights refuses it.
@Suite struct QuantizedCheckpointTests {
    static let available = int8KernelsAvailable && bf16KernelsAvailable

    static func batch() -> PackedBatch {
        let data = TestModels.classificationExamples()
        return PackedBatch(ids: data.map(\.ids), typeIds: data.map(\.typeIds))
    }

    /// Quantizes the model in `dir` (fp32) to `out` as `offramp quantize` does;
    /// returns the load-time quantized encoder it was written from.
    @discardableResult
    static func quantize(_ dir: URL, _ precision: Precision, smoothOn calibration: [PackedBatch] = [], to out: URL) throws -> BertEncoder {
        let config = try BertConfig.load(from: dir.appendingPathComponent("config.json"))
        let weights = try CheckpointWeights.open(directory: dir)
        let encoder = try BertEncoder.load(config: config, weights: weights)
        try encoder.prepare(precision: precision, smoothQuantOn: calibration)
        try encoder.writeQuantized(source: weights, config: config, sourceDirectory: dir,
                                   copying: BertEncoder.filesKeptWhenQuantizing(dir), to: out)
        return encoder
    }

    static func bits(_ b: FloatBuffer) -> [UInt32] { b.buffer.map(\.bitPattern) }

    @Test(.enabled(if: available), arguments: [(Precision.int8, false), (.int8, true), (.bf16, false)])
    func savedAndReloadedEqualsLoadTimeQuantization(_ precision: Precision, _ smooth: Bool) throws {
        let dir = try TestModels.tinyPretrained(layers: 2)
        defer { try? FileManager.default.removeItem(at: dir) }
        let batch = Self.batch(), out = dir.appendingPathComponent("q")
        let loadTime = try Self.quantize(dir, precision, smoothOn: smooth ? [batch] : [], to: out)
        #expect(loadTime.smoothed == smooth)
        let expected = try loadTime(batch).lastHidden
        // Load-time quantization of a fresh fp32 load gives the same (the written encoder is not special).
        let fresh = try BertEncoder.load(directory: dir)
        try fresh.prepare(precision: precision, smoothQuantOn: smooth ? [batch] : [])
        #expect(Self.bits(try fresh(batch).lastHidden) == Self.bits(expected))

        let reloaded = try BertEncoder.load(directory: out)
        #expect(reloaded.precision == precision && reloaded.smoothed == smooth)
        #expect(reloaded.savedQuantization == SavedQuantization(precision: precision, smoothing: smooth))
        #expect(Self.bits(try reloaded(batch).lastHidden) == Self.bits(expected), "\(precision) smooth \(smooth): bit for bit")
        // The same through TextEncoder (tokenizer copied), precision defaulting to the saved one.
        let text = try TextEncoder.load(directory: out)
        #expect(text.encoder.precision == precision)
        #expect(try text.embed(["w5 w6 w7"]) == (try TextEncoder.load(directory: dir, precision: precision).embed(["w5 w6 w7"]))
                || smooth, "embeddings equal (SmoothQuant's calibration differs there)")
    }

    @Test(.enabled(if: available)) func theFileHoldsI8WithScalesOrBF16UnderTheDocumentedNames() throws {
        let dir = try TestModels.tinyPretrained(layers: 2)
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = try BertConfig.load(from: dir.appendingPathComponent("config.json"))
        for (precision, smooth) in [(Precision.int8, true), (.int8, false), (.bf16, false)] {
            let out = dir.appendingPathComponent("q-\(precision)-\(smooth)")
            try Self.quantize(dir, precision, smoothOn: smooth ? [Self.batch()] : [], to: out)
            let file = try SafeTensorsFile(url: out.appendingPathComponent("model.safetensors"))
            let t = file.tensors
            let linears = (0..<2).flatMap { l in
                ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                 "intermediate.dense", "output.dense"].map { "encoder.layer.\(l).\($0)" }
            } + ["embeddings.word_embeddings"]
            for name in linears {
                let w = try #require(t[name + ".weight"], "\(name).weight")
                if precision == .int8 {
                    #expect(w.dtype == .i8)
                    #expect(t[name + ".weight_scale"]?.dtype == .f32 && t[name + ".weight_scale"]?.shape == [w.shape[0]], "\(name)")
                    let smoothed = smooth && name.hasPrefix("encoder.")
                    #expect((t[name + ".input_smoothing"]?.shape == [w.shape[1]]) == smoothed, "\(name).input_smoothing")
                } else {
                    #expect(w.dtype == .bf16 && t[name + ".weight_scale"] == nil, "\(name)")
                }
            }
            #expect(t["encoder.layer.0.intermediate.dense.weight"]?.shape == [c.intermediateSize, c.hiddenSize])
            for name in ["encoder.layer.0.attention.self.query.bias", "encoder.layer.1.output.LayerNorm.weight",
                         "embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight",
                         "embeddings.LayerNorm.bias", "pooler.dense.weight"] {
                #expect(t[name]?.dtype == .f32, "\(name) stays F32")
            }
            // The int8 values and scales are ck_s8_quantize's of the fp32 weight (per output channel).
            if precision == .int8 && !smooth {
                let fp32 = try SafeTensorsFile(url: dir.appendingPathComponent("model.safetensors"))
                let w = try fp32.floats("encoder.layer.1.output.dense.weight"), k = c.intermediateSize
                let q = try file.integers("encoder.layer.1.output.dense.weight"), s = try file.floats("encoder.layer.1.output.dense.weight_scale")
                for r in 0..<c.hiddenSize {
                    let m = w[(r * k)..<(r * k + k)].map(abs).max()!
                    #expect(s[r] == m / 127)
                    #expect((0..<k).allSatisfy { q[r * k + $0] == Int((w[r * k + $0] * (1 / s[r])).rounded(.toNearestOrEven)) })
                }
            }
            let saved = try BertConfig.load(from: out.appendingPathComponent("config.json"))
            #expect(saved.extra["offramp_quantization"] == .object([
                "precision": .string(precision.rawValue), "smoothing": .bool(smooth),
                "scheme": .string(precision == .int8 ? "symmetric-per-output-channel" : "round-to-nearest-even")]))
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("vocab.txt").path))
        }
    }

    @Test(.enabled(if: available)) func loadingAllocatesNoFP32CopyOfTheQuantizedWeights() throws {
        let dir = try TestModels.tinyPretrained(layers: 2)
        defer { try? FileManager.default.removeItem(at: dir) }
        let fp32 = try BertEncoder.load(directory: dir)
        let c = fp32.config, h = c.hiddenSize, i = c.intermediateSize
        let quantizedCount = c.vocabSize * h + c.numHiddenLayers * (4 * h * h + 2 * h * i)
        for precision in [Precision.int8, .bf16] {
            let out = dir.appendingPathComponent("q-\(precision)")
            try Self.quantize(dir, precision, to: out)
            let loaded = try BertEncoder.load(directory: out)
            #expect(loaded.parameters.storage.count == fp32.parameters.storage.count - quantizedCount)
            #expect(loaded.parameters.totalCount == loaded.parameters.storage.count)
            #expect(loaded.parameters.storedElsewhere.reduce(0) { $0 + $1.count } == quantizedCount)
            #expect(loaded.parameters.entry("encoder.layer.0.attention.self.query.weight") == nil)
            let bytesPerWeight = precision == .int8 ? 1 : 2
            #expect(loaded.packedWeightBytes >= bytesPerWeight * quantizedCount)
            #expect(loaded.packedWeightBytes < (bytesPerWeight + 1) * quantizedCount, "packed: the values, scales and padding only")
            #expect(loaded.residentWeightBytes == 4 * loaded.parameters.storage.count + loaded.packedWeightBytes)
        }
    }

    @Test(.enabled(if: available)) func existingOutIsRefusedAndAFailedWriteLeavesNone() throws {
        let dir = try TestModels.tinyPretrained(layers: 2)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("q")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: false)
        #expect(throws: OfframpError("\(out.path) already exists (it is not replaced)")) { try Self.quantize(dir, .int8, to: out) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).isEmpty, "left as it was")
        // A file to copy that is missing fails the write: no directory appears, no temporary one stays.
        let config = try BertConfig.load(from: dir.appendingPathComponent("config.json"))
        let weights = try CheckpointWeights.open(directory: dir)
        let encoder = try BertEncoder.load(config: config, weights: weights)
        try encoder.prepare(precision: .int8)
        let other = dir.appendingPathComponent("r")
        #expect(throws: (any Error).self) {
            try encoder.writeQuantized(source: weights, config: config, sourceDirectory: dir, copying: ["absent.txt"], to: other)
        }
        #expect(!FileManager.default.fileExists(atPath: other.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).allSatisfy { !$0.hasPrefix(".") })
    }

    @Test(.enabled(if: available)) func anotherPrecisionThanSavedIsAnError() throws {
        let dir = try TestModels.tinyPretrained(layers: 2)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("q")
        try Self.quantize(dir, .int8, to: out)
        let loaded = try BertEncoder.load(directory: out)
        #expect(try loaded.prepare(precision: .int8) == .int8)
        for other in [Precision.fp32, .bf16] {
            #expect(throws: OfframpError("the model is saved quantized in int8 and holds no fp32 weights: it runs in int8 only, not \(other)")) {
                try loaded.prepare(precision: other)
            }
        }
        #expect(throws: OfframpError.self) { try TextEncoder.load(directory: out, precision: .fp32) }
        #expect(throws: OfframpError.self) { try loaded.prepare(precision: .int8, smoothQuantOn: [Self.batch()]) }
    }

    /// A trained multi-exit classifier: quantized, it answers as load-time int8
    /// does, bit for bit; saving, export, training and quantizing it again refuse.
    @Test(.enabled(if: available)) func multiExitModelRoundTripsAndRefusesWhatNeedsFP32() throws {
        let (model, data, dir) = try TestModels.trainedClassifier()
        defer { try? FileManager.default.removeItem(at: dir) }
        let saved = dir.appendingPathComponent("saved"), out = dir.appendingPathComponent("q")
        try model.save(to: saved)
        try Self.quantize(saved, .int8, to: out)
        let reference = try EarlyExitRunner(model: MultiExitModel.load(directory: saved, precision: .int8))
        let quantized = try MultiExitModel.load(directory: out)
        #expect(quantized.encoder.precision == .int8 && quantized.settings == model.settings)
        let runner = try EarlyExitRunner(model: quantized)
        let a = try reference.run(data, policy: .entropy(0), batchSize: 8), b = try runner.run(data, policy: .entropy(0), batchSize: 8)
        #expect(a.results == b.results, "labels, probabilities, exit layers and FLOPs equal")

        let message = "\(out.path): saved quantized in int8 (offramp quantize) and holds no fp32 weights; "
        #expect(throws: OfframpError(message + "saving the whole model needs the fp32 model it was quantized from")) {
            try quantized.save(to: dir.appendingPathComponent("again"))
        }
        #expect(throws: OfframpError(message + "export hf needs the fp32 model it was quantized from")) {
            try quantized.exportHuggingFace(to: dir.appendingPathComponent("hf"))
        }
        var o = TrainingOptions()
        o.epochs = 1; o.showProgress = false
        #expect(throws: OfframpError(message + "training needs the fp32 model it was quantized from")) {
            try Trainer(model: quantized, options: o).run(train: data, dev: [], out: dir.appendingPathComponent("t"), log: { _ in })
        }
        #expect(throws: OfframpError(message + "training needs the fp32 model it was quantized from")) {
            _ = try MultiExitModel.create(pretrained: out, settings: model.settings, seed: 1)
        }
    }

    /// A tensor missing, or a scale tensor cut short, is an error naming it.
    @Test(.enabled(if: available), arguments: ["missing", "short", "dtype"])
    func aDamagedScaleTensorIsAnErrorNamingIt(_ damage: String) throws {
        let dir = try TestModels.tinyPretrained(layers: 2)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("q")
        try Self.quantize(dir, .int8, smoothOn: [Self.batch()], to: out)
        let url = out.appendingPathComponent("model.safetensors")
        let victim = "encoder.layer.1.attention.self.key.weight_scale"
        var writer = SafeTensorsWriter()
        do {
            let file = try SafeTensorsFile(url: url)
            for (name, info) in file.tensors {
                var bytes = try file.withRawBytes(of: name) { Data($0) }
                var shape = info.shape, dtype = info.dtype
                if name == victim {
                    switch damage {
                    case "missing": continue
                    case "short": bytes = bytes.dropLast(4); shape = [shape[0] - 1]
                    default: dtype = .i32
                    }
                }
                try writer.add(name, dtype: dtype, shape: shape, rawBytes: bytes)
            }
        }
        try writer.write(to: url)
        #expect {
            try BertEncoder.load(directory: out)
        } throws: { error in
            let m = (error as? OfframpError)?.message ?? ""
            return m.contains(victim) && m.contains(url.path)
        }
    }

    /// The command line: quantize, then run without --precision (the saved
    /// one), with a different one (usage error), and train from it (refused).
    @Test(.enabled(if: available)) func commandLine() throws {
        let dir = try TestModels.tinyPretrained(layers: 2)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("q")
        let texts = dir.appendingPathComponent("texts.txt")
        try "w5 w6 w7\nw8 w9\n".write(to: texts, atomically: true, encoding: .utf8)
        var r = try OfframpProcess.run(["quantize", "--model", dir.path, "--precision", "int8", "--smooth-quant", texts.path, "--out", out.path])
        #expect(r.status == 0, "\(r.transcript)")
        r = try OfframpProcess.run(["quantize", "--model", dir.path, "--precision", "int8", "--out", out.path])
        #expect(r.status == 2 && r.stderr.contains("--out"), "\(r.transcript)")
        r = try OfframpProcess.run(["quantize", "--model", out.path, "--precision", "int8", "--out", dir.appendingPathComponent("q2").path])
        #expect(r.status == 1 && r.stderr.contains("holds no fp32 weights"), "\(r.transcript)")
        let fp32Smooth = try OfframpProcess.run(["encode", "--model", dir.path, "--precision", "int8", "--smooth-quant", texts.path, "w5 w6"])
        let saved = try OfframpProcess.run(["encode", "--model", out.path, "w5 w6"])
        #expect(saved.status == 0 && saved.stdout == fp32Smooth.stdout, "\(saved.transcript)")
        r = try OfframpProcess.run(["encode", "--model", out.path, "--precision", "fp32", "w5 w6"])
        #expect(r.status == 2 && r.stderr.contains("--precision fp32") && r.stderr.contains("saved quantized in int8"), "\(r.transcript)")
        r = try OfframpProcess.run(["encode", "--model", out.path, "--smooth-quant", texts.path, "w5 w6"])
        #expect(r.status == 2 && r.stderr.contains("--smooth-quant"), "\(r.transcript)")
        r = try OfframpProcess.run(["info", out.path])
        #expect(r.status == 0 && r.stdout.contains("saved      int8"), "\(r.transcript)")
        let train = dir.appendingPathComponent("train.tsv")
        try "w5 w6\tneg\nw7 w8\tpos\n".write(to: train, atomically: true, encoding: .utf8)
        r = try OfframpProcess.run(["train", "--model", out.path, "--train", train.path, "--out", dir.appendingPathComponent("t").path])
        #expect(r.status == 1 && r.stderr.contains("training needs the fp32 model"), "\(r.transcript)")
    }
}
