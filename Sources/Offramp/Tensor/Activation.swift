// MARK: - Activations (fused with the bias add)

/// The feed-forward activations BERT-family configs name in `hidden_act`.
public enum Activation: String, Sendable, CaseIterable {
    /// erf form, BERT's default.
    case gelu
    /// tanh approximation.
    case geluNew = "gelu_new"
    case geluPytorchTanh = "gelu_pytorch_tanh"
    case relu

    public init(configName: String) throws {
        guard let a = Activation(rawValue: configName) else {
            throw OfframpError("hidden_act \"\(configName)\" is not supported (supported: \(Activation.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self = a
    }
}

/// x[r] = act(x[r] + bias) in place, for x (rows, cols).
public func biasActivation(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, cols: Int, activation: Activation) {
    parallelChunks(rows, minimumChunk: 16) { range in
        for r in range {
            let row = x + r * cols
            var i = 0
            switch activation {
            case .gelu:
                while i + 8 <= cols { store8(gelu8(load8(row + i) + load8(bias + i)), row + i); i += 8 }
            case .geluNew, .geluPytorchTanh:
                while i + 8 <= cols { store8(geluTanh8(load8(row + i) + load8(bias + i)), row + i); i += 8 }
            case .relu:
                while i + 8 <= cols {
                    let v = load8(row + i) + load8(bias + i)
                    store8(v.replacing(with: 0, where: v .< 0), row + i); i += 8
                }
            }
            // Tail lanes through the same vector code, so every element sees one formula.
            while i < cols {
                let v = Vec8(repeating: row[i] + bias[i])
                switch activation {
                case .gelu: row[i] = gelu8(v)[0]
                case .geluNew, .geluPytorchTanh: row[i] = geluTanh8(v)[0]
                case .relu: row[i] = max(v[0], 0)
                }
                i += 1
            }
        }
    }
}

// MARK: - Activations: training forward and backward
//
// Elementwise, so the forward must keep its *input* (the pre-activation,
// bias already added) for GELU and ReLU, or its *output* for tanh:
//   gelu (erf):   y = x/2 (1 + erf(x/√2))
//                 y' = (1 + erf(x/√2))/2 + x φ(x),  φ(x) = e^{-x²/2}/√(2π)
//   gelu (tanh):  u = √(2/π)(x + 0.044715 x³),  y = x/2 (1 + tanh u)
//                 y' = (1 + tanh u)/2 + x/2 (1 - tanh² u) √(2/π)(1 + 3·0.044715 x²)
//                 (evaluated as e/(e+1) + x · 2e/(e+1)² · u', e = e^{2u})
//   relu:         y' = x > 0 ? 1 : 0
//   tanh:         y' = 1 - y²
// Every backward is dInp += dOut · y'. Tail elements go through the same
// vector code as the body, so every element sees one formula.

/// Runs dInp[i] += dOut[i] · f(x)[i] over count elements, in parallel chunks.
@inline(__always)
private func accumulateScaledDerivative(
    _ dInp: UnsafeMutablePointer<Float>, _ dOut: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
    count: Int, _ f: (Vec8) -> Vec8
) {
    parallelChunks(count, minimumChunk: 16384) { range in
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            store8(load8(dInp + i).addingProduct(load8(dOut + i), f(load8(x + i))), dInp + i)
            i += 8
        }
        while i < range.upperBound {
            dInp[i] = dInp[i].addingProduct(dOut[i], f(Vec8(repeating: x[i]))[0])
            i += 1
        }
    }
}

/// out[i] = f(inp)[i], in parallel; out may alias inp.
@inline(__always)
private func mapElementwise(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count: Int, _ f: (Vec8) -> Vec8) {
    parallelChunks(count, minimumChunk: 16384) { range in
        var i = range.lowerBound
        while i + 8 <= range.upperBound { store8(f(load8(inp + i)), out + i); i += 8 }
        while i < range.upperBound { out[i] = f(Vec8(repeating: inp[i]))[0]; i += 1 }
    }
}

@inline(__always) private func relu8(_ x: Vec8) -> Vec8 { x.replacing(with: 0, where: x .< 0) }

/// d/dx of the erf GELU.
@inline(__always) func geluDerivative8(_ x: Vec8) -> Vec8 {
    let cdf = 0.5 * (1 + erf8(x * 0.70710678118654752))
    let pdf = exp8(-0.5 * x * x) * 0.39894228040143268  // 1/√(2π)
    return cdf.addingProduct(x, pdf)
}

/// d/dx of the tanh-approximation GELU.
///
/// With e = e^{2u}: (1 + tanh u)/2 = e/(e+1) and (1 - tanh² u)/2 = 2e/(e+1)²,
/// which avoid the cancellation of 1 ± tanh u where tanh u is near ∓1 (the
/// derivative there is small and would otherwise lose its relative precision).
/// u is clamped to ±9 as in `tanh8`.
@inline(__always) func geluTanhDerivative8(_ x: Vec8) -> Vec8 {
    let x2 = x * x
    let u = 0.7978845608028654 * (x + 0.044715 * x2 * x)
    let e = exp8(clamp8(u, -9, 9) * 2)
    let r = 1 / (e + 1)
    let du = 0.7978845608028654 * (1 + (3 * 0.044715) * x2)
    let halfSech2 = 2 * e * r * r
    return e * r + x * halfSech2 * du
}

/// out = act(inp) elementwise (out may alias inp): the same numerics as
/// `biasActivation` applied to inp = x + bias. For training, keep `inp`
/// (the pre-activation): `activationBackward` needs it.
public func activationForward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, count: Int, activation: Activation) {
    switch activation {
    case .gelu: mapElementwise(out, inp, count: count, gelu8)
    case .geluNew, .geluPytorchTanh: mapElementwise(out, inp, count: count, geluTanh8)
    case .relu: mapElementwise(out, inp, count: count, relu8)
    }
}

