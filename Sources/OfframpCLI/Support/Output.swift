import Foundation
import Offramp

// MARK: - Standard error, buffered standard output, JSON spellings

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
