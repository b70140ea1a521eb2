import Foundation
import Offramp

// MARK: - Texts to run: arguments, --file or standard input

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
