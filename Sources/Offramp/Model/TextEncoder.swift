import Foundation

// MARK: - Texts in, vectors out: a tokenizer and an encoder together

/// A model directory loaded for use: its tokenizer, its encoder, and the
/// maximum length inputs are cut to.
public final class TextEncoder: @unchecked Sendable {
    public let directory: URL
    public let tokenizer: any TextTokenizer
    public let encoder: BertEncoder
    /// Tokens per text, [CLS] and [SEP] included.
    public private(set) var maxLength: Int

    public init(directory: URL, tokenizer: any TextTokenizer, encoder: BertEncoder, maxLength: Int) {
        self.directory = directory
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.maxLength = maxLength
    }

    /// Loads config.json, model.safetensors and the tokenizer (tokenizer.json
    /// when present, WordPiece or Unigram, else vocab.txt). The maximum length is
    /// sentence-transformers' max_seq_length when the directory has one, else
    /// the model's max_position_embeddings. `precision`: the layers' products
    /// (`BertEncoder.prepare(precision:)`); nil: a quantized checkpoint's saved one, else fp32.
    public static func load(directory: URL, precision: Precision? = nil) throws -> TextEncoder {
        let encoder = try BertEncoder.load(directory: directory)
        try encoder.prepare(precision: precision ?? encoder.precision)
        let tokenizer = try Tokenizers.load(directory: directory)
        var maxLength = encoder.config.maxTokens
        let st = directory.appendingPathComponent("sentence_bert_config.json")
        if let data = FileManager.default.contents(atPath: st.path),
           let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let m = obj["max_seq_length"] as? Int, m > 2 {
            maxLength = min(m, maxLength)
        }
        return TextEncoder(directory: directory, tokenizer: tokenizer, encoder: encoder, maxLength: maxLength)
    }

    public func setMaxLength(_ n: Int) throws {
        guard n >= 2, n <= encoder.config.maxTokens else {
            throw OfframpError("max length \(n) must be between 2 and \(encoder.config.maxTokensDescription)")
        }
        maxLength = n
    }

    /// Tokenizes `texts`. An empty (or all-whitespace) text is an error naming
    /// its 1-based position (`firstIndex` offsets it, for chunks of a longer
    /// list); so is an over-long text when `truncate` is false.
    public func tokenize(_ texts: [String], truncate: Bool = true, firstIndex: Int = 0) throws -> [Encoding] {
        try texts.enumerated().map { i, text in
            try requireNonBlank(text, position: firstIndex + i + 1)
            let e = try tokenizer.encode(text, pair: nil, maxLength: maxLength)
            if e.truncated && !truncate {
                let full = try tokenizer.encode(text, pair: nil, maxLength: nil)
                throw OfframpError("text \(firstIndex + i + 1) has \(full.ids.count) tokens, more than the maximum length \(maxLength)")
            }
            return e
        }
    }

    /// Pooled embeddings of `texts`, computed `batchSize` at a time.
    public func embed(_ texts: [String], pooling: Pooling = .mean, batchSize: Int = 32) throws -> [[Float]] {
        var out: [[Float]] = []
        var start = 0
        while start < texts.count {
            let chunk = Array(texts[start ..< min(start + batchSize, texts.count)])
            let result = try encoder(PackedBatch(encodings: try tokenize(chunk, firstIndex: start)))
            for i in chunk.indices { out.append(result.pooled(i, pooling)) }
            start += batchSize
        }
        return out
    }
}

/// An empty or all-whitespace input text is an error naming its 1-based position.
func requireNonBlank(_ text: String, position: Int) throws {
    if text.unicodeScalars.allSatisfy({ $0.properties.isWhitespace }) {
        throw OfframpError("text \(position) is empty")
    }
}
