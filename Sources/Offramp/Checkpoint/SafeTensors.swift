import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A safetensors file, memory-mapped read-only.
///
/// Format: an 8-byte little-endian header length N, N bytes of JSON
/// (`{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {..}}`),
/// then the data section; offsets are relative to the start of the data.
///
/// `init` validates the whole header against the file size (types, shapes,
/// byte counts, bounds, overlaps), so the accessors cannot read out of
/// bounds whatever bytes the file holds. Bad input throws an `OfframpError`
/// whose message starts with the file path and names the tensor or field.
///
/// The mapping is immutable and lives as long as the object, so it is safe to
/// share between threads. (As with any mmap, another process truncating the
/// file while it is open would fault: checkpoints are not written in place,
/// see `writeAtomically`.)
public final class SafeTensorsFile: @unchecked Sendable {
    public let url: URL
    /// Tensor names in data order (by begin offset).
    public let names: [String]
    public let tensors: [String: SafeTensorInfo]
    /// The `__metadata__` section (empty if the file has none).
    public let metadata: [String: String]

    private let mapping: UnsafeRawBufferPointer

    public init(url: URL) throws {
        self.url = url
        let path = url.path
        mapping = try Self.map(path: path)
        do {
            let header = try Self.readHeader(mapping, path: path)
            names = header.tensors.map(\.name)
            tensors = Dictionary(header.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            metadata = header.metadata
        } catch {
            Self.unmap(mapping)
            throw error
        }
    }

    deinit { Self.unmap(mapping) }

    /// Reads and checks the header of a whole safetensors file in memory:
    /// the 8-byte length, the JSON, every tensor's dtype, shape and offsets
    /// (inside the data, no overlaps). After this, reading any listed tensor
    /// cannot go out of bounds. Errors name `path`.
    public static func readHeader(_ file: UnsafeRawBufferPointer, path: String) throws
        -> (tensors: [SafeTensorInfo], metadata: [String: String]) {
        guard file.count >= 8 else {
            throw OfframpError("\(path): not a safetensors file: \(file.count) bytes, shorter than the 8-byte header length")
        }
        let rawLength = UInt64(littleEndian: file.loadUnaligned(as: UInt64.self))
        guard rawLength <= UInt64(SafeTensorsHeader.maxHeaderLength) else {
            throw OfframpError("\(path): header length \(rawLength) is absurd (limit \(SafeTensorsHeader.maxHeaderLength) bytes): not a safetensors file or corrupt")
        }
        let headerLength = Int(rawLength)
        guard headerLength <= file.count - 8 else {
            throw OfframpError("\(path): header length \(headerLength) runs past the end of the file (\(file.count) bytes): truncated or corrupt")
        }
        let dataStart = 8 + headerLength
        let header = try SafeTensorsHeader(json: UnsafeRawBufferPointer(rebasing: file[8..<dataStart]), file: path,
                                           dataStart: dataStart, dataLength: file.count - dataStart)
        return (header.tensors, header.metadata)
    }

    // MARK: - Access

    /// The entry of tensor `name`, or an error naming the file and tensor.
    public func info(_ name: String) throws -> SafeTensorInfo {
        guard let info = tensors[name] else {
            throw OfframpError("\(url.path): no tensor named '\(name)' (the file has \(tensors.count) tensors)")
        }
        return info
    }

    /// Calls `body` with the raw bytes of tensor `name`, inside the mapping
    /// (no copy; do not let the pointer escape). Not necessarily aligned.
    public func withRawBytes<R>(of name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let info = try info(name)
        return try body(UnsafeRawBufferPointer(rebasing: mapping[info.byteRange]))
    }

    /// Copies tensor `name`'s bytes (little-endian, as stored) into `destination`,
    /// which must hold exactly them, then releases the file's pages it read.
    public func copyBytes(_ name: String, into destination: UnsafeMutableRawBufferPointer) throws {
        let info = try info(name)
        guard destination.count == info.byteRange.count else {
            throw OfframpError("\(url.path): tensor '\(name)' has \(info.byteRange.count) bytes (\(info.dtype.rawValue), shape \(info.shape)) "
                + "but the destination holds \(destination.count)")
        }
        copyReleasing(info.byteRange, to: destination)
    }

    /// Copies the file's bytes `range` to `destination` in 4 MB pieces, each
    /// released once copied, so a large tensor (a 47 MB embedding table)
    /// never sits in memory twice.
    private func copyReleasing(_ range: Range<Int>, to destination: UnsafeMutableRawBufferPointer) {
        guard let base = destination.baseAddress, let from = mapping.baseAddress else { return }
        let piece = 1 << 22
        for offset in stride(from: 0, to: range.count, by: piece) {
            let n = min(piece, range.count - offset)
            memcpy(base + offset, from + range.lowerBound + offset, n)
            releasePages(range.lowerBound + offset ..< range.lowerBound + offset + n)
        }
    }

    /// Tensor `name` as Floats: F32 as is, F16 and BF16 widened exactly, F64
    /// rounded to nearest.
    public func floats(_ name: String) throws -> [Float] {
        let info = try info(name)
        try checkFloat(info)
        return try [Float](unsafeUninitializedCapacity: info.elementCount) { buffer, initialized in
            try readFloats(name, into: buffer)
            initialized = info.elementCount
        }
    }

    /// Drops the mapped file pages wholly inside `range` from memory once
    /// they are copied: loading then peaks at the weights plus one tensor,
    /// not the weights twice. (A later read faults them back in from the file.)
    private func releasePages(_ range: Range<Int>) {
        guard let base = mapping.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (range.lowerBound + page - 1) / page * page, end = range.upperBound / page * page
        if end > start { madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED) }
    }

