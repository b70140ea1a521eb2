import Foundation
import Hummingbird
import Offramp

// MARK: - The body of POST /v1/classify and /v1/label

/// A parsed, checked request body:
///
/// ```json
/// {"texts": ["A gorgeous, witty film."], "policy": "entropy", "threshold": 0.3, "truncate": true}
/// ```
///
/// `texts` is required (1 to `maxTexts` strings; for /v1/label each is a
/// sentence of white-space separated words). For a sentence-pair task
/// (/v1/classify only) each item may be a pair `["premise", "hypothesis"]`,
/// or `text_pair` gives the second texts, one per text, as HF's pipeline
/// takes them: `{"texts": ["a"], "text_pair": ["b"]}`. `policy` and its settings
/// (`threshold`, `patience`, `layer`, `window`) are optional: without
/// `policy` the model's calibrated policy is used. `truncate` (default true)
/// cuts texts longer than the token limit; false makes them an error.
struct InferenceRequest {
    /// The policy settings a body may give: every `ExitPolicy.Setting`.
    static let policySettings = ExitPolicy.Setting.allCases
    static let fields = Set(["texts", "text_pair", "policy", "truncate"] + policySettings.map(\.rawValue))

    var texts: [String]
    /// The second text of each input, when the request is of sentence pairs (as long as `texts`).
    var pairs: [String]?
    /// nil: the model's default.
    var policy: ExitPolicy?
    var truncate = true

    /// Parses `body`; errors are 400 (not JSON, wrong types, unknown fields),
    /// 413 (too many texts) or 422 (a policy that does not exist or does
    /// not fit the model), each with a message naming the field.
    static func parse(_ body: Data, layers: Int, maxTexts: Int) throws -> InferenceRequest {
        let root: JSONValue
        do {
            root = try JSONValue.parse(body)
        } catch let e as OfframpError {
            throw HTTPError(.badRequest, message: "the body is not valid JSON: \(e.message)")
        }
        guard let fields = root.objectValue else {
            throw HTTPError(.badRequest, message: "the body must be a JSON object like {\"texts\": [\"...\"]}")
        }
        let unknown = Set(fields.keys).subtracting(Self.fields).sorted()
        guard unknown.isEmpty else {
            throw HTTPError(.badRequest, message: "unknown field \(unknown.map { "\"\($0)\"" }.joined(separator: ", ")) (fields: \(Self.fields.sorted().joined(separator: ", ")))")
        }
        guard let rawTexts = fields["texts"] else { throw HTTPError(.badRequest, message: "missing field \"texts\" (an array of strings)") }
        let shape = "an array of strings or of [text, text_pair] pairs"
        guard let items = rawTexts.arrayValue else { throw HTTPError(.badRequest, message: "field \"texts\" must be \(shape)") }
        var texts: [String] = [], itemPairs: [String] = []
        for (i, item) in items.enumerated() {
            if let text = item.stringValue {
                texts.append(text)
            } else if let pair = item.arrayValue, pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue {
                texts.append(a)
                itemPairs.append(b)
            } else {
                throw HTTPError(.badRequest, message: "texts[\(i)] must be a string or a pair [text, text_pair] of strings")
            }
        }
        guard itemPairs.isEmpty || itemPairs.count == texts.count else {
            throw HTTPError(.badRequest, message: "field \"texts\" mixes single texts and pairs; send all of one kind")
        }
        guard !texts.isEmpty else { throw HTTPError(.badRequest, message: "field \"texts\" is empty") }
        guard texts.count <= maxTexts else {
            throw HTTPError(.contentTooLarge, message: "\(texts.count) texts in one request; the limit is \(maxTexts)")
        }
        var request = InferenceRequest(texts: texts, pairs: itemPairs.isEmpty ? nil : itemPairs)
        if let raw = fields["text_pair"] {
            guard request.pairs == nil else {
                throw HTTPError(.badRequest, message: "field \"text_pair\" given with pairs in \"texts\"; use one or the other")
            }
            let second = raw.arrayValue?.compactMap(\.stringValue) ?? []
            guard let list = raw.arrayValue, second.count == list.count else {
                throw HTTPError(.badRequest, message: "field \"text_pair\" must be an array of strings")
            }
            guard second.count == texts.count else {
                throw HTTPError(.badRequest, message: "field \"text_pair\" has \(second.count) texts for \(texts.count) in \"texts\"")
            }
            request.pairs = second
        }
        if let t = fields["truncate"] {
            guard let b = t.boolValue else { throw HTTPError(.badRequest, message: "field \"truncate\" must be true or false") }
            request.truncate = b
        }
        var numbers: [ExitPolicy.Setting: Double] = [:]
        for setting in Self.policySettings {
            let key = setting.rawValue
            guard let v = fields[key] else { continue }
            guard let d = v.doubleValue else { throw HTTPError(.badRequest, message: "field \"\(key)\" must be a number") }
            guard !setting.isInteger || (d == d.rounded() && abs(d) < 1e9) else {
                throw HTTPError(.badRequest, message: "field \"\(key)\" must be an integer")
            }
            numbers[setting] = d
        }
        guard let rawPolicy = fields["policy"] else {
            guard numbers.isEmpty else {
                throw HTTPError(.badRequest, message: "\(numbers.keys.map(\.rawValue).sorted().joined(separator: ", ")) given without \"policy\"")
            }
            return request
        }
        guard let name = rawPolicy.stringValue else { throw HTTPError(.badRequest, message: "field \"policy\" must be a string") }
        do {
            request.policy = try ExitPolicy.parse(name, threshold: numbers[.threshold], patience: numbers[.patience].map { Int($0) },
                                                  layer: numbers[.layer].map { Int($0) }, window: numbers[.window].map { Int($0) },
                                                  layers: layers, optionPrefix: "")
        } catch let e as OfframpError {
            throw HTTPError(.unprocessableContent, message: e.message)
        }
        return request
    }
}
