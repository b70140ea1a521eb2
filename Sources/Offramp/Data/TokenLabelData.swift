import Foundation

// MARK: - Tagged sentences for token classification (POS, NER)

/// A sentence of words, one tag per word.
public struct TaggedSentence: Sendable, Equatable {
    public var words: [String]
    public var tags: [String]
    /// The 1-based line the sentence starts on, for messages.
    public var line: Int

    public init(words: [String], tags: [String], line: Int = 0) {
        self.words = words
        self.tags = tags
        self.line = line
    }
}

/// Reading and writing token classification files.
public enum TokenLabelData {
    /// Loads tagged sentences in either of two formats:
    /// - CoNLL: one token a line, `token<TAB>tag`, or whitespace-separated
    ///   columns with the token first and the tag last; a line that is empty
    ///   after trimming whitespace ends a sentence, and `-DOCSTART-` lines
    ///   (CoNLL-2003 document breaks) do too.
    /// - word/TAG (the WSJ format): see `loadWordTag`.
    ///
    /// `.conll`/`.tsv` mean CoNLL and `.pos`/`.tagged` word/TAG; any other
    /// extension is decided by the first non-empty line: word/TAG if it has
    /// no TAB and every whitespace-separated token holds a '/'.
    public static func load(_ url: URL) throws -> [TaggedSentence] {
        let lines = try readTextLines(url)
        let sentences: [TaggedSentence]
        switch url.pathExtension.lowercased() {
        case "conll", "tsv": sentences = try conll(lines, path: url.path)
        case "pos", "tagged": sentences = try wordTag(lines, path: url.path)
        default:
            let firstLine = lines.first { !$0.text.allSatisfy(\.isWhitespace) }?.text ?? ""
            let looksWordTag = !firstLine.contains("\t") && firstLine.split(whereSeparator: \.isWhitespace).allSatisfy { $0.contains("/") }
            sentences = looksWordTag ? try wordTag(lines, path: url.path) : try conll(lines, path: url.path)
        }
        guard !sentences.isEmpty else { throw OfframpError("\(url.path): no sentences (the file is empty)") }
        return sentences
    }

    /// Loads a CoNLL file whatever its extension (see `load`).
    public static func loadCoNLL(_ url: URL) throws -> [TaggedSentence] {
        let sentences = try conll(readTextLines(url), path: url.path)
        guard !sentences.isEmpty else { throw OfframpError("\(url.path): no sentences (the file is empty)") }
        return sentences
    }

    /// Loads WSJ/OANC-style text: whitespace-separated `word/TAG` tokens,
    /// split at the last '/' (a word may hold slashes; PTB escapes them as
    /// `\/`, which is unescaped: `1\/2/CD` is the word "1/2"). A sentence ends
    /// after a token tagged "." or at the end of a line.
    public static func loadWordTag(_ url: URL) throws -> [TaggedSentence] {
        let sentences = try wordTag(readTextLines(url), path: url.path)
        guard !sentences.isEmpty else { throw OfframpError("\(url.path): no sentences (the file is empty)") }
        return sentences
    }

    /// Writes CoNLL: `word<TAB>tag` lines, a blank line after each sentence,
    /// atomically. A field that could not be read back (empty, holding a TAB
    /// or line break, a tag with spaces) is an error, as is a sentence whose
    /// words and tags differ in number or that has no words.
    public static func write(_ sentences: [TaggedSentence], to url: URL) throws {
        var out = ""
        for sentence in sentences {
            let place = "\(url.path): sentence from line \(sentence.line)"
            guard !sentence.words.isEmpty, sentence.words.count == sentence.tags.count else {
                throw OfframpError("\(place) has \(sentence.words.count) words and \(sentence.tags.count) tags")
            }
            for (word, tag) in zip(sentence.words, sentence.tags) {
                guard !word.allSatisfy(\.isWhitespace), !word.contains(where: { $0 == "\t" || $0.isNewline }) else {
                    throw OfframpError("\(place): the word \"\(word)\" is empty or holds a TAB or line break")
                }
                guard !tag.isEmpty, !tag.contains(where: \.isWhitespace) else {
                    throw OfframpError("\(place): the tag \"\(tag)\" of \"\(word)\" is empty or holds whitespace")
                }
                out += word
                out += "\t"
                out += tag
                out += "\n"
            }
            out += "\n"
        }
        try writeAtomically(Data(out.utf8), to: url)
    }

    // MARK: - Parsers

    typealias Lines = [(number: Int, text: Substring)]

    static func conll(_ lines: Lines, path: String) throws -> [TaggedSentence] {
        var sentences: [TaggedSentence] = []
        var current = TaggedSentence(words: [], tags: [], line: 0)
        func endSentence() {
            if !current.words.isEmpty { sentences.append(current) }
            current = TaggedSentence(words: [], tags: [], line: 0)
        }
        for (number, line) in lines {
            if line.allSatisfy(\.isWhitespace) || line.hasPrefix("-DOCSTART-") {
                endSentence()
                continue
            }
            // TAB-separated columns may hold spaces (a token "New York");
            // otherwise any run of whitespace separates columns.
            let columns = line.contains("\t")
                ? line.split(separator: "\t").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                : line.split(whereSeparator: \.isWhitespace).map(String.init)
            guard columns.count >= 2, let word = columns.first, let tag = columns.last else {
                throw OfframpError("\(path):\(number): expected token<TAB>tag, found one column \"\(line.prefix(40))\"")
            }
            if current.words.isEmpty { current.line = number }
            current.words.append(word)
            current.tags.append(tag)
        }
        endSentence()
        return sentences
    }

    static func wordTag(_ lines: Lines, path: String) throws -> [TaggedSentence] {
        var sentences: [TaggedSentence] = []
        for (number, line) in lines {
            var current = TaggedSentence(words: [], tags: [], line: number)
            for token in line.split(whereSeparator: \.isWhitespace) {
                guard let slash = token.lastIndex(of: "/") else {
                    throw OfframpError("\(path):\(number): the token \"\(token)\" has no /TAG")
                }
                let word = token[..<slash], tag = token[token.index(after: slash)...]
                guard !word.isEmpty, !tag.isEmpty else {
                    throw OfframpError("\(path):\(number): the token \"\(token)\" has an empty word or tag")
                }
                current.words.append(word.contains("\\/") ? word.replacingOccurrences(of: "\\/", with: "/") : String(word))
                current.tags.append(String(tag))
                if tag == "." {
                    sentences.append(current)
                    current.words.removeAll(keepingCapacity: true)
                    current.tags.removeAll(keepingCapacity: true)
                }
            }
            if !current.words.isEmpty { sentences.append(current) }
        }
        return sentences
    }
}
