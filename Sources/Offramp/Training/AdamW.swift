import Foundation

// MARK: - AdamW with decoupled weight decay, warm-up then linear decay

/// AdamW over one flat parameter buffer (PyTorch's torch.optim.AdamW:
/// p ← p·(1 − lr·wd), then p ← p − lr·m̂/(√v̂ + ε)). Each parameter entry has
/// its own learning rate and decay flag, and frozen entries are skipped.
public final class AdamW: @unchecked Sendable {
    public struct Group: Sendable {
        public var learningRate: Float
        public var weightDecay: Float

        public init(learningRate: Float, weightDecay: Float) {
            self.learningRate = learningRate
            self.weightDecay = weightDecay
        }
    }

    public let beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8
    public let m: FloatBuffer, v: FloatBuffer
    public internal(set) var step = 0

    public init(parameterCount: Int) {
        m = FloatBuffer(count: parameterCount)
        v = FloatBuffer(count: parameterCount)
    }

    /// One update of the entries given with their group; `scale` multiplies
    /// every learning rate (the schedule).
    public func update(store: ParameterStore, grads: Gradients, entries: [(ParameterStore.Entry, Group)], scale: Float) {
        step += 1
        let bc1 = 1 - powf(beta1, Float(step)), bc2 = 1 - powf(beta2, Float(step))
        let b1 = beta1, b2 = beta2, e = eps
        for (entry, group) in entries {
            let lr = group.learningRate * scale
            let decay = 1 - lr * group.weightDecay
            let p = store.storage.pointer + entry.offset, g = grads.storage.pointer + entry.offset
            let mp = m.pointer + entry.offset, vp = v.pointer + entry.offset
            parallelChunks(entry.count, minimumChunk: 1 << 15) { range in
                // Eight lanes at a time; the scalar tail runs the same formula.
                let b1v = Vec8(repeating: b1), b2v = Vec8(repeating: b2), c1 = Vec8(repeating: 1 - b1), c2 = Vec8(repeating: 1 - b2)
                let inv1 = Vec8(repeating: 1 / bc1), inv2 = Vec8(repeating: 1 / bc2), lrv = Vec8(repeating: lr)
                let dv = Vec8(repeating: decay), ev = Vec8(repeating: e)
                var i = range.lowerBound
                while i + 8 <= range.upperBound {
                    let gi = load8(g + i)
                    let mi = b1v * load8(mp + i) + c1 * gi
                    let vi = b2v * load8(vp + i) + c2 * gi * gi
                    store8(mi, mp + i); store8(vi, vp + i)
                    store8(load8(p + i) * dv - lrv * (mi * inv1) / ((vi * inv2).squareRoot() + ev), p + i)
                    i += 8
                }
                while i < range.upperBound {
                    let gi = g[i]
                    let mi = b1 * mp[i] + (1 - b1) * gi
                    let vi = b2 * vp[i] + (1 - b2) * gi * gi
                    mp[i] = mi; vp[i] = vi
                    p[i] = p[i] * decay - lr * (mi * (1 / bc1)) / ((vi * (1 / bc2)).squareRoot() + e)
                    i += 1
                }
            }
        }
    }
}

/// Linear warm-up from 0 to 1 over `warmup` steps, then linear decay to 0 at
/// `total` (transformers' get_linear_schedule_with_warmup).
public func linearWarmupDecay(step: Int, warmup: Int, total: Int) -> Float {
    if step < warmup { return Float(step) / Float(max(1, warmup)) }
    return max(0, Float(total - step) / Float(max(1, total - warmup)))
}

/// Scales the given entries' gradients so their global L2 norm is at most
/// `maxNorm`; returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ grads: Gradients, entries: [ParameterStore.Entry], maxNorm: Float) -> Float {
    var sum: Double = 0
    for e in entries {
        let g = grads.storage.pointer + e.offset
        sum += Double(dot(g, g, count: e.count))
    }
    let norm = Float(sum.squareRoot())
    if maxNorm > 0 && norm > maxNorm {
        let s = maxNorm / (norm + 1e-6)
        for e in entries {
            let g = grads.storage.pointer + e.offset
            for i in 0..<e.count { g[i] *= s }
        }
    }
    return norm
}
