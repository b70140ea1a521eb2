import Foundation

// MARK: - Labeled text for sequence classification

/// One example for sequence (or sentence-pair) classification.
public struct LabeledText: Sendable, Equatable {
    public var text: String
    /// The second text of a pair task (entailment, paraphrase), if any.
    public var pair: String?
    /// The class; nil for unlabeled text, which distillation learns from.
    public var label: String?
    /// The 1-based line of the file the example starts on, for messages.
    public var line: Int

    public init(text: String, pair: String? = nil, label: String?, line: Int = 0) {
        self.text = text
        self.pair = pair
        self.label = label
        self.line = line
    }
}

/// Reading and writing classification data files.
public enum ClassificationData {
    /// Loads examples, the format chosen by extension:
    /// - `.tsv`: `label<TAB>text[<TAB>pair]`
    /// - `.csv`: RFC 4180 (quoted fields may hold commas, quotes as `""`, and
    ///   line breaks); columns `label,text[,pair]`
    /// - `.jsonl`: one object a line, `{"text": ..., "label": ..., "text_pair": ...}`,
    ///   the label a string or an integer, `text_pair` optional
    /// - `.txt`: one unlabeled text a line
    ///
    /// A first line `label<TAB>text` / `label,text` is a header and skipped;
    /// blank lines are skipped. With `requireLabels` (the default) an example
    /// without a label is an error; without it, a `.tsv`/`.csv` line of one
    /// column or an empty label, or a JSON object without `"label"`, is
    /// unlabeled text. Errors name the file and line.
    public static func load(_ url: URL, requireLabels: Bool = true) throws -> [LabeledText] {
        let examples: [LabeledText]
        switch url.pathExtension.lowercased() {
        case "tsv": examples = try loadTSV(url, requireLabels: requireLabels)
        case "csv": examples = try CSVReader.load(url, requireLabels: requireLabels)
        case "jsonl": examples = try JSONLinesReader.load(url, requireLabels: requireLabels)
        case "txt": examples = try loadPlainText(url, requireLabels: requireLabels)
        default:
            throw OfframpError("\(url.path): unknown classification data format \".\(url.pathExtension)\"; expected .tsv, .csv, .jsonl or .txt")
        }
        guard !examples.isEmpty else { throw OfframpError("\(url.path): no examples (the file is empty)") }
        return examples
    }

    /// Writes `label<TAB>text[<TAB>pair]` lines (an unlabeled example gets an
    /// empty label field), atomically. A TAB or line break inside a field
    /// could not be read back, so it is an error, as is an empty text.
    public static func write(_ examples: [LabeledText], to url: URL) throws {
        var out = ""
        // A first example that reads as a header would be skipped on load,
        // so give the file a real header in front of it.
        if let first = examples.first, first.label == "label", first.text == "text" {
            out += "label\ttext\n"
        }
        for example in examples {
            var fields = [example.label ?? "", example.text]
            if let pair = example.pair { fields.append(pair) }
            for field in fields where field.contains(where: { $0 == "\t" || $0.isNewline }) {
                throw OfframpError("\(url.path): example from line \(example.line) has a TAB or line break in \"\(field.prefix(40))\", which TSV cannot hold")
            }
            guard !example.text.isEmpty else {
                throw OfframpError("\(url.path): example from line \(example.line) has an empty text")
            }
            out += fields.joined(separator: "\t")
            out += "\n"
        }
        try writeAtomically(Data(out.utf8), to: url)
    }

    // MARK: - TSV and plain text

    static func loadTSV(_ url: URL, requireLabels: Bool) throws -> [LabeledText] {
        var examples: [LabeledText] = []
        var first = true
        for (number, line) in try readTextLines(url) where !isBlank(line) {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            defer { first = false }
            if first, isHeader(fields) { continue }
            let place = "\(url.path):\(number)"
            if fields.count == 1 && !requireLabels {
                examples.append(LabeledText(text: try text(fields[0], at: place), label: nil, line: number))
                continue
            }
            guard fields.count >= 2 else {
                throw OfframpError("\(place): missing label: expected label<TAB>text but the line has no TAB")
            }
            guard fields.count <= 3 else {
                throw OfframpError("\(place): expected label<TAB>text[<TAB>pair], found \(fields.count) TAB-separated fields")
            }
            examples.append(try example(fields, at: place, line: number, requireLabels: requireLabels))
        }
        return examples
    }

    static func loadPlainText(_ url: URL, requireLabels: Bool) throws -> [LabeledText] {
        if requireLabels {
            throw OfframpError("\(url.path): a .txt file holds unlabeled text (one per line) but labels are required here; use .tsv, .csv or .jsonl")
        }
        return try readTextLines(url).compactMap { number, line in
            isBlank(line) ? nil : LabeledText(text: String(line), label: nil, line: number)
        }
    }

    // MARK: - Shared by the delimited formats

    /// An example from `label, text[, pair]` fields (two or three).
    static func example(_ fields: [String], at place: String, line: Int, requireLabels: Bool) throws -> LabeledText {
        let label = fields[0].trimmingCharacters(in: .whitespaces)
        if label.isEmpty && requireLabels { throw OfframpError("\(place): missing label: the label field is empty") }
        return LabeledText(text: try text(fields[1], at: place),
                           pair: fields.count > 2 ? fields[2] : nil,
                           label: label.isEmpty ? nil : label, line: line)
    }

    static func text(_ field: String, at place: String) throws -> String {
        guard !isBlank(field[...]) else { throw OfframpError("\(place): the text is empty") }
        return field
    }

    /// `label, text[, pair|text_pair]` as the first line of a file.
    static func isHeader(_ fields: [String]) -> Bool {
        fields.count >= 2 && fields.count <= 3 && fields[0] == "label" && fields[1] == "text"
            && (fields.count == 2 || fields[2] == "pair" || fields[2] == "text_pair")
    }

    static func isBlank(_ line: Substring) -> Bool { line.allSatisfy(\.isWhitespace) }
}