/// dInp += dOut · act'(preActivation), for any `Activation`.
public func activationBackward(
    dInp: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, preActivation: UnsafePointer<Float>,
    count: Int, activation: Activation
) {
    switch activation {
    case .gelu: geluBackward(dInp: dInp, dOut: dOut, preActivation: preActivation, count: count)
    case .geluNew, .geluPytorchTanh: geluTanhBackward(dInp: dInp, dOut: dOut, preActivation: preActivation, count: count)
    case .relu: reluBackward(dInp: dInp, dOut: dOut, preActivation: preActivation, count: count)
    }
}

/// erf GELU (BERT's "gelu"): dInp += dOut · (½(1 + erf(x/√2)) + x φ(x)).
public func geluBackward(dInp: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, preActivation: UnsafePointer<Float>, count: Int) {
    accumulateScaledDerivative(dInp, dOut, preActivation, count: count, geluDerivative8)
}

/// tanh-approximation GELU ("gelu_new", "gelu_pytorch_tanh").
public func geluTanhBackward(dInp: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, preActivation: UnsafePointer<Float>, count: Int) {
    accumulateScaledDerivative(dInp, dOut, preActivation, count: count, geluTanhDerivative8)
}

/// ReLU: dInp += dOut where x > 0. `preActivation` may also be the ReLU's
/// output (the same sign test).
public func reluBackward(dInp: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, preActivation: UnsafePointer<Float>, count: Int) {
    accumulateScaledDerivative(dInp, dOut, preActivation, count: count) { x in
        Vec8(repeating: 1).replacing(with: 0, where: x .<= 0)
    }
}

/// out = tanh(inp) elementwise (out may alias inp), `tanh8` numerics. Keep
/// `out` for `tanhBackward`.
public func tanhForward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, count: Int) {
    mapElementwise(out, inp, count: count, tanh8)
}

/// tanh (the BERT pooler): dInp += dOut · (1 - y²), y the forward's output.
public func tanhBackward(dInp: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, output: UnsafePointer<Float>, count: Int) {
    accumulateScaledDerivative(dInp, dOut, output, count: count) { y in 1 - y * y }
}
