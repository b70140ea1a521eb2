// MARK: - LayerNorm: HF `nn.LayerNorm`, and the residual output blocks built on it

/// out = (x − mean) / √(var + eps) · gamma + beta over each row of `width` values.
struct LayerNorm: @unchecked Sendable {
    let gamma: UnsafeMutablePointer<Float>  // (width) HF `weight`
    let beta: UnsafeMutablePointer<Float>   // (width) HF `bias`
    let width: Int
    let eps: Float

    /// The parameters `name.weight` and `name.bias` of the store.
    init(_ p: ParameterStore, _ name: String, width: Int, eps: Float) {
        gamma = p[name + ".weight"]; beta = p[name + ".bias"]; self.width = width; self.eps = eps
    }
}

/// HF `BertSelfOutput` (`attention.output.*`) and `BertOutput` (`output.*`):
/// out = LayerNorm(dropout(inp · Wᵀ + b) + residual).
struct ResidualOutput: @unchecked Sendable {
    let dense: Linear
    let norm: LayerNorm

    init(_ p: ParameterStore, _ prefix: String, inDim: Int, width: Int, eps: Float, packing: WeightPacking? = nil) {
        dense = Linear(p, prefix + "dense", inDim: inDim, outDim: width, packing: packing)
        norm = LayerNorm(p, prefix + "LayerNorm", width: width, eps: eps)
    }

    /// out (rows, H) from inp (rows, inDim) and residual (rows, H); `product`
    /// (rows, H) receives the dense output first (it may be `out`). Training
    /// (`saved`) adds dropout and keeps what `backward` needs.
    func forward(out: UnsafeMutablePointer<Float>, product: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                 residual: UnsafePointer<Float>, rows: Int, saved: ResidualNormActivations?, pass: TrainingPass) {
        let h = norm.width
        dense.product(product, inp, rows: rows)
        if let saved {
            addBias(product, dense.bias, rows: rows, cols: h)
            pass.dropout(product, count: rows * h, mask: saved.mask)
            residualLayerNormForward(out: out, sum: saved.sum(rows * h), mean: saved.mean(rows), rstd: saved.rstd(rows),
                                     x: product, bias: nil, residual: residual,
                                     gamma: norm.gamma, beta: norm.beta, rows: rows, cols: h, eps: norm.eps)
        } else {
            residualLayerNorm(out: out, x: product, bias: dense.bias, residual: residual,
                              gamma: norm.gamma, beta: norm.beta, rows: rows, cols: h, eps: norm.eps)
        }
    }

    /// From dOut (rows, H): dInp (rows, inDim) and dResidual (rows, H) accumulate,
    /// the parameters' gradients go to `grads`. `dSum` (rows, H) is zeroed scratch.
    func backward(dInp: UnsafeMutablePointer<Float>, dResidual: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                  inp: UnsafePointer<Float>, rows: Int, saved: ResidualNormActivations, pass: TrainingPass,
                  grads: Gradients, dSum: UnsafeMutablePointer<Float>) {
        let h = norm.width
        layerNormBackward(dInp: dSum, dGamma: grads[norm.gamma], dBeta: grads[norm.beta], dOut: dOut,
                          inp: saved.sum(rows * h), mean: saved.mean(rows), rstd: saved.rstd(rows), gamma: norm.gamma,
                          rows: rows, cols: h, dResidual: dResidual)
        pass.applyMask(dSum, count: rows * h, mask: saved.mask)
        dense.backward(dInp: dInp, dOut: dSum, inp: inp, rows: rows, grads: grads)
    }
}
