import Foundation
import Offramp
import Testing

// MARK: - Helpers

/// A safetensors file built byte by byte: the 8-byte little-endian header
/// length (by default the header's real length), the header text, then data.
private func rawFile(_ header: String, data: [UInt8] = [], headerLength: UInt64? = nil) -> [UInt8] {
    let json = Array(header.utf8)
    return withUnsafeBytes(of: (headerLength ?? UInt64(json.count)).littleEndian, Array.init) + json + data
}

/// Writes `bytes` to a new temporary directory under `name`.
private func temporaryFile(_ name: String, _ bytes: [UInt8]) throws -> URL {
    let url = try TestSupport.temporaryDirectory().appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url
}

private func removeDirectory(of url: URL) {
    try? FileManager.default.removeItem(at: url.deletingLastPathComponent())
}

/// The little-endian bytes of each value.
private func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    values.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
}

/// A deterministic generator, so a failing fuzz case can be replayed.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One hand-made malformed file and the words its error must contain
/// (besides the file's path, which every message must start with).
struct MalformedSafeTensors: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let mentions: [String]
    var testDescription: String { name }

    init(_ name: String, _ bytes: [UInt8], _ mentions: [String]) {
        self.name = name
        self.bytes = bytes
        self.mentions = mentions
    }

    /// A file whose header holds the single tensor entry `w`.
    init(_ name: String, tensor entry: String, data: Int = 16, _ mentions: [String]) {
        self.init(name, rawFile("{\"w\":\(entry)}", data: Array(repeating: 0, count: data)), mentions)
    }

    static let all: [MalformedSafeTensors] = [
        // The 8-byte length prefix.
        .init("empty file", [], ["0 bytes", "8-byte header length"]),
        .init("five bytes", [1, 2, 3, 4, 5], ["5 bytes", "8-byte header length"]),
        .init("header length past the end", rawFile("{}", headerLength: 100), ["header length 100", "past the end"]),
        .init("absurd header length", rawFile("{}", headerLength: 200_000_000), ["header length 200000000", "absurd"]),
        .init("header length UInt64.max", rawFile("{}", headerLength: .max), ["header length 18446744073709551615", "absurd"]),
        .init("zero header length", rawFile("", data: [0x7B, 0x7D]), ["header", "invalid JSON"]),
        // The header text.
        .init("header not UTF-8", withUnsafeBytes(of: UInt64(3).littleEndian, Array.init) + [0x7B, 0xFF, 0x7D], ["header", "UTF-8"]),
        .init("header not JSON", rawFile("hello!!!"), ["header", "invalid JSON", "line 1, column 1"]),
        .init("header cut short", rawFile("{\"w\": {\"dtype\": \"F32\""), ["header", "invalid JSON", "end of text"]),
        .init("header a list", rawFile("[1, 2]"), ["header", "must be a JSON object", "a list"]),
        .init("text after the header object", rawFile("{} x"), ["header", "after the JSON value"]),
        .init("duplicate tensor name", rawFile(#"{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#, data: [0, 0]), ["duplicate key", "\"w\""]),
        .init("unpaired surrogate in a name", rawFile(#"{"\ud800":{}}"#), ["header", "surrogate"]),
        .init("raw newline in a name", rawFile("{\"a\nb\":{}}"), ["header", "control character"]),
        .init("nesting 100000 deep", rawFile(String(repeating: "[", count: 100_000)), ["header", "nested deeper"]),
        // __metadata__
        .init("metadata a list", rawFile(#"{"__metadata__":[1]}"#), ["'__metadata__'", "a list"]),
        .init("metadata value a number", rawFile(#"{"__metadata__":{"format":"pt","k":1}}"#), ["'__metadata__'", "'k'", "a number"]),
        // Tensor entries.
        .init("entry a number", tensor: "5", ["tensor 'w'", "entry must be an object"]),
        .init("dtype missing", tensor: #"{"shape":[1],"data_offsets":[0,4]}"#, ["tensor 'w'", "missing 'dtype'"]),
        .init("dtype a number", tensor: #"{"dtype":32,"shape":[1],"data_offsets":[0,4]}"#, ["tensor 'w'", "'dtype'", "32"]),
        .init("dtype unknown", tensor: #"{"dtype":"F17","shape":[1],"data_offsets":[0,4]}"#, ["tensor 'w'", "unsupported dtype 'F17'"]),
        .init("dtype lower case", tensor: #"{"dtype":"f32","shape":[1],"data_offsets":[0,4]}"#, ["tensor 'w'", "unsupported dtype 'f32'"]),
        .init("shape missing", tensor: #"{"dtype":"F32","data_offsets":[0,4]}"#, ["tensor 'w'", "missing 'shape'"]),
        .init("shape a number", tensor: #"{"dtype":"F32","shape":4,"data_offsets":[0,16]}"#, ["tensor 'w'", "'shape'", "got 4"]),
        .init("shape negative", tensor: #"{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}"#, ["tensor 'w'", "'shape'", "-1"]),
        .init("shape fractional", tensor: #"{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}"#, ["tensor 'w'", "'shape'", "2.5"]),
        .init("shape of strings", tensor: #"{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}"#, ["tensor 'w'", "'shape'", "\"2\""]),
        .init("shape of booleans", tensor: #"{"dtype":"F32","shape":[true],"data_offsets":[0,4]}"#, ["tensor 'w'", "'shape'", "true"]),
        .init("shape element count overflows", tensor: #"{"dtype":"U8","shape":[4611686018427387904,4],"data_offsets":[0,4]}"#, ["tensor 'w'", "'shape'", "overflows"]),
        .init("shape byte count overflows", tensor: #"{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}"#, ["tensor 'w'", "'shape'", "overflows"]),
        .init("data_offsets missing", tensor: #"{"dtype":"F32","shape":[1]}"#, ["tensor 'w'", "missing 'data_offsets'"]),
        .init("data_offsets one number", tensor: #"{"dtype":"F32","shape":[1],"data_offsets":[4]}"#, ["tensor 'w'", "'data_offsets'", "two integers", "[4]"]),
        .init("data_offsets three numbers", tensor: #"{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}"#, ["tensor 'w'", "'data_offsets'", "two integers"]),
        .init("data_offsets fractional", tensor: #"{"dtype":"F32","shape":[1],"data_offsets":[0,4.0]}"#, ["tensor 'w'", "'data_offsets'", "two integers"]),
        .init("data_offsets a string", tensor: #"{"dtype":"F32","shape":[1],"data_offsets":"0-4"}"#, ["tensor 'w'", "'data_offsets'", "two integers"]),
        .init("data_offsets beyond Int64", tensor: #"{"dtype":"F32","shape":[1],"data_offsets":[0,99999999999999999999]}"#, ["tensor 'w'", "'data_offsets'", "two integers"]),
        .init("data_offsets begin after end", tensor: #"{"dtype":"F32","shape":[1],"data_offsets":[8,4]}"#, ["tensor 'w'", "'data_offsets' [8, 4]", "begin <= end"]),
        .init("data_offsets negative", tensor: #"{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}"#, ["tensor 'w'", "'data_offsets' [-4, 0]"]),
        .init("byte length does not match shape", tensor: #"{"dtype":"F32","shape":[2],"data_offsets":[0,4]}"#, ["tensor 'w'", "span 4 bytes", "needs 8"]),
        .init("byte length does not match dtype", tensor: #"{"dtype":"F64","shape":[2],"data_offsets":[0,8]}"#, ["tensor 'w'", "F64", "needs 16"]),
        .init("data_offsets far beyond the data", tensor: #"{"dtype":"F32","shape":[576460752303423488],"data_offsets":[0,2305843009213693952]}"#, ["tensor 'w'", "past the end of the data section (16 bytes)"]),
        .init("data section truncated", tensor: #"{"dtype":"F32","shape":[4],"data_offsets":[0,16]}"#, data: 12, ["tensor 'w'", "(12 bytes)", "truncated"]),
        .init("tensors overlap", rawFile(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: Array(repeating: 0, count: 12)), ["'a'", "'b'", "[0, 8]", "[4, 12]", "overlap"]),
        .init("tensor inside another", rawFile(#"{"big":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},"small":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}"#, data: Array(repeating: 0, count: 8)), ["'big'", "'small'", "overlap"]),
    ]
}

// MARK: - Malformed files

@Suite("SafeTensors: malformed files")
struct SafeTensorsMalformedTests {
    @Test(arguments: MalformedSafeTensors.all)
    func malformedFileThrowsNamingFileAndField(_ sample: MalformedSafeTensors) throws {
        let url = try temporaryFile("bad.safetensors", sample.bytes)
        defer { removeDirectory(of: url) }
        let error = #expect(throws: OfframpError.self) { try SafeTensorsFile(url: url) }
        guard let message = error?.message else { return }
        #expect(message.hasPrefix(url.path), "message should start with the path: \(message)")
        for word in sample.mentions {
            #expect(message.contains(word), "message should mention \(word): \(message)")
        }
    }

    @Test func missingFileNamesThePath() throws {
        let url = try TestSupport.temporaryDirectory().appendingPathComponent("absent.safetensors")
        defer { removeDirectory(of: url) }
        let error = #expect(throws: OfframpError.self) { try SafeTensorsFile(url: url) }
        #expect(error?.message.hasPrefix(url.path) == true)
        #expect(error?.message.contains("No such file") == true)
    }

    @Test func directoryIsRefused() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let error = #expect(throws: OfframpError.self) { try SafeTensorsFile(url: dir) }
        #expect(error?.message.contains("not a regular file") == true)
    }

    /// Every proper prefix of a valid file is refused with an error (never a crash).
    @Test func everyTruncationIsAnError() throws {
        let bytes = try [UInt8](sampleWriter().serialized())
        let url = try temporaryFile("cut.safetensors", [])
        defer { removeDirectory(of: url) }
        for length in 0..<bytes.count {
            try Data(bytes[0..<length]).write(to: url)
            #expect(throws: OfframpError.self, "prefix of \(length) bytes") { try SafeTensorsFile(url: url) }
        }
        try Data(bytes).write(to: url)
        #expect(try SafeTensorsFile(url: url).names.count == 3)
    }

    /// Random byte changes either still give a readable file, or an
    /// OfframpError: no crash, no other error type.
    @Test func randomCorruptionNeverCrashes() throws {
        let original = try [UInt8](sampleWriter().serialized())
        let url = try temporaryFile("fuzz.safetensors", [])
        defer { removeDirectory(of: url) }
        var random = SplitMix64(state: 2024)
        let interesting: [UInt8] = Array("{}[]\",:0123456789-.eE \\u".utf8) + [0, 0xFF, 0x80]
        var opened = 0
        for _ in 0..<1500 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let position = Int.random(in: 0..<bytes.count, using: &random)
                bytes[position] = Bool.random(using: &random)
                    ? interesting.randomElement(using: &random)! : UInt8.random(in: 0...255, using: &random)
            }
            try Data(bytes).write(to: url)
            do {
                let file = try SafeTensorsFile(url: url)
                opened += 1
                for name in file.names {
                    // Wrong-dtype reads must throw, right-dtype reads must work.
                    _ = try? file.floats(name)
                    _ = try? file.integers(name)
                }
            } catch is OfframpError {
                // expected for most mutations
            }
        }
        // Changes in the data section keep the file valid: the loop saw both outcomes.
        #expect(opened > 0 && opened < 1500)
    }
}

/// A small valid file: F32, I64 and metadata.
private func sampleWriter() throws -> SafeTensorsWriter {
    var writer = SafeTensorsWriter()
    try writer.add("weight", shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
    try writer.add("bias", shape: [3], floats: [0.5, -0.5, 0])
    try writer.add("ids", shape: [2], int64s: [7, -7])
    writer.metadata = ["format": "pt"]
    return writer
}

// MARK: - Reading

@Suite("SafeTensors: reading")
struct SafeTensorsReadingTests {
    @Test func realMiniLMFile() throws {
        let url = TestSupport.cached("models/minilm-l6/model.safetensors")
        let file = try SafeTensorsFile(url: url)
        #expect(file.tensors.count == 104)
        #expect(file.names.count == 104)
        #expect(file.metadata == ["format": "pt"])

        // Layout in the file: names in data order, ranges inside the file.
        #expect(file.names.first == "embeddings.position_ids")
        #expect(file.names.last == "pooler.dense.weight")
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int
        #expect(file.tensors["pooler.dense.weight"]?.byteRange.upperBound == size)

        // The real file keeps position_ids, as I64 [1, 512] holding 0..<512.
        let positions = try file.info("embeddings.position_ids")
        #expect(positions.dtype == .i64)
        #expect(positions.shape == [1, 512])
        #expect(try file.integers("embeddings.position_ids") == Array(0..<512))

        let suffixes = [
            "attention.self.query.weight", "attention.self.query.bias", "attention.self.key.weight",
            "attention.self.key.bias", "attention.self.value.weight", "attention.self.value.bias",
            "attention.output.dense.weight", "attention.output.dense.bias", "attention.output.LayerNorm.weight",
            "attention.output.LayerNorm.bias", "intermediate.dense.weight", "intermediate.dense.bias",
            "output.dense.weight", "output.dense.bias", "output.LayerNorm.weight", "output.LayerNorm.bias",
        ]
        for layer in 0..<6 {
            for suffix in suffixes {
                let info = try file.info("encoder.layer.\(layer).\(suffix)")
                #expect(info.dtype == .f32)
            }
        }
        #expect(file.tensors["encoder.layer.6.output.dense.bias"] == nil)
        #expect(file.tensors["encoder.layer.0.intermediate.dense.weight"]?.shape == [1536, 384])
        #expect(file.tensors["embeddings.word_embeddings.weight"]?.shape == [30522, 384])

        // Values, against safetensors + numpy in Python.
        let query = try file.floats("encoder.layer.0.attention.self.query.weight")
        #expect(try file.info("encoder.layer.0.attention.self.query.weight").shape == [384, 384])
        #expect(query.count == 384 * 384)
        #expect(query[0..<3].map(\.bitPattern) == [3_189_256_126, 1_026_720_086, 1_034_898_647])
        #expect(query[383 * 384 + 383].bitPattern == 3_182_334_400)
        #expect(abs(query.reduce(0.0) { $0 + Double($1) } - 13.52819408863644) < 1e-9)
        let words = try file.floats("embeddings.word_embeddings.weight")
        #expect(words[101 * 384..<101 * 384 + 2].map(\.bitPattern) == [3_163_575_950, 3_153_661_448])
    }

    @Test func f16ConvertsExactly() throws {
        // (bits, expected value) worked out by hand from the binary16 layout.
        let cases: [(UInt16, Float)] = [
            (0x0000, 0), (0x8000, -0.0), (0x3C00, 1), (0xC000, -2), (0x3555, 0.333251953125),
            (0x4248, 3.140625), (0x7BFF, 65504), (0x0400, 0x1p-14), (0x0001, 0x1p-24),
            (0x03FF, 1023 * 0x1p-24), (0x8001, -0x1p-24), (0x7C00, .infinity), (0xFC00, -.infinity),
        ]
        let values = try readBack(.f16, littleEndianBytes(cases.map(\.0) + [0x7E00]), count: cases.count + 1)
        for (i, (bits, expected)) in cases.enumerated() {
            #expect(values[i].bitPattern == expected.bitPattern, "F16 0x\(String(bits, radix: 16)) -> \(values[i])")
        }
        #expect(values[cases.count].bitPattern == 0x7FC0_0000)  // quiet NaN keeps its payload bits
    }

    #if !(os(macOS) && arch(x86_64))
    @Test func f16MatchesFloat16ForEveryBitPattern() throws {
        let all = (0...UInt16.max).map { $0 }
        let values = try readBack(.f16, littleEndianBytes(all), count: all.count)
        for bits in all {
            let expected = Float(Float16(bitPattern: bits))
            let got = values[Int(bits)]
            if expected.isNaN {
                #expect(got.isNaN, "0x\(String(bits, radix: 16))")
            } else if got.bitPattern != expected.bitPattern {
                Issue.record("F16 0x\(String(bits, radix: 16)): got \(got), expected \(expected)")
            }
        }
    }
    #endif

    @Test func bf16ConvertsExactly() throws {
        let cases: [(UInt16, Float)] = [
            (0x0000, 0), (0x8000, -0.0), (0x3F80, 1), (0xC000, -2), (0x4049, 3.140625),
            (0x3EAB, 0.333984375), (0x7F7F, 3.3895313892515355e38), (0x0080, 0x1p-126),
            (0x0001, 0x1p-133), (0x7F80, .infinity), (0xFF80, -.infinity),
        ]
        let values = try readBack(.bf16, littleEndianBytes(cases.map(\.0) + [0x7FC1]), count: cases.count + 1)
        for (i, (bits, expected)) in cases.enumerated() {
            #expect(values[i].bitPattern == expected.bitPattern, "BF16 0x\(String(bits, radix: 16)) -> \(values[i])")
        }
        #expect(values[cases.count].bitPattern == 0x7FC1_0000)
    }

    @Test func f64RoundsToNearestFloat() throws {
        let doubles: [Double] = [1, -2.5, 0.1, 1e300, -1e-50, 16_777_217]
        let values = try readBack(.f64, littleEndianBytes(doubles.map(\.bitPattern)), count: doubles.count)
        #expect(values == [1, -2.5, Float(0.1), .infinity, -0.0, 16_777_216])
    }

    @Test func integerDTypes() throws {
        var writer = SafeTensorsWriter()
        try writer.add("i8", dtype: .i8, shape: [3], rawBytes: Data(littleEndianBytes([Int8.min, -1, Int8.max])))
        try writer.add("u8", dtype: .u8, shape: [2], rawBytes: Data([0, 255]))
        try writer.add("i16", dtype: .i16, shape: [2], rawBytes: Data(littleEndianBytes([Int16.min, 300])))
        try writer.add("u16", dtype: .u16, shape: [1], rawBytes: Data(littleEndianBytes([UInt16.max])))
        try writer.add("i32", dtype: .i32, shape: [2], rawBytes: Data(littleEndianBytes([Int32.min, -70000])))
        try writer.add("u32", dtype: .u32, shape: [1], rawBytes: Data(littleEndianBytes([UInt32.max])))
        try writer.add("u64", dtype: .u64, shape: [2], rawBytes: Data(littleEndianBytes([UInt64(5), UInt64.max])))
        try writer.add("bool", dtype: .bool, shape: [3], rawBytes: Data([1, 0, 1]))
        try writer.add("bad_bool", dtype: .bool, shape: [1], rawBytes: Data([2]))
        try writer.add("i64", shape: [2], int64s: [Int.min, Int.max])
        let url = try TestSupport.temporaryDirectory().appendingPathComponent("ints.safetensors")
        defer { removeDirectory(of: url) }
        try writer.write(to: url)
        let file = try SafeTensorsFile(url: url)
        #expect(try file.integers("i8") == [-128, -1, 127])
        #expect(try file.integers("u8") == [0, 255])
        #expect(try file.integers("i16") == [-32768, 300])
        #expect(try file.integers("u16") == [65535])
        #expect(try file.integers("i32") == [-2_147_483_648, -70000])
        #expect(try file.integers("u32") == [4_294_967_295])
        #expect(try file.integers("bool") == [1, 0, 1])
        #expect(try file.integers("i64") == [Int.min, Int.max])
        let tooBig = #expect(throws: OfframpError.self) { try file.integers("u64") }
        #expect(tooBig?.message.contains("'u64' element 1") == true)
        let notBool = #expect(throws: OfframpError.self) { try file.integers("bad_bool") }
        #expect(notBool?.message.contains("'bad_bool'") == true)
    }

    /// Tensors at odd offsets behind a header of odd length: reads must not
    /// assume alignment.
    @Test func unalignedData() throws {
        let header = #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"F32","shape":[2],"data_offsets":[1,9]},"c":{"dtype":"I64","shape":[1],"data_offsets":[9,17]},"d":{"dtype":"F16","shape":[1],"data_offsets":[17,19]}}"#
        #expect(header.utf8.count % 2 == 1)
        let data: [UInt8] = [42] + littleEndianBytes([Float(1.5).bitPattern, Float(-3).bitPattern])
            + littleEndianBytes([Int64(-123_456_789_012)]) + littleEndianBytes([UInt16(0x3C00)])
        let url = try temporaryFile("odd.safetensors", rawFile(header, data: data))
        defer { removeDirectory(of: url) }
        let file = try SafeTensorsFile(url: url)
        #expect(file.names == ["a", "b", "c", "d"])
        #expect(try file.integers("a") == [42])
        #expect(try file.floats("b") == [1.5, -3])
        #expect(try file.integers("c") == [-123_456_789_012])
        #expect(try file.floats("d") == [1])
        #expect(file.tensors["b"]?.byteRange == (8 + header.utf8.count + 1)..<(8 + header.utf8.count + 9))
    }

    @Test func accessorErrorsNameFileAndTensor() throws {
        let url = try TestSupport.temporaryDirectory().appendingPathComponent("sample.safetensors")
        defer { removeDirectory(of: url) }
        try sampleWriter().write(to: url)
        let file = try SafeTensorsFile(url: url)

        let missing = #expect(throws: OfframpError.self) { try file.floats("nope") }
        #expect(missing?.message.hasPrefix(url.path) == true)
        #expect(missing?.message.contains("no tensor named 'nope'") == true)

        let notFloat = #expect(throws: OfframpError.self) { try file.floats("ids") }
        #expect(notFloat?.message.contains("'ids' has dtype I64") == true)
        let notInteger = #expect(throws: OfframpError.self) { try file.integers("weight") }
        #expect(notInteger?.message.contains("'weight' has dtype F32") == true)

        var small = [Float](repeating: 0, count: 5)
        let wrongCount = #expect(throws: OfframpError.self) {
            try small.withUnsafeMutableBufferPointer { try file.readFloats("weight", into: $0) }
        }
        #expect(wrongCount?.message.contains("'weight' has 6 elements") == true)

        var exact = [Float](repeating: 0, count: 6)
        try exact.withUnsafeMutableBufferPointer { try file.readFloats("weight", into: $0) }
        #expect(exact == [1, 2, 3, 4, 5, 6])
    }

    /// Writes one tensor of `dtype` from `bytes` and reads it back as Floats.
    private func readBack(_ dtype: SafeTensorsDType, _ bytes: [UInt8], count: Int) throws -> [Float] {
        var writer = SafeTensorsWriter()
        try writer.add("t", dtype: dtype, shape: [count], rawBytes: Data(bytes))
        let url = try TestSupport.temporaryDirectory().appendingPathComponent("t.safetensors")
        defer { removeDirectory(of: url) }
        try writer.write(to: url)
        return try SafeTensorsFile(url: url).floats("t")
    }
}

// MARK: - Writing

@Suite("SafeTensors: writing")
struct SafeTensorsWriterTests {
    @Test func roundTripIsBitExact() throws {
        var random = SplitMix64(state: 7)
        let specials: [Float] = [
            0, -0.0, 1, -1.5, .pi, .leastNonzeroMagnitude, -.leastNormalMagnitude, .greatestFiniteMagnitude,
            .infinity, -.infinity, Float(bitPattern: 0x7FC0_1234), Float(bitPattern: 0xFFA0_0001),
        ]
        let noise = (0..<1000).map { _ in Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &random)) }
        var writer = SafeTensorsWriter()
        try writer.add("specials", shape: [3, 4], floats: specials)
        try noise.withUnsafeBufferPointer { try writer.add("noise", shape: [10, 100], floats: $0) }
        try writer.add("scalar", shape: [], floats: [42])
        try writer.add("empty", shape: [0, 3], floats: [])
        try writer.add("odd", shape: [3], floats: [1, 2, 3])  // 12 bytes: would misalign what follows
        try writer.add("ids", shape: [5], int64s: [Int.min, -1, 0, 1, Int.max])
        try writer.add("layer.\"quoted\".wéight\n", shape: [1], floats: [7])
        writer.metadata = ["format": "pt", "note": "ünïcode \"quoted\"\n\t\u{1}"]

        let url = try TestSupport.temporaryDirectory().appendingPathComponent("round.safetensors")
        defer { removeDirectory(of: url) }
        try writer.write(to: url)
        let file = try SafeTensorsFile(url: url)

        #expect(file.metadata == writer.metadata)
        #expect(Set(file.names) == ["specials", "noise", "scalar", "empty", "odd", "ids", "layer.\"quoted\".wéight\n"])
        #expect(try file.floats("specials").map(\.bitPattern) == specials.map(\.bitPattern))
        #expect(try file.floats("noise").map(\.bitPattern) == noise.map(\.bitPattern))
        #expect(try file.floats("scalar") == [42])
        #expect(file.tensors["scalar"]?.shape == [])
        #expect(file.tensors["scalar"]?.elementCount == 1)
        #expect(try file.floats("empty") == [])
        #expect(file.tensors["empty"]?.shape == [0, 3])
        #expect(try file.integers("ids") == [Int.min, -1, 0, 1, Int.max])
        #expect(file.tensors["ids"]?.dtype == .i64)
        #expect(try file.floats("layer.\"quoted\".wéight\n") == [7])

        // Layout: header padded with spaces to a multiple of 8, sorted keys,
        // every tensor aligned to its element size in the file.
        let bytes = try [UInt8](Data(contentsOf: url))
        let headerLength = Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        #expect(headerLength % 8 == 0)
        let header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
        #expect(header.hasPrefix(#"{"__metadata__":{"format":"pt","note":"#))
        #expect(header.contains(#"{"data_offsets":[0,40],"dtype":"I64","shape":[5]}"#))
        #expect(header.trimmingCharacters(in: .whitespaces).hasSuffix("}"))
        let keyOrder = ["\"empty\"", "\"ids\"", "\"layer.", "\"noise\"", "\"odd\"", "\"scalar\"", "\"specials\""]
            .map { header.range(of: $0)!.lowerBound }
        #expect(keyOrder == keyOrder.sorted())
        for info in file.tensors.values {
            #expect(info.byteRange.lowerBound % info.dtype.byteSize == 0, "\(info.name) misaligned")
        }
        // Nothing after the last tensor.
        #expect(file.tensors.values.map(\.byteRange.upperBound).max() == bytes.count)
    }

    @Test func emptyWriterMakesAValidFile() throws {
        let url = try TestSupport.temporaryDirectory().appendingPathComponent("empty.safetensors")
        defer { removeDirectory(of: url) }
        try SafeTensorsWriter().write(to: url)
        let file = try SafeTensorsFile(url: url)
        #expect(file.names.isEmpty)
        #expect(file.metadata.isEmpty)
        #expect(try Data(contentsOf: url) == Data([8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8)))
    }

    @Test func writerRefusesBadTensors() throws {
        var writer = SafeTensorsWriter()
        try writer.add("w", shape: [2], floats: [1, 2])

        let duplicate = #expect(throws: OfframpError.self) { try writer.add("w", shape: [1], floats: [3]) }
        #expect(duplicate?.message.contains("'w'") == true)
        #expect(duplicate?.message.contains("duplicate") == true)

        let count = #expect(throws: OfframpError.self) { try writer.add("x", shape: [2, 2], floats: [1, 2, 3]) }
        #expect(count?.message.contains("'x'") == true)
        #expect(count?.message.contains("4 elements, got 3") == true)

        let negative = #expect(throws: OfframpError.self) { try writer.add("n", shape: [-1], int64s: []) }
        #expect(negative?.message.contains("'n'") == true)

        let overflow = #expect(throws: OfframpError.self) { try writer.add("o", shape: [Int.max, 2], floats: []) }
        #expect(overflow?.message.contains("'o'") == true)

        let raw = #expect(throws: OfframpError.self) { try writer.add("r", dtype: .f16, shape: [3], rawBytes: Data(count: 5)) }
        #expect(raw?.message.contains("needs 6 bytes, got 5") == true)

        let reserved = #expect(throws: OfframpError.self) { try writer.add("__metadata__", shape: [1], floats: [1]) }
        #expect(reserved?.message.contains("reserved") == true)

        // The failed adds left the writer as it was.
        let data = try writer.serialized()
        let url = try temporaryFile("w.safetensors", [UInt8](data))
        defer { removeDirectory(of: url) }
        #expect(try SafeTensorsFile(url: url).names == ["w"])
    }

    @Test func writeIntoMissingDirectoryNamesThePath() throws {
        let url = URL(fileURLWithPath: "/nonexistent-offramp-dir/model.safetensors")
        let error = #expect(throws: OfframpError.self) { try SafeTensorsWriter().write(to: url) }
        #expect(error?.message.contains(url.path) == true)
    }

    @Test func rewriteReplacesTheFile() throws {
        let url = try TestSupport.temporaryDirectory().appendingPathComponent("again.safetensors")
        defer { removeDirectory(of: url) }
        var first = SafeTensorsWriter()
        try first.add("a", shape: [1], floats: [1])
        try first.write(to: url)
        var second = SafeTensorsWriter()
        try second.add("b", shape: [1], floats: [2])
        try second.write(to: url)
        #expect(try SafeTensorsFile(url: url).names == ["b"])
        // No temporary files left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path) == ["again.safetensors"])
    }
}
