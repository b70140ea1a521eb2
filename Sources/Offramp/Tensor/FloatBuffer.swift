import Foundation

/// An owned, 64-byte aligned array of Float32: the storage every kernel works on.
///
/// Kernels take raw pointers (llm.c style) so that views into one allocation
/// (parameters, workspaces) cost nothing; this class only owns and frees memory.
public final class FloatBuffer: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    /// `count` floats, zero-filled.
    public init(count: Int) {
        precondition(count >= 0, "FloatBuffer count must be non-negative")
        var raw: UnsafeMutableRawPointer?
        // 64-byte alignment: one cache line, and full AVX-512 vectors.
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("out of memory allocating \(bytes) bytes")
        }
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
        self.count = count
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { free(pointer) }

    public var buffer: UnsafeMutableBufferPointer<Float> { .init(start: pointer, count: count) }
    public var array: [Float] { Array(buffer) }

    public subscript(i: Int) -> Float {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }
}

/// Scratch memory reused across calls, so the hot path allocates nothing once
/// warm: each named slot grows to the largest size asked for and stays.
public final class Workspace: @unchecked Sendable {
    private var slots: [String: FloatBuffer] = [:]

    public init() {}

    /// A buffer of at least `count` floats for `name`; its contents are not
    /// cleared and are overwritten by the next caller of the same slot.
    public func buffer(_ name: String, count: Int) -> UnsafeMutablePointer<Float> {
        if let existing = slots[name], existing.count >= count { return existing.pointer }
        let fresh = FloatBuffer(count: count)
        slots[name] = fresh
        return fresh.pointer
    }

    /// `buffer(name, count:)` with its first `count` floats set to zero.
    public func zeroed(_ name: String, _ count: Int) -> UnsafeMutablePointer<Float> {
        let p = buffer(name, count: count)
        p.update(repeating: 0, count: count)
        return p
    }

    /// Total floats held, for memory accounting.
    public var floatsHeld: Int { slots.values.reduce(0) { $0 + $1.count } }
}
