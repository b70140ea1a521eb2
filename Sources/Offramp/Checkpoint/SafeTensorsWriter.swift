import Foundation

/// Builds a safetensors file in memory and writes it atomically.
///
/// Layout follows the reference implementation: the header's keys are
/// sorted, it is padded with spaces to a multiple of 8 bytes, and tensors
/// are stored by descending element size, then name, so every tensor is
/// naturally aligned once the file is mapped (the data section starts at a
/// multiple of 8).
public struct SafeTensorsWriter {
    /// Written as `__metadata__` when not empty.
    public var metadata: [String: String] = [:]

    private struct Entry {
        let name: String
        let dtype: SafeTensorsDType
        let shape: [Int]
        let bytes: Data
    }
    private var entries: [Entry] = []
    private var names: Set<String> = []

    public init() {}

    // MARK: - Adding tensors

    /// Adds a tensor stored as F32. `floats.count` must equal the product of `shape`.
    public mutating func add(_ name: String, shape: [Int], floats: UnsafeBufferPointer<Float>) throws {
        try checkCount(name, shape: shape, count: floats.count)
        #if _endian(little)
        let bytes = Data(buffer: floats)
        #else
        let bytes = Data(floats.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
        #endif
        try append(Entry(name: name, dtype: .f32, shape: shape, bytes: bytes))
    }

    /// Adds a tensor stored as F32. `floats.count` must equal the product of `shape`.
    public mutating func add(_ name: String, shape: [Int], floats: [Float]) throws {
        try floats.withUnsafeBufferPointer { try add(name, shape: shape, floats: $0) }
    }

    /// Adds a tensor stored as I64. `int64s.count` must equal the product of `shape`.
    public mutating func add(_ name: String, shape: [Int], int64s: [Int]) throws {
        try checkCount(name, shape: shape, count: int64s.count)
        var bytes = Data(capacity: int64s.count * 8)
        for value in int64s {
            withUnsafeBytes(of: Int64(value).littleEndian) { bytes.append(contentsOf: $0) }
        }
        try append(Entry(name: name, dtype: .i64, shape: shape, bytes: bytes))
    }

    /// Adds a tensor of any dtype from its little-endian bytes, whose count
    /// must be the product of `shape` times the dtype's size.
    public mutating func add(_ name: String, dtype: SafeTensorsDType, shape: [Int], rawBytes: Data) throws {
        guard let (_, byteCount) = checkedByteCount(shape: shape, dtypeSize: dtype.byteSize) else {
            throw OfframpError("safetensors tensor '\(name)': shape \(shape) has a negative dimension or is too large")
        }
        guard rawBytes.count == byteCount else {
            throw OfframpError("safetensors tensor '\(name)': shape \(shape) of \(dtype.rawValue) needs \(byteCount) bytes, got \(rawBytes.count)")
        }
        try append(Entry(name: name, dtype: dtype, shape: shape, bytes: rawBytes))
    }

    private func checkCount(_ name: String, shape: [Int], count: Int) throws {
        guard let (elements, _) = checkedByteCount(shape: shape, dtypeSize: 1) else {
            throw OfframpError("safetensors tensor '\(name)': shape \(shape) has a negative dimension or is too large")
        }
        guard elements == count else {
            throw OfframpError("safetensors tensor '\(name)': shape \(shape) holds \(elements) elements, got \(count) values")
        }
    }

    private mutating func append(_ entry: Entry) throws {
        guard entry.name != "__metadata__" else {
            throw OfframpError("safetensors tensor '__metadata__': the name is reserved for the metadata section")
        }
        guard names.insert(entry.name).inserted else {
            throw OfframpError("safetensors tensor '\(entry.name)': added twice (duplicate name)")
        }
        entries.append(entry)
    }

    // MARK: - Output

    /// The complete file.
    public func serialized() throws -> Data {
        let ordered = entries.sorted {
            ($0.dtype.byteSize, $1.name) > ($1.dtype.byteSize, $0.name)
        }
        var header: [(key: String, value: StrictJSON.Node)] = []
        if !metadata.isEmpty {
            header.append(("__metadata__", .object(metadata.map { ($0.key, .string($0.value)) })))
        }
        var offset = 0
        for entry in ordered {
            let end = offset + entry.bytes.count
            header.append((entry.name, .object([
                ("dtype", .string(entry.dtype.rawValue)),
                ("shape", .array(entry.shape.map { .int($0) })),
                ("data_offsets", .array([.int(offset), .int(end)])),
            ])))
            offset = end
        }
        var json: [UInt8]
        do {
            json = Array(try StrictJSON.write(.object(header), indent: nil).utf8)
        } catch {
            throw OfframpError("safetensors header: \(error.message)")
        }
        // Pad with spaces (valid JSON whitespace) so the data starts 8-aligned.
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))

        var file = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(contentsOf: json)
        for entry in ordered { file.append(entry.bytes) }
        return file
    }

    /// Writes the file to `url` atomically (readers never see half a file).
    public func write(to url: URL) throws {
        let data: Data
        do {
            data = try serialized()
        } catch let error as OfframpError {
            throw OfframpError("\(url.path): \(error.message)")
        }
        try writeAtomically(data, to: url)
    }
}
