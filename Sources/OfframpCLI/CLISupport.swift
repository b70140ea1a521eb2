import Foundation
import Offramp

// MARK: - Small helpers shared by the commands

/// Writes to standard error (notes, progress), keeping stdout for results.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Buffered standard output for JSON lines: one write per batch, not per line.
struct OutputBuffer {
    private var text = ""
    mutating func line(_ s: String) {
        text += s
        text += "\n"
        if text.utf8.count > 1 << 16 { flush() }
    }
    mutating func flush() {
        FileHandle.standardOutput.write(Data(text.utf8))
        text = ""
    }
}

/// A JSON string literal for `s`.
func jsonString(_ s: String) -> String { jsonStringLiteral(s) }

/// A JSON array of floats, each in its shortest round-trip form.
func jsonFloats(_ values: some Sequence<Float>) -> String {
    "[" + values.map { $0.isFinite ? "\($0)" : "null" }.joined(separator: ",") + "]"
}

/// The texts to process: the command-line arguments, else the lines of
/// `--file`, else the lines of standard input. Blank lines of a file are
/// skipped (an empty argument is kept, and rejected later with its index).
func readInputTexts(arguments: [String], file: String?) throws -> [String] {
    if !arguments.isEmpty { return arguments }
    let lines: [(number: Int, text: Substring)]
    if let file {
        lines = try readTextLines(URL(fileURLWithPath: file))
    } else {
        lines = try readTextLines(FileHandle.standardInput.readDataToEndOfFile(), name: "<stdin>")
    }
    return lines.map { String($0.text) }.filter { !$0.allSatisfy(\.isWhitespace) }
}
