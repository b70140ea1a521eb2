import Foundation
import Offramp

/// The built `offramp` executable, run as a user runs it: arguments, standard
/// input, a working directory; its exit status and what it printed.
///
/// SwiftPM builds every product of the package before it runs the tests, so
/// the executable sits beside the test bundle (`.build-test/release/offramp`).
/// Each run gets an empty `OFFRAMP_HOME`: no command under test may need the
/// real model or corpora of the setup cache.
struct OfframpProcess {
    struct Output {
        let status: Int32
        let stdout: String
        let stderr: String
        /// Both streams, for failure messages.
        var transcript: String { "exit \(status)\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)" }
        var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }
    }

    static var executable: URL {
        get throws {
            let url = Bundle.module.bundleURL.deletingLastPathComponent().appendingPathComponent("offramp")
            guard FileManager.default.isExecutableFile(atPath: url.path) else {
                throw OfframpError("\(url.path) is missing: build the offramp product (swift build) before these tests")
            }
            return url
        }
    }

    /// An empty stand-in for the setup cache, shared by every run.
    static let emptyHome = Result { try TestSupport.temporaryDirectory() }

    let process = Process()
    let stdoutURL: URL, stderrURL: URL

    /// Starts `offramp arguments...`; standard output and error go to files
    /// (pipes could fill and block a chatty child).
    /// `environment` adds to (or overrides) the test process's own variables.
    init(_ arguments: [String], stdin: String? = nil, directory: URL? = nil, environment extra: [String: String] = [:]) throws {
        let scratch = try TestSupport.temporaryDirectory()
        stdoutURL = scratch.appendingPathComponent("stdout")
        stderrURL = scratch.appendingPathComponent("stderr")
        for url in [stdoutURL, stderrURL] { FileManager.default.createFile(atPath: url.path, contents: nil) }
        process.executableURL = try Self.executable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["OFFRAMP_HOME"] = try Self.emptyHome.get().path
        environment.merge(extra) { _, new in new }
        process.environment = environment
        if let directory { process.currentDirectoryURL = directory }
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
    }

    /// What the process wrote to standard error so far.
    var stderrSoFar: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Waits for the exit (killing the process after `timeout` seconds).
    func wait(timeout: Double = 120) throws -> Output {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while process.isRunning {
            if Date() > deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw OfframpError("offramp \(process.arguments ?? []) did not finish in \(timeout) s; stderr: \(stderrSoFar)")
            }
            usleep(2_000)
        }
        process.waitUntilExit()
        let out = try String(contentsOf: stdoutURL, encoding: .utf8), err = try String(contentsOf: stderrURL, encoding: .utf8)
        try? FileManager.default.removeItem(at: stdoutURL.deletingLastPathComponent())
        return Output(status: process.terminationStatus, stdout: out, stderr: err)
    }

    /// Runs `offramp arguments...` to the end.
    static func run(_ arguments: [String], stdin: String? = nil, directory: URL? = nil,
                    environment: [String: String] = [:]) throws -> Output {
        try OfframpProcess(arguments, stdin: stdin, directory: directory, environment: environment).wait()
    }
}
