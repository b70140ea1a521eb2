import Foundation

// MARK: - Reading text files line by line, with errors that name the line

/// The lines of a UTF-8 text file (CRLF or LF), each with its 1-based number.
/// Invalid UTF-8 is an error naming the file and the first bad line.
public func readTextLines(_ url: URL) throws -> [(number: Int, text: Substring)] {
    // FoundationEssentials (Swift 6.x) leaks its 4 KiB read buffer on every
    // read of an empty file (the data fuzz target found it; LeakSanitizer,
    // reproduced with FileManager.contents alone): an empty file is not read.
    if let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int, size == 0 {
        return try readTextLines(Data(), name: url.path)
    }
    guard let data = FileManager.default.contents(atPath: url.path) else {
        throw OfframpError("\(url.path): cannot read the file (missing or unreadable)")
    }
    return try readTextLines(data, name: url.path)
}

/// The same for bytes already read (standard input, say); `name` stands for
/// the file in error messages.
public func readTextLines(_ data: Data, name: String) throws -> [(number: Int, text: Substring)] {
    guard let text = String(validating: data, as: UTF8.self) else {
        // Find the first line that does not decode, for the message.
        var line = 1, start = data.startIndex
        for i in data.indices where data[i] == 0x0A {
            if String(validating: data[start..<i], as: UTF8.self) == nil { break }
            line += 1; start = i + 1
        }
        throw OfframpError("\(name):\(line): invalid UTF-8")
    }
    var lines: [(Int, Substring)] = []
    var n = 0
    // Split the scalars, not the Characters: "\r\n" is one Character in Swift.
    for raw in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
        n += 1
        lines.append((n, Substring(raw.last == "\r" ? raw.dropLast() : raw)))
    }
    // A final newline does not start another line.
    if let last = lines.last, last.1.isEmpty, text.unicodeScalars.last == "\n" { lines.removeLast() }
    return lines
}
