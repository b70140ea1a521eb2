import Foundation
import Offramp

// MARK: - What every C entry point shares: handles, status codes, messages

/// The status every call returns (offramp.h names them OFFRAMP_*).
enum Status: Int32 {
    case ok = 0
    /// Bad input: a blank text, an unknown policy, a setting out of range...
    case invalid = 1
    /// The model directory (or a file it needs) does not exist.
    case notFound = 2
    /// A null handle, or one of another kind (an encoder passed to predict).
    case badHandle = 3
    /// An output buffer smaller than the call needs.
    case bufferTooSmall = 4
    /// Anything else the library threw.
    case failed = 5
}

/// An error with the status it maps to.
struct CallError: Error {
    let status: Status
    let message: String
    init(_ status: Status, _ message: String) { self.status = status; self.message = message }
}

/// A loaded model behind an opaque pointer. Calls on one handle take its
/// lock, so several threads may share it (they run one at a time: the
/// encoders' scratch buffers are per model); different handles run in parallel.
final class Handle: @unchecked Sendable {
    enum Model {
        case encoder(TextEncoder)
        case classifier(AdaptiveClassifier)
        case tagger(AdaptiveTagger)
    }

    let model: Model
    /// What a binding needs to know about the model, as JSON (`offramp_handle_info`).
    let info: [UInt8]
    private let lock = NSLock()

    init(_ model: Model, info: [String: Any]) throws {
        self.model = model
        self.info = Array(try JSONSerialization.data(withJSONObject: info, options: [.sortedKeys]))
    }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// The handle a C caller holds, retained until `offramp_handle_free`.
    var opaque: UnsafeMutableRawPointer { Unmanaged.passRetained(self).toOpaque() }

    static func from(_ pointer: UnsafeMutableRawPointer?) throws -> Handle {
        guard let pointer else { throw CallError(.badHandle, "the handle is null (closed, or never loaded)") }
        return Unmanaged<Handle>.fromOpaque(pointer).takeUnretainedValue()
    }
}

/// Runs one C call: its errors become a status and a message written into
/// the caller's buffer (so concurrent calls never share a message).
func call(_ message: UnsafeMutablePointer<CChar>?, _ capacity: Int, _ body: () throws -> Void) -> Int32 {
    do {
        try body()
        return Status.ok.rawValue
    } catch let e as CallError {
        write(e.message, into: message, capacity: capacity)
        return e.status.rawValue
    } catch let e as OfframpError {
        write(e.message, into: message, capacity: capacity)
        return Status.invalid.rawValue
    } catch {
        write("\(error)", into: message, capacity: capacity)
        return Status.failed.rawValue
    }
}

/// Copies `text` as a NUL-terminated string, cut at a character boundary when it does not fit.
func write(_ text: String, into buffer: UnsafeMutablePointer<CChar>?, capacity: Int) {
    guard let buffer, capacity > 0 else { return }
    var bytes = Array(text.utf8)
    if bytes.count > capacity - 1 {
        var n = capacity - 1
        while n > 0 && bytes[n] & 0xC0 == 0x80 { n -= 1 }  // not inside a multi-byte character
        bytes = Array(bytes[..<n])
    }
    bytes.withUnsafeBufferPointer { b in
        buffer.withMemoryRebound(to: UInt8.self, capacity: capacity) { out in
            if let base = b.baseAddress { out.update(from: base, count: b.count) }
            out[b.count] = 0
        }
    }
}

/// A required C string argument.
func string(_ p: UnsafePointer<CChar>?, _ what: String) throws -> String {
    guard let p else { throw CallError(.invalid, "\(what) is null") }
    return String(cString: p)
}

/// `count` UTF-8 strings given as pointers and byte lengths (so a text may
/// hold NUL). `what` and `firstIndex` name a bad one by its 1-based position
/// in the caller's whole list ("text 33 is null").
func strings(_ pointers: UnsafePointer<UnsafePointer<CChar>?>?, _ lengths: UnsafePointer<Int>?, count: Int,
             firstIndex: Int, what: String) throws -> [String] {
    guard count >= 0 else { throw CallError(.invalid, "count \(count) is negative") }
    guard count > 0 else { return [] }
    guard let pointers, let lengths else { throw CallError(.invalid, "the \(what) array is null") }
    return try (0..<count).map { i in
        guard let p = pointers[i], lengths[i] >= 0 else { throw CallError(.invalid, "\(what) \(firstIndex + i + 1) is null") }
        let bytes = UnsafeRawBufferPointer(start: p, count: lengths[i])
        guard let s = String(bytes: bytes, encoding: .utf8) else {
            throw CallError(.invalid, "\(what) \(firstIndex + i + 1) is not valid UTF-8")
        }
        return s
    }
}

/// The body of every `offramp_*_load`: reads the path and precision, runs
/// `make`, and puts the handle in `*out`. A failure is `notFound` when the
/// directory does not exist (with the library's message), else `invalid`.
func load(_ path: UnsafePointer<CChar>?, _ precisionName: UnsafePointer<CChar>?,
          _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
          _ message: UnsafeMutablePointer<CChar>?, _ capacity: Int,
          _ make: (URL, Precision?) throws -> Handle) -> Int32 {
    call(message, capacity) {
        guard let out else { throw CallError(.invalid, "the handle pointer is null") }
        let directory = try string(path, "the model path")
        let p = try precision(precisionName)
        do {
            out.pointee = try make(URL(fileURLWithPath: directory), p).opaque
        } catch let e as OfframpError {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) && isDirectory.boolValue
            throw CallError(exists ? .invalid : .notFound, e.message)
        }
    }
}

/// The precision argument: null keeps the library's default (a quantized checkpoint's saved one, else fp32).
func precision(_ p: UnsafePointer<CChar>?) throws -> Precision? {
    try p.map { try Precision(parsing: String(cString: $0), option: "precision") }
}

/// The version of this ABI; a binding checks it before any other call.
@_cdecl("offramp_abi_version")
public func offramp_abi_version() -> Int32 { 1 }

/// The handle's model as JSON, written into `buffer` when it fits; returns
/// the bytes needed (without the NUL), or -1 for a null handle.
@_cdecl("offramp_handle_info")
public func offramp_handle_info(_ handle: UnsafeMutableRawPointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int {
    guard let h = try? Handle.from(handle) else { return -1 }
    if let buffer, capacity > h.info.count {
        h.info.withUnsafeBufferPointer { b in
            buffer.withMemoryRebound(to: UInt8.self, capacity: capacity) { out in
                out.update(from: b.baseAddress!, count: b.count)
                out[b.count] = 0
            }
        }
    }
    return h.info.count
}

/// Releases a handle. It must not be used afterwards, nor be in use by another thread.
@_cdecl("offramp_handle_free")
public func offramp_handle_free(_ handle: UnsafeMutableRawPointer?) {
    guard let handle else { return }
    Unmanaged<Handle>.fromOpaque(handle).release()
}
