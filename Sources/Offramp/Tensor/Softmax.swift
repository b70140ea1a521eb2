// MARK: - Softmax

/// In place, x[0..<count] = softmax(x) (max-subtracted). Returns nothing; the
/// row sums to 1.
@inline(__always)
public func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
    if count == 0 { return }
    var m8 = Vec8(repeating: -.infinity)
    var i = 0
    while i + 8 <= count { m8 = m8.replacing(with: load8(x + i), where: load8(x + i) .> m8); i += 8 }
    var m = m8.max()
    while i < count { m = max(m, x[i]); i += 1 }
    if m == -.infinity { m = 0 }  // every entry masked: avoid NaN from -inf - -inf
    let mv = Vec8(repeating: m)
    var s8 = Vec8()
    i = 0
    while i + 8 <= count { let e = exp8(load8(x + i) - mv); store8(e, x + i); s8 += e; i += 8 }
    var s = s8.sum()
    while i < count { let e = expScalar(x[i] - m); x[i] = e; s += e; i += 1 }
    let inv = Vec8(repeating: s > 0 ? 1 / s : 0)
    i = 0
    while i + 8 <= count { store8(load8(x + i) * inv, x + i); i += 8 }
    while i < count { x[i] *= inv[0]; i += 1 }
}
