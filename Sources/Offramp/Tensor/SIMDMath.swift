// MARK: - Vector primitives
//
// Kernels work on SIMD8<Float> (one AVX2 register when built with
// `-target-cpu haswell` or newer, as scripts/flags does). Loads and stores are
// unaligned, so any offset into a packed buffer works. Clamping uses
// `replacing(with:where:)`: `clamped`/`pointwiseMin` compile to scalar loops.

public typealias Vec8 = SIMD8<Float>

@inline(__always) func load8(_ p: UnsafePointer<Float>) -> Vec8 {
    UnsafeRawPointer(p).loadUnaligned(as: Vec8.self)
}

@inline(__always) func store8(_ v: Vec8, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec8.self)
}

@inline(__always) func clamp8(_ x: Vec8, _ lo: Float, _ hi: Float) -> Vec8 {
    var y = x.replacing(with: hi, where: x .> hi)
    y = y.replacing(with: lo, where: y .< lo)
    return y
}

// MARK: - exp

/// e^x per lane, Cephes' expf polynomial on a range-reduced argument:
/// x = n ln2 + r, |r| <= ln2/2, e^x = 2^n p(r). Relative error ~1e-7 (tested
/// against Glibc's expf). Inputs below -87.3 give 0-ish, above 88.7 clamp.
@inline(__always) public func exp8(_ x: Vec8) -> Vec8 {
    let xc = clamp8(x, -87.33654, 88.72283)
    // n = round(x·log2 e) by the 1.5·2²³ trick: adding it leaves n in the low
    // mantissa bits (round-to-nearest-even), so both the float n and its
    // integer bits come without a float-to-int conversion (SIMD's generic
    // conversion initialisers compile to slow scalar code).
    let magic = Vec8(repeating: 12582912.0)
    let shifted = xc * 1.44269504088896341 + magic
    let n = shifted - magic
    // r = x - n·ln2, with ln2 split in two so the product is exact.
    var r = xc.addingProduct(n, Vec8(repeating: -0.693359375))
    r = r.addingProduct(n, Vec8(repeating: 2.12194440e-4))
    var p = Vec8(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    p = p * (r * r) + r + 1
    // 2^n through the exponent bits.
    let nBits = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
    let bits = (nBits &+ 127) &<< 23
    return p * unsafeBitCast(bits, to: Vec8.self)
}

@inline(__always) public func expScalar(_ x: Float) -> Float {
    exp8(Vec8(repeating: x))[0]
}

// MARK: - erf, GELU, tanh

/// erf(x) per lane: a rational approximation x·P(x²)/Q(x²) on [-4, 4]
/// (outside, erf is ±1 in Float32). Max abs error ~1e-7 (tested against Glibc).
@inline(__always) public func erf8(_ a: Vec8) -> Vec8 {
    let x = clamp8(a, -4, 4)
    let x2 = x * x
    var p = Vec8(repeating: -2.72614225801306e-10)
    p = p * x2 + 2.77068142495902e-08
    p = p * x2 + -2.10102402082508e-06
    p = p * x2 + -5.69250639462346e-05
    p = p * x2 + -7.34990630326855e-04
    p = p * x2 + -2.95459980854025e-03
    p = p * x2 + -1.60960333262415e-02
    p = p * x
    var q = Vec8(repeating: -1.45660718464996e-05)
    q = q * x2 + -2.13374055278905e-04
    q = q * x2 + -1.68282697438203e-03
    q = q * x2 + -7.37332916720468e-03
    q = q * x2 + -1.42647390514189e-02
    return p / q
}

/// GELU, erf form (BERT's "gelu"): x/2 · (1 + erf(x/√2)).
@inline(__always) public func gelu8(_ x: Vec8) -> Vec8 {
    0.5 * x * (1 + erf8(x * 0.70710678118654752))
}

/// tanh per lane through exp: tanh(x) = 1 - 2/(e^{2x} + 1), exact to ~1e-7 abs.
@inline(__always) public func tanh8(_ x: Vec8) -> Vec8 {
    let e = exp8(clamp8(x, -9, 9) * 2)
    return 1 - 2 / (e + 1)
}

/// GELU, tanh approximation ("gelu_new", "gelu_pytorch_tanh").
@inline(__always) public func geluTanh8(_ x: Vec8) -> Vec8 {
    let inner = 0.7978845608028654 * (x + 0.044715 * x * x * x)
    return 0.5 * x * (1 + tanh8(inner))
}

// MARK: - Small vector helpers

/// a[i] += b[i] for i in 0..<count.
@inline(__always) public func vectorAdd(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count { store8(load8(a + i) + load8(b + i), a + i); i += 8 }
    while i < count { a[i] += b[i]; i += 1 }
}

/// Σ a[i]·b[i].
@inline(__always) public func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var acc = Vec8()
    var i = 0
    while i + 8 <= count { acc = acc.addingProduct(load8(a + i), load8(b + i)); i += 8 }
    var s = acc.sum()
    while i < count { s += a[i] * b[i]; i += 1 }
    return s
}
