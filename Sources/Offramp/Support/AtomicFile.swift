import CFileSystem
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
/// directory, which is then exchanged with `out` in one step (renameat2
/// RENAME_EXCHANGE), so at every instant `out` is either the old directory
/// or the new one, never missing and never a mixture: a process killed at
/// any point (SIGKILL included) leaves a loadable `out`. A first write is one
/// rename. Temporary directories a killed writer left behind are removed.
public func replaceDirectoryAtomically(_ out: URL, build: (URL) throws -> Void) throws {
    let fm = FileManager.default
    let parent = out.deletingLastPathComponent()
    let tmp = try temporarySibling(of: out, build: build)
    guard fm.fileExists(atPath: out.path) else {
        guard rename(tmp.path, out.path) == 0 else { throw OfframpError("\(out.path): cannot move the new directory into place: \(String(cString: strerror(errno)))") }
        return
    }
    if offramp_exchange_paths(tmp.path, out.path) == 0 {
        try? fm.removeItem(at: tmp)  // now the old directory
        return
    }
    guard errno == EINVAL || errno == ENOSYS else {
        let reason = String(cString: strerror(errno))
        try? fm.removeItem(at: tmp)
        throw OfframpError("\(out.path): cannot swap in the new directory: \(reason)")
    }
    // A file system that cannot exchange: two renames, with an instant
    // between them where `out` is missing (its old version is then in `old`).
    let old = parent.appendingPathComponent(".\(out.lastPathComponent).old-\(getpid())")
    try fm.moveItem(at: out, to: old)
    try fm.moveItem(at: tmp, to: out)
    try? fm.removeItem(at: old)
}

/// Creates the directory `out`, which must not exist, whole: `build` fills a
/// temporary sibling directory, which is then renamed to `out` in one step
/// that fails rather than replace a directory that appeared meanwhile. A
/// failure removes the temporary directory and leaves no `out`.
public func writeNewDirectory(_ out: URL, build: (URL) throws -> Void) throws {
    let fm = FileManager.default
    guard !fm.fileExists(atPath: out.path) else { throw OfframpError("\(out.path) already exists (it is not replaced)") }
    let tmp = try temporarySibling(of: out, build: build)
    if offramp_rename_new(tmp.path, out.path) == 0 { return }
    var code = errno
    if code == EINVAL || code == ENOSYS {  // no RENAME_NOREPLACE here: check, then rename
        if fm.fileExists(atPath: out.path) { code = EEXIST } else if rename(tmp.path, out.path) == 0 { return } else { code = errno }
    }
    try? fm.removeItem(at: tmp)
    if code == EEXIST { throw OfframpError("\(out.path) already exists (it is not replaced)") }
    throw OfframpError("\(out.path): cannot move the new directory into place: \(String(cString: strerror(code)))")
}

/// `.NAME.tmp-PID` beside `out`, filled by `build` (removed again when it fails).
private func temporarySibling(of out: URL, build: (URL) throws -> Void) throws -> URL {
    let fm = FileManager.default
    let parent = out.deletingLastPathComponent()
    try fm.createDirectory(at: parent, withIntermediateDirectories: true)
    removeAbandonedSiblings(of: out)
    let tmp = parent.appendingPathComponent(".\(out.lastPathComponent).tmp-\(getpid())")
    try? fm.removeItem(at: tmp)
    try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
    do {
        try build(tmp)
    } catch {
        try? fm.removeItem(at: tmp)
        throw error
    }
    return tmp
}

/// Removes `.NAME.tmp-PID` and `.NAME.old-PID` beside `out` whose process
/// is gone (a writer killed mid-write); a live writer's are left alone.
private func removeAbandonedSiblings(of out: URL) {
    let parent = out.deletingLastPathComponent()
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: parent.path) else { return }
    for name in names {
        for marker in [".tmp-", ".old-"] where name.hasPrefix(".\(out.lastPathComponent)\(marker)") {
            guard let pid = Int32(name.dropFirst(out.lastPathComponent.count + 1 + marker.count)), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { try? FileManager.default.removeItem(at: parent.appendingPathComponent(name)) }
        }
    }
}
