import Foundation

/// Every parameter of a model as a view into one contiguous Float32 allocation
/// (llm.c style): loading is one pass, the optimizer can walk one flat buffer,
/// and a gradient buffer of the same size mirrors it entry for entry.
public final class ParameterStore: @unchecked Sendable {
    public struct Entry: Sendable, Equatable {
        /// The checkpoint key (HF's name, without a `bert.` prefix).
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public let entries: [Entry]
    public let storage: FloatBuffer
    private let index: [String: Int]

    /// Lays out `specs` in order, one after the other. Parameters that a kernel
    /// reads as one matrix (query, key and value weights) are therefore
    /// adjacent when listed adjacently.
    public init(specs: [(name: String, shape: [Int])]) {
        var entries: [Entry] = []
        var offset = 0
        var index: [String: Int] = [:]
        for (name, shape) in specs {
            precondition(index[name] == nil, "duplicate parameter \(name)")
            index[name] = entries.count
            entries.append(Entry(name: name, shape: shape, offset: offset))
            // No padding between entries: adjacency must survive any hidden
            // size (kernels use unaligned loads, so alignment buys nothing).
            offset += shape.reduce(1, *)
        }
        self.entries = entries
        self.index = index
        self.storage = FloatBuffer(count: offset)
    }

    public var totalCount: Int { entries.reduce(0) { $0 + $1.count } }

    public func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The parameter's storage. Names are fixed by the model's own layout, so
    /// an unknown name is a programming error.
    public subscript(name: String) -> UnsafeMutablePointer<Float> {
        guard let i = index[name] else { preconditionFailure("no parameter named \(name)") }
        return storage.pointer + entries[i].offset
    }
}
