import Foundation

// MARK: - The labels of a task, in a fixed order

/// The labels (classes or tags) a model predicts, each with its output index.
///
/// The order is part of a trained model: output `i` means `labels[i]`. So it
/// is derived deterministically from the training data (`collect`) and saved
/// with the model (`Codable`), never rebuilt from whatever data is at hand.
public struct LabelSet: Sendable, Equatable, Codable {
    public let labels: [String]
    private let positions: [String: Int]

    /// The labels in this order. A repeated label keeps its first position
    /// (so an index always means one label).
    public init(_ labels: [String]) {
        var unique: [String] = []
        var positions: [String: Int] = [:]
        for label in labels where positions[label] == nil {
            positions[label] = unique.count
            unique.append(label)
        }
        self.labels = unique
        self.positions = positions
    }

    public var count: Int { labels.count }

    /// The output index of `label`, or nil if the set does not have it.
    public func index(_ label: String) -> Int? { positions[label] }

    public static func == (lhs: LabelSet, rhs: LabelSet) -> Bool { lhs.labels == rhs.labels }

    // MARK: - Collecting from training data

    /// The sorted labels of the training examples (unlabeled ones are skipped).
    public static func collect(_ examples: [LabeledText]) -> LabelSet {
        LabelSet(Set(examples.compactMap(\.label)).sorted())
    }

    /// The sorted tags of the training sentences, except that "O" (outside,
    /// in BIO tagging) comes first when present: it is the background class,
    /// and index 0 for it keeps tag sets of related corpora aligned.
    public static func collect(_ sentences: [TaggedSentence]) -> LabelSet {
        var tags = Set<String>()
        for sentence in sentences { tags.formUnion(sentence.tags) }
        let outside = tags.remove("O") != nil
        return LabelSet((outside ? ["O"] : []) + tags.sorted())
    }

    // MARK: - Mapping data to indices

    /// The index of every example's label. An unlabeled example or a label
    /// the set does not have (a class seen in dev but not in train, say) is an
    /// error naming `file`, the line and the label.
    public func indices(of examples: [LabeledText], file: String) throws -> [Int] {
        try examples.map { example in
            guard let label = example.label else {
                throw OfframpError("\(file):\(example.line): the example has no label")
            }
            return try index(label, file: file, line: example.line)
        }
    }

    /// The index of every tag of every sentence; an unknown tag is an error
    /// naming `file`, the sentence's first line and the tag.
    public func indices(of sentences: [TaggedSentence], file: String) throws -> [[Int]] {
        try sentences.map { sentence in
            try sentence.tags.map { try index($0, file: file, line: sentence.line) }
        }
    }

    private func index(_ label: String, file: String, line: Int) throws -> Int {
        if let i = positions[label] { return i }
        throw OfframpError("\(file):\(line): unknown label \"\(label)\"; the known labels are \(summary)")
    }

    /// The labels for an error message, abbreviated when there are many
    /// (a POS tag set has ~45).
    var summary: String {
        let shown = 20
        let listed = labels.prefix(shown).map { "\"\($0)\"" }.joined(separator: ", ")
        return labels.count > shown ? "\(listed) and \(labels.count - shown) more" : listed
    }

    // MARK: - Codable: only the labels are stored

    private enum CodingKeys: String, CodingKey { case labels }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let labels = try container.decode([String].self, forKey: .labels)
        guard Set(labels).count == labels.count else {
            throw DecodingError.dataCorruptedError(forKey: .labels, in: container, debugDescription: "a label is listed twice")
        }
        self.init(labels)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(labels, forKey: .labels)
    }
}
