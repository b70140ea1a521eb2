import Foundation

// MARK: - JSON Lines classification files

/// Reads one JSON object a line: `{"text": ..., "label": ..., "text_pair": ...}`.
/// The label may be a string or an integer (many datasets number their
/// classes); an integer becomes its decimal string, so `LabelSet` treats both
/// alike. Other keys (an id, say) are ignored.
enum JSONLinesReader {
    static func load(_ url: URL, requireLabels: Bool) throws -> [LabeledText] {
        var examples: [LabeledText] = []
        for (number, line) in try readTextLines(url) where !ClassificationData.isBlank(line) {
            let place = "\(url.path):\(number)"
            let node: StrictJSON.Node
            do {
                node = try StrictJSON.parse(Data(line.utf8))
            } catch {
                throw OfframpError("\(place): bad JSON: \(error.message)")
            }
            guard case let .object(members) = node else {
                throw OfframpError("\(place): expected a JSON object, found \(node.typeName)")
            }
            func member(_ key: String) -> StrictJSON.Node? {
                members.first { $0.key == key }?.value
            }

            guard let textNode = member("text") else { throw OfframpError("\(place): the object has no \"text\"") }
            guard case let .string(text) = textNode else {
                throw OfframpError("\(place): \"text\" must be a string, found \(textNode.typeName)")
            }

            var label: String?
            switch member("label") {
            case nil, .null?: label = nil
            case let .string(s)?: label = s
            case let .int(i)?: label = String(i)
            case let other?:
                throw OfframpError("\(place): \"label\" must be a string or an integer, found \(other.preview)")
            }
            if label == nil && requireLabels { throw OfframpError("\(place): missing label: the object has no \"label\"") }
            if label?.isEmpty == true { throw OfframpError("\(place): the label is an empty string") }

            var pair: String?
            switch member("text_pair") {
            case nil, .null?: pair = nil
            case let .string(s)?: pair = s
            case let other?: throw OfframpError("\(place): \"text_pair\" must be a string, found \(other.typeName)")
            }
            examples.append(LabeledText(text: try ClassificationData.text(text, at: place), pair: pair, label: label, line: number))
        }
        return examples
    }
}
