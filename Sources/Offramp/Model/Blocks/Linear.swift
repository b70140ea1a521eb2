// MARK: - Linear: HF `nn.Linear`, PyTorch layout

/// out (rows, outDim) = inp (rows, inDim) · weightᵀ + bias, weight (outDim, inDim).
/// A view into the parameter store; its gradient is at the same offset of `Gradients`.
struct Linear: @unchecked Sendable {
    let weight: UnsafeMutablePointer<Float>  // (outDim, inDim)
    let bias: UnsafeMutablePointer<Float>    // (outDim)
    let inDim: Int
    let outDim: Int

    /// The parameters `name.weight` and `name.bias` of the store.
    init(_ p: ParameterStore, _ name: String, inDim: Int, outDim: Int) {
        self.init(weight: p[name + ".weight"], bias: p[name + ".bias"], inDim: inDim, outDim: outDim)
    }

    init(weight: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>, inDim: Int, outDim: Int) {
        self.weight = weight; self.bias = bias; self.inDim = inDim; self.outDim = outDim
    }

    /// Output features `range` alone: the rows `range` of the weight, as a layer of its own.
    func outputs(_ range: Range<Int>) -> Linear {
        Linear(weight: weight + range.lowerBound * inDim, bias: bias + range.lowerBound, inDim: inDim, outDim: range.count)
    }

    /// out = inp · weightᵀ, the bias left to a fused epilogue. `ldOut`: out's row stride.
    func product(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, rows: Int, ldOut: Int? = nil) {
        matmulTransposedB(out, inp, weight, rows: rows, inDim: inDim, outDim: outDim, ldOut: ldOut)
    }

    /// out = inp · weightᵀ + bias.
    func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, rows: Int, ldOut: Int? = nil) {
        product(out, inp, rows: rows, ldOut: ldOut)
        addBias(out, bias, rows: rows, cols: outDim, ld: ldOut)
    }

    /// Backward of `forward`, accumulating: dInp (when given) and, with `grads`,
    /// the weight's and bias's gradients.
    func backward(dInp: UnsafeMutablePointer<Float>?, dOut: UnsafePointer<Float>, inp: UnsafePointer<Float>, rows: Int,
                  grads: Gradients?) {
        linearBackward(dInp: dInp, dWeight: grads.map { $0[weight] }, dBias: grads.map { $0[bias] }, dOut: dOut, inp: inp,
                       weight: weight, rows: rows, inDim: inDim, outDim: outDim)
    }
}
