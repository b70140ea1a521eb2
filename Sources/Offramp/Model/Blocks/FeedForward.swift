// MARK: - Feed-forward: HF `BertIntermediate` + `BertOutput`

/// out = LayerNorm(dropout(act(a · W1ᵀ + b1) · W2ᵀ + b2) + a), row by row.
struct FeedForward: @unchecked Sendable {
    let intermediate: Linear  // (I, H) `intermediate.dense`
    let activation: Activation
    let output: ResidualOutput  // `output.dense` (H, I), `output.LayerNorm`

    init(_ p: ParameterStore, _ prefix: String, config c: BertConfig, packing: WeightPacking? = nil) throws {
        intermediate = Linear(p, prefix + "intermediate.dense", inDim: c.hiddenSize, outDim: c.intermediateSize, packing: packing)
        activation = try Activation(configName: c.hiddenAct)
        output = ResidualOutput(p, prefix + "output.", inDim: c.intermediateSize, width: c.hiddenSize, eps: Float(c.layerNormEps),
                                packing: packing)
    }

    /// a (rows, H) -> the block's output, written to `out`, or when `out` is nil
    /// in place of the second product (scratch); returns where it is.
    /// `saved` (training) keeps the activations and applies dropout.
    @discardableResult
    func forward(_ a: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>?,
                 activations acts: LayerActivations, training: Bool, workspace ws: Workspace) -> UnsafeMutablePointer<Float> {
        let h = output.norm.width, inter = intermediate.outDim
        let hidden = acts.intermediate(rows * inter)
        intermediate.product(hidden, a, rows: rows)
        if training {
            addBias(hidden, intermediate.bias, rows: rows, cols: inter)
            activationForward(out: acts.activated(rows * inter), inp: hidden, count: rows * inter, activation: activation)
        } else {
            biasActivation(hidden, bias: intermediate.bias, rows: rows, cols: inter, activation: activation)
        }
        let activated = training ? acts.activated(rows * inter) : hidden
        let product = ws.buffer("layer.ffnOut", count: rows * h)
        let y = out ?? product
        output.forward(out: y, product: product, inp: activated, residual: a, rows: rows,
                       saved: training ? acts.outputNorm : nil, pass: acts.pass)
        return y
    }

    /// From dOut (rows, H): dA (rows, H) accumulates, parameters' gradients go to `grads`.
    func backward(dA: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, a: UnsafePointer<Float>, rows: Int,
                  activations acts: LayerActivations, grads: Gradients, workspace ws: Workspace) {
        let h = output.norm.width, inter = intermediate.outDim
        let dActivated = ws.zeroed("grad.activated", rows * inter)
        output.backward(dInp: dActivated, dResidual: dA, dOut: dOut, inp: acts.activated(rows * inter), rows: rows,
                        saved: acts.outputNorm, pass: acts.pass, grads: grads, dSum: ws.zeroed("grad.sum2", rows * h))
        let dHidden = ws.zeroed("grad.intermediate", rows * inter)
        activationBackward(dInp: dHidden, dOut: dActivated, preActivation: acts.intermediate(rows * inter),
                           count: rows * inter, activation: activation)
        intermediate.backward(dInp: dA, dOut: dHidden, inp: a, rows: rows, grads: grads)
    }
}