    /// Reads tensor `name` as Floats into `into`, whose count must equal the
    /// tensor's element count (so a shape mismatch is caught, not truncated).
    public func readFloats(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        let info = try info(name)
        try checkFloat(info)
        guard destination.count == info.elementCount else {
            throw OfframpError("\(url.path): tensor '\(name)' has \(info.elementCount) elements (shape \(info.shape)) but the destination holds \(destination.count)")
        }
        let source = UnsafeRawBufferPointer(rebasing: mapping[info.byteRange])
        // The data need not be aligned (the header length is arbitrary), so
        // every load is an unaligned one.
        switch info.dtype {
        case .f32:
            #if _endian(little)
            copyReleasing(info.byteRange, to: UnsafeMutableRawBufferPointer(destination))
            #else
            for i in 0..<destination.count {
                destination[i] = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
            #endif
        case .f16:
            for i in 0..<destination.count {
                destination[i] = HalfPrecision.float(fromF16: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            }
        case .bf16:
            for i in 0..<destination.count {
                destination[i] = HalfPrecision.float(fromBF16: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            }
        case .f64:
            for i in 0..<destination.count {
                destination[i] = Float(Double(bitPattern: UInt64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
            }
        default:
            preconditionFailure("checkFloat admitted \(info.dtype)")
        }
        releasePages(info.byteRange)
    }

    /// Tensor `name` as Ints: I64, I32, I16, I8, U8, U16, U32, U64 (values
    /// above Int.max are an error) and BOOL (bytes 0 and 1 only).
    public func integers(_ name: String) throws -> [Int] {
        let info = try info(name)
        guard info.dtype.isReadableAsInteger else {
            throw OfframpError("\(url.path): tensor '\(name)' has dtype \(info.dtype.rawValue); integers() reads I64, I32, I16, I8, U8, U16, U32, U64 and BOOL")
        }
        let source = UnsafeRawBufferPointer(rebasing: mapping[info.byteRange])
        let count = info.elementCount
        func load<T: FixedWidthInteger>(_: T.Type) -> [Int] {
            (0..<count).map { Int(T(littleEndian: source.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self))) }
        }
        switch info.dtype {
        case .i64: return load(Int64.self)
        case .i32: return load(Int32.self)
        case .i16: return load(Int16.self)
        case .i8: return load(Int8.self)
        case .u8: return load(UInt8.self)
        case .u16: return load(UInt16.self)
        case .u32: return load(UInt32.self)
        case .u64:
            return try (0..<count).map { i in
                let value = UInt64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                guard let exact = Int(exactly: value) else {
                    throw OfframpError("\(url.path): tensor '\(name)' element \(i) = \(value) does not fit in Int")
                }
                return exact
            }
        case .bool:
            return try (0..<count).map { i in
                let byte = source[i]
                guard byte <= 1 else {
                    throw OfframpError("\(url.path): tensor '\(name)' (BOOL) element \(i) is \(byte), not 0 or 1")
                }
                return Int(byte)
            }
        default:
            preconditionFailure("isReadableAsInteger admitted \(info.dtype)")
        }
    }

    private func checkFloat(_ info: SafeTensorInfo) throws {
        guard info.dtype.isReadableAsFloat else {
            throw OfframpError("\(url.path): tensor '\(info.name)' has dtype \(info.dtype.rawValue); floats() reads F32, F16, BF16 and F64")
        }
    }

    // MARK: - Mapping

    /// Maps the whole regular file at `path` read-only.
    private static func map(path: String) throws -> UnsafeRawBufferPointer {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw OfframpError("\(path): cannot open: \(String(cString: strerror(errno)))")
        }
        // The mapping stays valid after the descriptor is closed.
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            throw OfframpError("\(path): cannot stat: \(String(cString: strerror(errno)))")
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw OfframpError("\(path): not a regular file")
        }
        let size = Int(status.st_size)
        // mmap refuses zero lengths; an empty buffer fails the 8-byte check.
        guard size > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw OfframpError("\(path): cannot map \(size) bytes: \(String(cString: strerror(errno)))")
        }
        return UnsafeRawBufferPointer(start: base, count: size)
    }

    private static func unmap(_ mapping: UnsafeRawBufferPointer) {
        if let base = mapping.baseAddress, mapping.count > 0 {
            munmap(UnsafeMutableRawPointer(mutating: base), mapping.count)
        }
    }
}
