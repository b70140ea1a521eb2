// MARK: - Dropout (inverted, as PyTorch)
//
// Forward: mask[i] = keep ? 1/(1-p) : 0 with P(keep) = 1 - p, x *= mask.
// Backward: dInp += dOut · mask. The mask is the only cache.
//
// Random bits: one 64-bit draw from the caller's generator seeds the call;
// element i's uniform is SplitMix64's finaliser of (seed + i·γ), so the mask is
// a pure function of (generator state, i): the same on every run and for every
// thread count, and filled in parallel.

@inline(__always)
private func mix64(_ x: UInt64) -> UInt64 {
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// Fills mask[0..<count] with 0 (probability p) or 1/(1-p). p = 0 gives all
/// ones and leaves `rng` untouched; p = 1 gives all zeros. Otherwise it
/// advances `rng` by one draw, whatever `count`.
public func dropoutMask(_ mask: UnsafeMutablePointer<Float>, count: Int, p: Float, rng: inout SeededRandom) {
    precondition(p >= 0 && p <= 1, "dropout probability \(p) is outside [0, 1]")
    if p == 0 { mask.update(repeating: 1, count: count); return }
    if p >= 1 { mask.update(repeating: 0, count: count); return }
    let seed = rng.next()
    let keepScale = 1 / (1 - p)
    parallelChunks(count, minimumChunk: 16384) { range in
        for i in range {
            let bits = mix64(seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15)
            let u = Float(bits >> 40) * (1.0 / Float(1 << 24))  // uniform in [0, 1)
            mask[i] = u < p ? 0 : keepScale
        }
    }
}

/// In place x *= mask with a fresh mask (see `dropoutMask`), which is kept
/// for `dropoutBackward`.
public func dropoutForward(_ x: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>, count: Int, p: Float, rng: inout SeededRandom) {
    dropoutMask(mask, count: count, p: p, rng: &rng)
    if p == 0 { return }
    multiplyElementwise(x, mask, count: count)
}

/// x[i] *= mask[i]: applies a saved mask (dropout's forward with a given mask).
public func multiplyElementwise(_ x: UnsafeMutablePointer<Float>, _ mask: UnsafePointer<Float>, count: Int) {
    parallelChunks(count, minimumChunk: 16384) { range in
        var i = range.lowerBound
        while i + 8 <= range.upperBound { store8(load8(x + i) * load8(mask + i), x + i); i += 8 }
        while i < range.upperBound { x[i] *= mask[i]; i += 1 }
    }
}

/// dInp += dOut · mask. dInp must not alias dOut (to apply a mask to a
/// gradient in place, use `multiplyElementwise`).
public func dropoutBackward(dInp: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, mask: UnsafePointer<Float>, count: Int) {
    parallelChunks(count, minimumChunk: 16384) { range in
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            store8(load8(dInp + i).addingProduct(load8(dOut + i), load8(mask + i)), dInp + i)
            i += 8
        }
        while i < range.upperBound { dInp[i] = dInp[i].addingProduct(dOut[i], mask[i]); i += 1 }
    }
}
