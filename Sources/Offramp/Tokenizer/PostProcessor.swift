// MARK: - Template

/// HF's TemplateProcessing: where the special tokens go around one sequence (A) or
/// a pair (A, B), and which segment id (`token_type_id`) each part gets.
struct PostProcessorTemplate: Sendable, Equatable {
    enum Item: Sendable, Equatable {
        case special(ids: [Int32], typeId: Int32)
        /// `second`: sequence B of a pair.
        case sequence(second: Bool, typeId: Int32)
    }

    var single: [Item]
    var pair: [Item]

    /// BERT's: `[CLS] A [SEP]` and `[CLS] A [SEP] B [SEP]`, B's part with segment 1.
    static func bert(cls: Int32, sep: Int32) -> PostProcessorTemplate {
        PostProcessorTemplate(
            single: [.special(ids: [cls], typeId: 0), .sequence(second: false, typeId: 0), .special(ids: [sep], typeId: 0)],
            pair: [.special(ids: [cls], typeId: 0), .sequence(second: false, typeId: 0), .special(ids: [sep], typeId: 0),
                   .sequence(second: true, typeId: 1), .special(ids: [sep], typeId: 1)]
        )
    }

    /// Number of special tokens the template adds (HF's `num_special_tokens_to_add`).
    func addedCount(pair isPair: Bool) -> Int {
        (isPair ? pair : single).reduce(0) { sum, item in
            if case let .special(ids, _) = item { return sum + ids.count }
            return sum
        }
    }

    // MARK: Assembly

    /// Truncates `a` (and `b`) so the result fits `maxLength`, then lays them out.
    func encode(_ a: PieceSequence, _ b: PieceSequence?, maxLength: Int?) throws -> Encoding {
        var a = a, b = b
        var truncated = false
        if let maxLength {
            let added = addedCount(pair: b != nil)
            guard maxLength >= added else {
                throw OfframpError("maxLength \(maxLength) is too small: the \(b == nil ? "single" : "pair") template alone adds \(added) special tokens")
            }
            truncated = Self.truncateLongestFirst(&a, &b, to: maxLength - added)
        }

        var out = Encoding(ids: [], typeIds: [], wordIds: [], sequenceIds: [], offsets: [], truncated: truncated)
        let total = a.count + (b?.count ?? 0) + addedCount(pair: b != nil)
        out.ids.reserveCapacity(total)
        out.typeIds.reserveCapacity(total)
        out.wordIds.reserveCapacity(total)
        out.sequenceIds.reserveCapacity(total)
        out.offsets.reserveCapacity(total)
        for item in b == nil ? single : pair {
            switch item {
            case let .special(ids, typeId):
                for id in ids {
                    out.ids.append(id)
                    out.typeIds.append(typeId)
                    out.wordIds.append(-1)
                    out.sequenceIds.append(-1)
                    out.offsets.append(0..<0)
                }
            case let .sequence(second, typeId):
                // A pair template used for a single input has no B: skip it, as HF does.
                guard let seq = second ? b : a else { continue }
                out.ids.append(contentsOf: seq.ids)
                out.typeIds.append(contentsOf: repeatElement(typeId, count: seq.count))
                out.wordIds.append(contentsOf: seq.wordIds)
                out.sequenceIds.append(contentsOf: repeatElement(second ? 1 : 0, count: seq.count))
                out.offsets.append(contentsOf: seq.offsets)
            }
        }
        return out
    }

    // MARK: Truncation

    /// HF `tokenizers`' `truncate_encodings` with `LongestFirst`, stride 0, right
    /// side: a single sequence is cut to `budget`. In a pair, the shorter sequence
    /// keeps all it has if the longer one can take the rest; otherwise the shorter
    /// gets `budget / 2` and the longer `budget / 2 + budget % 2`. Tokens go from
    /// the end of each sequence.
    static func truncateLongestFirst(_ a: inout PieceSequence, _ b: inout PieceSequence?, to budget: Int) -> Bool {
        guard var second = b else { return a.truncate(to: budget) }
        guard a.count + second.count > budget else { return false }
        var n1 = a.count, n2 = second.count
        let swapped = n1 > n2
        if swapped { swap(&n1, &n2) }
        if n1 > budget {
            n2 = n1
        } else {
            n2 = max(n1, budget - n1)
        }
        if n1 + n2 > budget {
            n1 = budget / 2
            n2 = n1 + budget % 2
        }
        if swapped { swap(&n1, &n2) }
        let cutA = a.truncate(to: n1)
        let cutB = second.truncate(to: n2)
        b = second
        return cutA || cutB
    }
}
