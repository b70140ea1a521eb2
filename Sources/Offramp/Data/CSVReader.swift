import Foundation

// MARK: - CSV (RFC 4180) classification files

/// Reads `label,text[,pair]` CSV. Fields may be quoted; a quoted field may
/// hold commas, doubled quotes (`""` for `"`) and line breaks, so a record
/// can span lines. Being strict (a stray quote is an error, not text) means a
/// broken file fails loudly instead of silently merging rows.
enum CSVReader {
    static func load(_ url: URL, requireLabels: Bool) throws -> [LabeledText] {
        var examples: [LabeledText] = []
        var first = true
        for record in try records(url) {
            let fields = record.fields
            if fields.count == 1 && fields[0].allSatisfy(\.isWhitespace) { continue }  // blank line
            defer { first = false }
            if first, ClassificationData.isHeader(fields) { continue }
            let place = "\(url.path):\(record.line)"
            if fields.count == 1 && !requireLabels {
                examples.append(LabeledText(text: try ClassificationData.text(fields[0], at: place), label: nil, line: record.line))
                continue
            }
            guard fields.count >= 2 else {
                throw OfframpError("\(place): missing label: expected label,text but the record has one field")
            }
            guard fields.count <= 3 else {
                throw OfframpError("\(place): expected label,text[,pair], found \(fields.count) fields (quote a text that holds commas)")
            }
            examples.append(try ClassificationData.example(fields, at: place, line: record.line, requireLabels: requireLabels))
        }
        return examples
    }

    /// The records of a CSV file, each with the line it starts on.
    static func records(_ url: URL) throws -> [(line: Int, fields: [String])] {
        enum FieldState { case start, unquoted, quoted, closed }
        var records: [(line: Int, fields: [String])] = []
        var fields: [String] = []
        var field = String.UnicodeScalarView()
        var state = FieldState.start
        var recordLine = 0, quoteLine = 0

        func endField() {
            fields.append(String(field))
            field = String.UnicodeScalarView()
            state = .start
        }

        for (number, line) in try readTextLines(url) {
            if state != .quoted { recordLine = number }
            // Scalars, not Characters: a quote followed by a combining mark
            // would be one Character and hide the quote.
            let scalars = Array(line.unicodeScalars)
            var i = 0
            while i < scalars.count {
                let c = scalars[i]
                switch state {
                case .quoted:
                    if c == "\"" {
                        if i + 1 < scalars.count && scalars[i + 1] == "\"" {
                            field.append("\"")
                            i += 1
                        } else {
                            state = .closed
                        }
                    } else {
                        field.append(c)
                    }
                case .start, .unquoted, .closed:
                    if c == "," {
                        endField()
                    } else if state == .closed {
                        throw OfframpError("\(url.path):\(number): malformed CSV: text after a closing quote (write a quote inside a quoted field as \"\")")
                    } else if c == "\"" {
                        guard state == .start else {
                            throw OfframpError("\(url.path):\(number): malformed CSV: a quote inside an unquoted field (quote the whole field and double the quote)")
                        }
                        state = .quoted
                        quoteLine = number
                    } else {
                        field.append(c)
                        state = .unquoted
                    }
                }
                i += 1
            }
            if state == .quoted {
                field.append("\n")  // the line break belongs to the quoted field
            } else {
                endField()
                records.append((recordLine, fields))
                fields = []
            }
        }
        if state == .quoted {
            throw OfframpError("\(url.path):\(quoteLine): malformed CSV: unterminated quoted field (the quote opened here is never closed)")
        }
        return records
    }
}
