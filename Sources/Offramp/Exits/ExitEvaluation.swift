// MARK: - Every exit's predictions at full depth (evaluation, distillation teachers)

extension MultiExitModel {
    /// Runs the whole encoder on `batch` and returns, for each exit (in
    /// `settings.exits` order), its logits (Q, N) for the batch's query rows.
    public func allExitLogits(_ batch: ExampleBatch) throws -> [[Float]] {
        try encoder.validate(batch.tokens)
        let h = config.hiddenSize, t = batch.tokens.tokenCount, n = labels.count, q = batch.input.queryCount
        let x = workspace.buffer("eval.x", count: t * h)
        encoder.embed(batch.tokens, into: x)
        let active = ActiveSet(batch.tokens)
        var out: [[Float]] = []
        var next = 0
        for l in 1...layerCount {
            encoder.layerStep(l - 1, x, active: active)
            while next < heads.count && heads[next].layer == l {
                var logits = [Float](repeating: 0, count: q * n)
                logits.withUnsafeMutableBufferPointer {
                    heads[next].forward(x, input: batch.input, logits: $0.baseAddress!, workspace: workspace)
                }
                out.append(logits)
                next += 1
            }
        }
        return out
    }

    /// Accuracy of every exit on labeled examples (label -1 rows are skipped),
    /// batched `batchSize` at a time: one value per exit, in [0, 1].
    public func exitAccuracies(_ examples: [EncodedExample], batchSize: Int = 32) throws -> [Double] {
        var correct = [Int](repeating: 0, count: heads.count), total = 0
        let n = labels.count
        for start in stride(from: 0, to: examples.count, by: batchSize) {
            let batch = ExampleBatch(Array(examples[start ..< min(start + batchSize, examples.count)]))
            let logits = try allExitLogits(batch)
            for (r, gold) in batch.labels.enumerated() where gold >= 0 {
                if logits.isEmpty { break }
                for e in heads.indices {
                    var best = 0
                    for c in 1..<n where logits[e][r * n + c] > logits[e][r * n + best] { best = c }
                    if best == Int(gold) { correct[e] += 1 }
                }
                total += 1
            }
        }
        return correct.map { total > 0 ? Double($0) / Double(total) : 0 }
    }
}
