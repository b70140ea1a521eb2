import Foundation
import Offramp

// MARK: - Texts in, pooled vectors out (TextEncoder)

/// Loads a model directory as `TextEncoder.load` does; `precision` null,
/// "fp32", "bf16" or "int8". On success `*out` holds the handle.
@_cdecl("offramp_encoder_load")
public func offramp_encoder_load(_ path: UnsafePointer<CChar>?, _ precisionName: UnsafePointer<CChar>?,
                                 _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                 _ message: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int32 {
    load(path, precisionName, out, message, capacity) { directory, precision in
        let e = try TextEncoder.load(directory: directory, precision: precision)
        return try Handle(.encoder(e), info: [
            "kind": "encoder", "hidden_size": e.encoder.config.hiddenSize, "layers": e.encoder.config.numHiddenLayers,
            "max_length": e.maxLength, "precision": e.encoder.precision.rawValue,
        ])
    }
}

/// Embeds `count` texts (UTF-8, `lengths` in bytes) into `out`, row-major
/// (count, hidden_size) floats, `batch_size` texts per forward pass, as
/// `offramp encode` does: `pooling` "mean" or "cls", `normalize` nonzero
/// for unit L2 norm. `first_index` offsets the 1-based positions errors
/// name, for a caller that sends its list in chunks.
@_cdecl("offramp_encoder_embed")
public func offramp_encoder_embed(_ handle: UnsafeMutableRawPointer?,
                                  _ texts: UnsafePointer<UnsafePointer<CChar>?>?, _ lengths: UnsafePointer<Int>?,
                                  _ count: Int, _ firstIndex: Int, _ poolingName: UnsafePointer<CChar>?, _ normalize: Int32,
                                  _ batchSize: Int, _ out: UnsafeMutablePointer<Float>?, _ outCapacity: Int,
                                  _ message: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int32 {
    call(message, capacity) {
        let h = try Handle.from(handle)
        guard case .encoder(let encoder) = h.model else { throw CallError(.badHandle, "the handle is not an encoder") }
        let pooling = try embeddingPooling(poolingName)
        guard batchSize >= 1 else { throw CallError(.invalid, "batch_size \(batchSize) must be at least 1") }
        let inputs = try strings(texts, lengths, count: count, firstIndex: firstIndex, what: "text")
        guard !inputs.isEmpty else { throw CallError(.invalid, "no texts to embed") }
        let width = encoder.encoder.config.hiddenSize
        guard let out, outCapacity >= inputs.count * width else {
            throw CallError(.bufferTooSmall, "the output holds \(outCapacity) floats; \(inputs.count) texts need \(inputs.count * width)")
        }
        try h.locked {
            var start = 0
            while start < inputs.count {
                let chunk = Array(inputs[start ..< min(start + batchSize, inputs.count)])
                let encodings = try encoder.tokenize(chunk, firstIndex: firstIndex + start)
                let result = try encoder.encoder(PackedBatch(encodings: encodings))
                for i in chunk.indices {
                    var v = result.pooled(i, pooling)
                    // As `offramp encode --normalize` computes it, so the two agree to the bit.
                    if normalize != 0 {
                        let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                        if n > 0 { v = v.map { $0 / n } }
                    }
                    (out + (start + i) * width).update(from: v, count: width)
                }
                start += batchSize
            }
        }
    }
}

/// "mean" or "cls": embed returns one vector per text.
func embeddingPooling(_ p: UnsafePointer<CChar>?) throws -> Pooling {
    let name = try string(p, "pooling")
    guard let pooling = Pooling(rawValue: name), pooling != .none else {
        throw CallError(.invalid, "pooling \"\(name)\" is not one of mean, cls (embed returns one vector per text)")
    }
    return pooling
}
