// MARK: - The normalizers of SentencePiece-style tokenizers

/// The normalizer section of a Unigram tokenizer.json: null, one of `Precompiled`,
/// `Replace`, `Strip`, or a `Sequence` of them (nested sequences flattened), as
/// transformers writes them for XLM-R, multilingual e5 and its generic
/// SentencePiece converter. Consecutive Replace steps are composed into one
/// `ReplaceNormalizer`.
struct UnigramNormalizer: Sendable {
    enum Step: Sendable {
        case precompiled(PrecompiledNormalizer)
        case replace(ReplaceNormalizer)
        /// HF's `Strip`: leading / trailing whitespace (White_Space) removed.
        case strip(left: Bool, right: Bool)
    }

    private(set) var steps: [Step]

    /// Normalizes `input[range]` into `out` (emptied first), each output scalar
    /// keeping the input index HF aligns it with.
    func normalize(_ input: [UInt32], _ range: Range<Int>, into out: inout NormalizedText, scratch: inout NormalizedText) {
        out.removeAll()
        for i in range { out.append(input[i], from: i) }
        for step in steps {
            switch step {
            case let .precompiled(p): p.normalize(&out, scratch: &scratch)
            case let .replace(r): r.apply(to: &out, scratch: &scratch)
            case let .strip(left, right): Self.strip(&out, left: left, right: right, scratch: &scratch)
            }
        }
    }

    /// The kept characters keep their origins (HF's `lrstrip`).
    private static func strip(_ text: inout NormalizedText, left: Bool, right: Bool, scratch: inout NormalizedText) {
        var lower = 0, upper = text.count
        if left { while lower < upper && AddedTokenMatcher.isWhitespace(text.scalars[lower]) { lower += 1 } }
        if right { while upper > lower && AddedTokenMatcher.isWhitespace(text.scalars[upper - 1]) { upper -= 1 } }
        guard lower > 0 || upper < text.count else { return }
        scratch.removeAll()
        for i in lower..<upper { scratch.append(text.scalars[i], from: text.origins[i]) }
        swap(&text, &scratch)
    }
}

// MARK: - Reading tokenizer.json

extension UnigramNormalizer {
    /// The normalizer at `field`; anything but the supported types is refused
    /// with an error naming its JSON path.
    static func parse(_ node: TokenizerJSON, field: String, _ fail: (String) -> OfframpError) throws -> UnigramNormalizer {
        var steps: [Step] = []
        var replaces = ReplaceNormalizer.Builder()
        func flush() {
            guard !replaces.isEmpty else { return }
            steps.append(.replace(replaces.build()))
            replaces = ReplaceNormalizer.Builder()
        }
        func add(_ node: TokenizerJSON, field: String) throws {
            let type = node["type"]?.string ?? "(none)"
            switch type {
            case "Sequence":
                guard let list = node["normalizers"]?.array else { throw fail("\(field).normalizers must be a list") }
                for (i, item) in list.enumerated() { try add(item, field: "\(field).normalizers[\(i)]") }
            case "Replace":
                try replaces.addReplace(node, field: field, fail)
            case "Precompiled":
                guard let text = node["precompiled_charsmap"]?.string else {
                    throw fail("\(field).precompiled_charsmap must be a base64 string")
                }
                flush()
                steps.append(.precompiled(try PrecompiledNormalizer(base64: text) { fail("\(field).precompiled_charsmap \($0)") }))
            case "Strip":
                func flag(_ key: String) throws -> Bool {
                    guard let v = node[key], !v.isNull else { return true }
                    guard let b = v.bool else { throw fail("\(field).\(key) must be true or false") }
                    return b
                }
                let left = try flag("strip_left"), right = try flag("strip_right")
                flush()
                steps.append(.strip(left: left, right: right))
            default:
                throw fail("\(field).type is \(type); only Precompiled, Replace, Strip and Sequence are supported with a Unigram model")
            }
        }
        try add(node, field: field)
        flush()
        return UnigramNormalizer(steps: steps)
    }
}
