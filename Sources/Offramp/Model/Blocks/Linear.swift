// MARK: - Linear: HF `nn.Linear`, PyTorch layout

/// How an encoder's linear layers hold their weights for inference: the
/// precision (one whose kernels run here; fp32: the weight copied once into
/// the packed kernel's layout) and the scratch its products share; SmoothQuant's ranges and α (int8); or, to calibrate
/// SmoothQuant, fp32 products that record their inputs' ranges; or the
/// weights a quantized checkpoint stored, already packed (`stored`).
struct WeightPacking {
    let precision: Precision
    let scratch: PrecisionScratch
    var smoothing: (ranges: ChannelRanges, alpha: Float)? = nil
    var recording: ChannelRanges? = nil
    var stored: QuantizedEncoderWeights? = nil
}

/// out (rows, outDim) = inp (rows, inDim) · weightᵀ + bias, weight (outDim, inDim).
/// A view into the parameter store; its gradient is at the same offset of `Gradients`.
/// With `packed`, inference products use its int8, bf16 or packed fp32 copy of the weight
/// (columns `packedColumn ..< packedColumn + outDim` of it); training and the
/// backward pass always use the fp32 weight. A layer of a quantized
/// checkpoint has no fp32 weight (nil), only `packed`: inference only.
struct Linear: @unchecked Sendable {
    let weight: UnsafeMutablePointer<Float>?  // (outDim, inDim)
    let bias: UnsafeMutablePointer<Float>    // (outDim)
    let inDim: Int
    let outDim: Int
    let packed: PackedWeights?
    let packedColumn: Int
    /// Calibrating SmoothQuant: where the inputs' ranges go, under `key`
    /// (the whole layer's weight, shared by its `outputs` views).
    let recorder: ChannelRanges?
    let key: UnsafeRawPointer

    /// The parameters `name.weight` and `name.bias` of the store (for the
    /// query, key and value weights, adjacent, `name` is the query's and
    /// outDim 3H). A weight stored elsewhere comes packed from `packing.stored`.
    init(_ p: ParameterStore, _ name: String, inDim: Int, outDim: Int, packing: WeightPacking? = nil) {
        let bias = p[name + ".bias"]
        if let stored = packing?.stored?.linears[name] {
            precondition(stored.outDim == outDim && stored.inDim == inDim, "\(name): stored packed weight of another shape")
            self.init(weight: p.pointer(name + ".weight"), bias: bias, inDim: inDim, outDim: outDim, packed: stored, packedColumn: 0,
                      recorder: nil, key: UnsafeRawPointer(Unmanaged.passUnretained(stored).toOpaque()))
            return
        }
        guard let weight = p.pointer(name + ".weight") else { preconditionFailure("\(name).weight is stored elsewhere but not packed") }
        self.init(weight: weight, bias: bias, inDim: inDim, outDim: outDim, packing: packing)
    }

    init(weight: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>, inDim: Int, outDim: Int,
         packing: WeightPacking? = nil) {
        let key = UnsafeRawPointer(weight)
        let packed = packing.flatMap { p -> PackedWeights? in
            // Recording SmoothQuant's ranges reads each input in the fp32 path.
            guard p.precision != .fp32 || (p.recording == nil && fp32PackingAvailable) else { return nil }
            let s = p.precision == .int8 ? p.smoothing.flatMap {
                $0.ranges.smoothing(key, weight: weight, outDim: outDim, inDim: inDim, alpha: $0.alpha)
            } : nil
            return PackedWeights(weight, outDim: outDim, inDim: inDim, precision: p.precision, scratch: p.scratch, smoothing: s)
        }
        self.init(weight: weight, bias: bias, inDim: inDim, outDim: outDim, packed: packed, packedColumn: 0,
                  recorder: packing?.recording, key: key)
    }

    private init(weight: UnsafeMutablePointer<Float>?, bias: UnsafeMutablePointer<Float>, inDim: Int, outDim: Int,
                 packed: PackedWeights?, packedColumn: Int, recorder: ChannelRanges?, key: UnsafeRawPointer) {
        self.weight = weight; self.bias = bias; self.inDim = inDim; self.outDim = outDim
        self.packed = packed; self.packedColumn = packedColumn; self.recorder = recorder; self.key = key
    }

    /// Output features `range` alone: the rows `range` of the weight, as a
    /// layer of its own (packed: `range` must start at a multiple of 16).
    func outputs(_ range: Range<Int>) -> Linear {
        Linear(weight: weight.map { $0 + range.lowerBound * inDim }, bias: bias + range.lowerBound, inDim: inDim, outDim: range.count,
               packed: packed, packedColumn: packedColumn + range.lowerBound, recorder: recorder, key: key)
    }

    /// out = inp · weightᵀ, the bias left to a fused epilogue. `ldOut`: out's row stride.
    func product(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, rows: Int, ldOut: Int? = nil) {
        if let packed {
            packed.product(out, inp, rows: rows, columns: packedColumn ..< packedColumn + outDim, ldOut: ldOut)
        } else {
            recorder?.record(key, inp, rows: rows, inDim: inDim, ldInp: inDim)
            matmulTransposedB(out, inp, weight!, rows: rows, inDim: inDim, outDim: outDim, ldOut: ldOut)
        }
    }

    /// out = inp · weightᵀ + bias.
    func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, rows: Int, ldOut: Int? = nil) {
        if let packed {  // the bias in the kernel's epilogue
            packed.product(out, inp, rows: rows, columns: packedColumn ..< packedColumn + outDim, ldOut: ldOut, bias: bias)
            return
        }
        product(out, inp, rows: rows, ldOut: ldOut)
        addBias(out, bias, rows: rows, cols: outDim, ld: ldOut)
    }

    /// Backward of `forward`, accumulating: dInp (when given) and, with `grads`,
    /// the weight's and bias's gradients.
    func backward(dInp: UnsafeMutablePointer<Float>?, dOut: UnsafePointer<Float>, inp: UnsafePointer<Float>, rows: Int,
                  grads: Gradients?) {
        guard let weight else { preconditionFailure("backward through a layer that holds no fp32 weight (a quantized checkpoint)") }
        linearBackward(dInp: dInp, dWeight: grads.map { $0[weight] }, dBias: grads.map { $0[bias] }, dOut: dOut, inp: inp,
                       weight: weight, rows: rows, inDim: inDim, outDim: outDim)
    }
}
