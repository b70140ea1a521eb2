// MARK: - Every exit's predictions at full depth (evaluation, distillation teachers)

extension MultiExitModel {
    /// Runs the whole encoder on `batch` and returns, for each exit (in
    /// `settings.exits` order), its logits (Q, N) for the batch's query rows.
    /// PoWER-BERT models eliminate word-vectors as `retention` says.
    public func allExitLogits(_ batch: ExampleBatch, retention: WordVectorRetention = .saved) throws -> [[Float]] {
        try encoder.validate(batch.tokens)
        let elimination = try resolve(retention)
        let h = config.hiddenSize, t = batch.tokens.tokenCount, n = labels.count, q = batch.input.queryCount
        let x = workspace.buffer("eval.x", count: t * h)
        encoder.embed(batch.tokens, into: x)
        var out: [[Float]] = []
        var next = 0
        encoder.forward(x, from: ActiveSet(batch.tokens), plan: elimination) { l, layout in
            // After an extract each sequence predicts at its [CLS] row of the packed layout.
            let input = elimination == nil ? batch.input : .sequences(starts: layout.starts, lengths: layout.lengths)
            while next < heads.count && heads[next].layer == l {
                var logits = [Float](repeating: 0, count: q * n)
                logits.withUnsafeMutableBufferPointer {
                    heads[next].forward(x, input: input, logits: $0.baseAddress!, activations: headScratch, workspace: workspace)
                }
                out.append(logits)
                next += 1
            }
        }
        return out
    }

    /// Every exit's predicted label index for every query row of `examples`
    /// (per exit, per example, per query position), batched `batchSize` at a time.
    public func exitPredictions(_ examples: [EncodedExample], batchSize: Int = 32,
                                retention: WordVectorRetention = .saved) throws -> [[[Int]]] {
        var out = [[[Int]]](repeating: [], count: heads.count)
        let n = labels.count
        guard batchSize > 0 else { throw OfframpError("the batch size must be positive, got \(batchSize)") }
        for start in stride(from: 0, to: examples.count, by: batchSize) {
            let chunk = Array(examples[start ..< min(start + batchSize, examples.count)])
            let logits = try allExitLogits(ExampleBatch(chunk), retention: retention)
            for e in heads.indices {
                var row = 0
                for ex in chunk {
                    out[e].append(ex.queryPositions.indices.map { k in
                        let base = (row + k) * n
                        var best = 0
                        for c in 1..<n where logits[e][base + c] > logits[e][base + best] { best = c }
                        return best
                    })
                    row += ex.queryPositions.count
                }
            }
        }
        return out
    }

    /// Every exit's accuracy and, for BIO label sets, its entity counts, from
    /// one pass over `examples`.
    public func exitScores(_ examples: [EncodedExample], batchSize: Int = 32,
                           retention: WordVectorRetention = .saved) throws -> (accuracy: [Double], entityF1: [EntityCounts]?) {
        let predicted = try exitPredictions(examples, batchSize: batchSize, retention: retention)
        return (accuracies(predicted, examples), entityCounts(predicted, examples))
    }

    private func accuracies(_ predictions: [[[Int]]], _ examples: [EncodedExample]) -> [Double] {
        predictions.map { predicted in
            var correct = 0, total = 0
            for (p, ex) in zip(predicted, examples) {
                for (guess, gold) in zip(p, ex.labels) where gold >= 0 {
                    total += 1
                    if guess == Int(gold) { correct += 1 }
                }
            }
            return total > 0 ? Double(correct) / Double(total) : 0
        }
    }

    private func entityCounts(_ predictions: [[[Int]]], _ examples: [EncodedExample]) -> [EntityCounts]? {
        guard settings.task == .label, EntityF1.isBIO(labels) else { return nil }
        let gold = examples.map { $0.labels.map { $0 >= 0 ? labels[Int($0)] : "O" } }
        return predictions.map { predicted in
            EntityF1.score(gold: gold, predicted: predicted.map { $0.map { labels[$0] } }).overall
        }
    }
}
