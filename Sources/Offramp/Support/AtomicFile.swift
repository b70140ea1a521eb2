import Foundation

/// Writes `data` to `url` so that readers see either the old file or the whole
/// new one, never a half-written file: write a temporary file beside it, flush
/// it to disk, then rename it over the target (rename is atomic on one file system).
public func writeAtomically(_ data: Data, to url: URL) throws {
    let dir = url.deletingLastPathComponent()
    let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    guard FileManager.default.createFile(atPath: tmp.path, contents: nil) else {
        throw OfframpError("\(url.path): cannot create a temporary file in \(dir.path)")
    }
    do {
        let handle = try FileHandle(forWritingTo: tmp)
        defer { try? handle.close() }
        try handle.write(contentsOf: data)
        try handle.synchronize()
    } catch {
        try? FileManager.default.removeItem(at: tmp)
        throw OfframpError("\(url.path): write failed: \(error)")
    }
    if rename(tmp.path, url.path) != 0 {
        let reason = String(cString: strerror(errno))
        try? FileManager.default.removeItem(at: tmp)
        throw OfframpError("\(url.path): cannot rename the temporary file into place: \(reason)")
    }
}

/// Replaces the directory `out` whole: `build` fills a temporary sibling
/// directory, which is then swapped in, so a crash leaves either the old
/// directory or the new one, never a mixture.
public func replaceDirectoryAtomically(_ out: URL, build: (URL) throws -> Void) throws {
    let fm = FileManager.default
    let parent = out.deletingLastPathComponent()
    try fm.createDirectory(at: parent, withIntermediateDirectories: true)
    let tmp = parent.appendingPathComponent(".\(out.lastPathComponent).tmp-\(getpid())")
    try? fm.removeItem(at: tmp)
    try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
    do {
        try build(tmp)
    } catch {
        try? fm.removeItem(at: tmp)
        throw error
    }
    // Swap: out -> out.old, tmp -> out, remove out.old.
    let old = parent.appendingPathComponent(".\(out.lastPathComponent).old-\(getpid())")
    if fm.fileExists(atPath: out.path) { try fm.moveItem(at: out, to: old) }
    try fm.moveItem(at: tmp, to: out)
    try? fm.removeItem(at: old)
}
