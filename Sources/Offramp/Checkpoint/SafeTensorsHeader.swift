import Foundation

/// Parsing and validation of a safetensors header: everything that can be
/// checked before a single tensor is read, so that reading afterwards cannot
/// go out of bounds whatever the file holds.
struct SafeTensorsHeader {
    /// Headers above this are refused as corrupt (the reference implementation's limit).
    static let maxHeaderLength = 100_000_000

    /// Tensors in data order (by begin offset, then name).
    var tensors: [SafeTensorInfo]
    var metadata: [String: String]

    /// Reads the JSON header `json` of the file `file` (for messages).
    /// `dataStart` is the absolute offset of the data section and
    /// `dataLength` its length: the file size minus the header.
    init(json: UnsafeRawBufferPointer, file: String, dataStart: Int, dataLength: Int) throws {
        let root: StrictJSON.Node
        do {
            root = try StrictJSON.parse(json)
        } catch {
            throw OfframpError("\(file): safetensors header: \(error.message)")
        }
        guard case let .object(members) = root else {
            throw OfframpError("\(file): safetensors header must be a JSON object, got \(root.typeName)")
        }

        var tensors: [SafeTensorInfo] = []
        var metadata: [String: String] = [:]
        for (name, entry) in members {
            if name == "__metadata__" {
                metadata = try Self.parseMetadata(entry, file: file)
            } else {
                tensors.append(try Self.parseTensor(name: name, entry: entry, file: file,
                                                    dataStart: dataStart, dataLength: dataLength))
            }
        }

        // Overlap check: in begin order, each tensor must start at or after
        // the end of the one before. (The reference implementation is
        // stricter and also refuses gaps; a gap is harmless to a reader.)
        tensors.sort { ($0.byteRange.lowerBound, $0.byteRange.upperBound, $0.name) < ($1.byteRange.lowerBound, $1.byteRange.upperBound, $1.name) }
        for (previous, next) in zip(tensors, tensors.dropFirst()) where next.byteRange.lowerBound < previous.byteRange.upperBound {
            throw OfframpError(
                "\(file): tensors '\(previous.name)' (data_offsets \(Self.relative(previous.byteRange, dataStart))) and "
                    + "'\(next.name)' (data_offsets \(Self.relative(next.byteRange, dataStart))) overlap")
        }
        self.tensors = tensors
        self.metadata = metadata
    }

    private static func relative(_ range: Range<Int>, _ dataStart: Int) -> String {
        "[\(range.lowerBound - dataStart), \(range.upperBound - dataStart)]"
    }

    // MARK: - Entries

    private static func parseMetadata(_ entry: StrictJSON.Node, file: String) throws -> [String: String] {
        guard case let .object(members) = entry else {
            throw OfframpError("\(file): '__metadata__' must be an object of strings, got \(entry.typeName)")
        }
        var metadata: [String: String] = [:]
        for (key, value) in members {
            guard case let .string(text) = value else {
                throw OfframpError("\(file): '__metadata__' key '\(key)' must be a string, got \(value.typeName)")
            }
            metadata[key] = text
        }
        return metadata
    }

    private static func parseTensor(
        name: String, entry: StrictJSON.Node, file: String, dataStart: Int, dataLength: Int
    ) throws -> SafeTensorInfo {
        let at = "\(file): tensor '\(name)'"
        guard case let .object(fields) = entry else {
            throw OfframpError("\(at): entry must be an object with dtype, shape and data_offsets, got \(entry.preview)")
        }
        // Unknown fields are ignored, as the reference implementation does.
        func field(_ key: String) throws -> StrictJSON.Node {
            guard let value = fields.first(where: { $0.key == key })?.value else {
                throw OfframpError("\(at): missing '\(key)'")
            }
            return value
        }

        // dtype
        let dtypeNode = try field("dtype")
        guard case let .string(dtypeName) = dtypeNode else {
            throw OfframpError("\(at): 'dtype' must be a string, got \(dtypeNode.preview)")
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            let known = SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
            throw OfframpError("\(at): unsupported dtype '\(dtypeName)' (known: \(known))")
        }

        // shape
        let shapeNode = try field("shape")
        guard case let .array(dims) = shapeNode else {
            throw OfframpError("\(at): 'shape' must be a list of non-negative integers, got \(shapeNode.preview)")
        }
        var shape: [Int] = []
        for dim in dims {
            guard case let .int(d) = dim, d >= 0 else {
                throw OfframpError("\(at): 'shape' must be a list of non-negative integers, found \(dim.preview)")
            }
            shape.append(d)
        }
        guard let (elements, byteCount) = checkedByteCount(shape: shape, dtypeSize: dtype.byteSize) else {
            throw OfframpError("\(at): 'shape' \(shape) is too large (its byte count overflows)")
        }

        // data_offsets
        let offsetsNode = try field("data_offsets")
        guard case let .array(offsets) = offsetsNode, offsets.count == 2,
              case let .int(begin) = offsets[0], case let .int(end) = offsets[1]
        else {
            throw OfframpError("\(at): 'data_offsets' must be two integers [begin, end], got \(describe(offsetsNode))")
        }
        guard begin >= 0, begin <= end else {
            throw OfframpError("\(at): 'data_offsets' [\(begin), \(end)] must have 0 <= begin <= end")
        }
        guard end - begin == byteCount else {
            throw OfframpError(
                "\(at): 'data_offsets' [\(begin), \(end)] span \(end - begin) bytes but shape \(shape) of \(dtypeName) needs \(byteCount)")
        }
        guard end <= dataLength else {
            throw OfframpError(
                "\(at): 'data_offsets' [\(begin), \(end)] go past the end of the data section (\(dataLength) bytes): "
                    + "the file is truncated or its header is corrupt")
        }
        // No overflow: end <= dataLength and dataStart + dataLength is the file size.
        return SafeTensorInfo(name: name, dtype: dtype, shape: shape,
                              byteRange: (dataStart + begin)..<(dataStart + end), elementCount: elements)
    }

    /// A list's items in brackets (a short one is worth showing in full).
    private static func describe(_ node: StrictJSON.Node) -> String {
        if case let .array(items) = node, items.count <= 4 {
            return "[" + items.map(\.preview).joined(separator: ", ") + "]"
        }
        return node.preview
    }
}
