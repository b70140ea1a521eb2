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
    /// Parameters of the model that have no fp32 storage here: a quantized
    /// checkpoint's int8 or bf16 weights, which the layers hold packed
    /// (`offset` is 0 and means nothing). Neither counted nor loaded.
    public let storedElsewhere: [Entry]

    /// Lays out `specs` in order, one after the other. Parameters that a kernel
    /// reads as one matrix (query, key and value weights) are therefore
    /// adjacent when listed adjacently. Names in `elsewhere` get no storage
    /// (`storedElsewhere`); asking for their pointer is then a programming error.
    public init(specs: [(name: String, shape: [Int])], elsewhere: Set<String> = []) {
        var entries: [Entry] = []
        var offset = 0
        var index: [String: Int] = [:]
        var outside: [Entry] = []
        for (name, shape) in specs {
            precondition(index[name] == nil && !outside.contains { $0.name == name }, "duplicate parameter \(name)")
            if elsewhere.contains(name) {
                outside.append(Entry(name: name, shape: shape, offset: 0))
                continue
            }
            index[name] = entries.count
            entries.append(Entry(name: name, shape: shape, offset: offset))
            // No padding between entries: adjacency must survive any hidden
            // size (kernels use unaligned loads, so alignment buys nothing).
            offset += shape.reduce(1, *)
        }
        precondition(outside.count == elsewhere.count, "a parameter stored elsewhere is not in the specs")
        self.entries = entries
        self.index = index
        self.storage = FloatBuffer(count: offset)
        storedElsewhere = outside
    }

    public var totalCount: Int { entries.reduce(0) { $0 + $1.count } }

    public func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The parameter's storage. Names are fixed by the model's own layout, so
    /// an unknown name is a programming error.
    public subscript(name: String) -> UnsafeMutablePointer<Float> {
        guard let p = pointer(name) else { preconditionFailure("parameter \(name) is stored elsewhere (quantized)") }
        return p
    }

    /// The parameter's storage, or nil when it is stored elsewhere.
    public func pointer(_ name: String) -> UnsafeMutablePointer<Float>? {
        if let i = index[name] { return storage.pointer + entries[i].offset }
        guard storedElsewhere.contains(where: { $0.name == name }) else { preconditionFailure("no parameter named \(name)") }
        return nil
    }
}
