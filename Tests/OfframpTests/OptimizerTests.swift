import Foundation
import Offramp
import Testing

/// AdamW, the schedule and clipping against PyTorch's formulas, written out in Double.
@Suite struct OptimizerTests {
    @Test func adamWMatchesTorchFormulaOverThreeSteps() {
        let store = ParameterStore(specs: [("w", [37]), ("b", [5])])
        var rng = SeededRandom(seed: 1)
        for i in 0..<store.storage.count { store.storage[i] = rng.nextNormal() }
        var p = store.storage.array.map(Double.init)
        var m = [Double](repeating: 0, count: p.count), v = m
        let grads = Gradients(for: store)
        let adam = AdamW(parameterCount: store.storage.count)
        let groups = [(store.entry("w")!, AdamW.Group(learningRate: 1e-2, weightDecay: 0.1)),
                      (store.entry("b")!, AdamW.Group(learningRate: 3e-2, weightDecay: 0))]
        for step in 1...3 {
            for i in 0..<grads.storage.count { grads.storage[i] = rng.nextNormal() }
            adam.update(store: store, grads: grads, entries: groups, scale: 0.5)
            for (entry, group) in groups {
                let lr = Double(group.learningRate) * 0.5
                for i in entry.offset ..< entry.offset + entry.count {
                    let g = Double(grads.storage[i])
                    p[i] *= 1 - lr * Double(group.weightDecay)
                    m[i] = 0.9 * m[i] + 0.1 * g
                    v[i] = 0.999 * v[i] + 0.001 * g * g
                    let mHat = m[i] / (1 - Foundation.pow(0.9, Double(step))), vHat = v[i] / (1 - Foundation.pow(0.999, Double(step)))
                    p[i] -= lr * mHat / (vHat.squareRoot() + 1e-8)
                }
            }
        }
        for i in 0..<p.count { #expect(abs(Double(store.storage[i]) - p[i]) < 1e-5, "parameter \(i)") }
    }

    @Test func warmupThenLinearDecay() {
        #expect(linearWarmupDecay(step: 0, warmup: 10, total: 100) == 0)
        #expect(linearWarmupDecay(step: 5, warmup: 10, total: 100) == 0.5)
        #expect(linearWarmupDecay(step: 10, warmup: 10, total: 100) == 1)
        #expect(linearWarmupDecay(step: 55, warmup: 10, total: 100) == 0.5)
        #expect(linearWarmupDecay(step: 100, warmup: 10, total: 100) == 0)
    }

    @Test func clippingScalesToTheMaximumNorm() {
        let store = ParameterStore(specs: [("a", [3]), ("b", [1])])
        let grads = Gradients(for: store)
        for (i, g) in [Float(3), 0, 4, 12].enumerated() { grads.storage[i] = g }
        let norm = clipGradientNorm(grads, entries: [store.entry("a")!], maxNorm: 1)
        #expect(norm == 5)
        #expect(abs(grads.storage[0] - 0.6) < 1e-5 && abs(grads.storage[2] - 0.8) < 1e-5)
        #expect(grads.storage[3] == 12, "entries not listed are untouched")
    }
}
