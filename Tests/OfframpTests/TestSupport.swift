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
