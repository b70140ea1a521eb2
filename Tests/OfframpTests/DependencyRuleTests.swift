import Foundation
import Testing

/// The layering of docs/architecture.md, checked on the sources themselves:
/// a folder of Sources/Offramp names no top-level type or function declared
/// in a folder at its own level or above (its own folder excepted). Within one
/// module the compiler cannot enforce this; this test does.
@Suite struct DependencyRuleTests {
    /// Lower levels come first; a folder may use only folders of a lower level.
    static let levels: [String: Int] = [
        "Support": 0,
        "Tensor": 1,
        "Checkpoint": 2, "Tokenizer": 2, "Metrics": 2,
        "Model": 3, "Reporting": 3,
        "Data": 4, "Elimination": 4, "Interop": 4,
        "Exits": 5,
        "Training": 6, "Calibration": 6,
    ]

    static var sources: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/Offramp")
    }

    /// (folder, file name, lines without comments and string literals) of every Swift file.
    static func files() throws -> [(folder: String, name: String, lines: [Substring])] {
        let root = sources.standardizedFileURL.path
        guard let walker = FileManager.default.enumerator(atPath: root) else { throw CocoaError(.fileNoSuchFile) }
        var out: [(String, String, [Substring])] = []
        for case let path as String in walker where path.hasSuffix(".swift") {
            let text = try String(contentsOfFile: root + "/" + path, encoding: .utf8)
            out.append((String(path.split(separator: "/")[0]), path, text.split(separator: "\n").map(codeOnly)))
        }
        return out
    }

    /// A line without its `//` comment and the contents of its string literals.
    static func codeOnly(_ line: Substring) -> Substring {
        var out = "", inString = false, previous: Character = " "
        for c in line {
            if !inString && c == "/" && previous == "/" { out.removeLast(); break }
            if c == "\"" { inString.toggle() } else if !inString { out.append(c) }
            previous = c
        }
        return Substring(out)
    }

    /// The name a top-level line declares (`struct X`, `public final class X`, `func x(`), if any.
    static func declaredName(_ line: Substring) -> String? {
        guard let first = line.first, first != " " else { return nil }
        let modifiers: Set<Substring> = ["public", "internal", "private", "fileprivate", "final", "indirect", "@inlinable", "@inline(__always)"]
        let kinds: Set<Substring> = ["struct", "class", "enum", "protocol", "typealias", "actor", "func"]
        let words = line.split(separator: " ")
        var i = 0
        while i < words.count, modifiers.contains(words[i]) || words[i].hasPrefix("@") { i += 1 }
        guard i + 1 < words.count, kinds.contains(words[i]) else { return nil }
        let name = words[i + 1].prefix { $0.isLetter || $0.isNumber || $0 == "_" }
        return name.isEmpty ? nil : String(name)
    }

    @Test func everyFolderHasALevel() throws {
        let folders = Set(try Self.files().map(\.folder))
        #expect(!folders.isEmpty)
        for f in folders { #expect(Self.levels[f] != nil, "Sources/Offramp/\(f) has no level in the dependency rule") }
    }

    @Test func noFolderNamesAHigherOne() throws {
        let files = try Self.files()
        var owner: [String: String] = [:]
        for f in files {
            for line in f.lines { if let n = Self.declaredName(line) { owner[n] = owner[n] ?? f.folder } }
        }
        #expect(owner["BertLayer"] == "Model" && owner["Trainer"] == "Training", "the declaration scan found nothing")
        var violations: [String] = []
        for f in files {
            guard let level = Self.levels[f.folder] else { continue }
            let words = Set(f.lines.flatMap { $0.split { !($0.isLetter || $0.isNumber || $0 == "_") } }.map(String.init))
            for w in words {
                guard let o = owner[w], o != f.folder, let ol = Self.levels[o], ol >= level else { continue }
                violations.append("\(f.name) names \(w) from \(o)/")
            }
        }
        #expect(violations.isEmpty, "\(violations.sorted().joined(separator: "\n"))")
    }
}
