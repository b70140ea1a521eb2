import Foundation

// MARK: - Two builds of one target
//
// Fuzzing (scripts/fuzz builds with -sanitize=fuzzer,address -parse-as-library
// -DFUZZING): libFuzzer's main calls LLVMFuzzerTestOneInput with each input,
// for the target named by $OFFRAMP_FUZZ_TARGET.
// Plain build (@main below): `offramp-fuzz TARGET FILE|DIR...` replays saved
// inputs (a crash libFuzzer wrote, a corpus) through the same checks;
// `offramp-fuzz seeds DIR` writes starting inputs for each target.

#if FUZZING
let fuzzTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["OFFRAMP_FUZZ_TARGET"] ?? ""
    guard let t = FuzzTarget(rawValue: name) else {
        fatalError("set OFFRAMP_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue))")
    }
    return t
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzTarget.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// libFuzzer's driver (in its runtime, linked by -sanitize=fuzzer).
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

/// SwiftPM links an executable's entry point under this name (main is an
/// alias of it), so libFuzzer's own main is not used: start its driver here.
@_cdecl("offramp_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc, vector = argv
    return runFuzzerDriver(&count, &vector, fuzzOneInput)
}
#else
@main
struct Replay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        if arguments.first == "seeds", let dir = arguments.dropFirst().first {
            do { try FuzzTarget.writeSeeds(to: URL(fileURLWithPath: dir)) } catch {
                FileHandle.standardError.write(Data("offramp-fuzz: \(error)\n".utf8))
                exit(1)
            }
            return
        }
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("usage: offramp-fuzz \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE...\n".utf8))
            exit(2)
        }
        var replayed = 0
        for path in arguments.dropFirst() {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            let files = isDirectory.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).map { path + "/" + $0 }
                : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                data.withUnsafeBytes { target.run($0) }
                replayed += 1
            }
        }
        guard replayed > 0 else {
            FileHandle.standardError.write(Data("offramp-fuzz: no input files found in \(arguments.dropFirst().joined(separator: " "))\n".utf8))
            exit(1)
        }
        print("offramp-fuzz: \(replayed) inputs through \(name), no crash")
    }
}
#endif
