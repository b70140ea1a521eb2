// MARK: - What a policy decides at an exit: whether an input leaves, which words halt

/// What a policy remembers about one input between exits.
public struct ExitDecisionState: Sendable, Equatable {
    public var previousArgmax: Int? = nil
    public var counter = 0
    public init() {}
}

extension ExitPolicy {
    /// Whether the policy reads the exit at `layer` (1-based; `isLast`: the
    /// final exit): `full` reads only the final exit and `budget(k)` only the
    /// first at or past k, so the exits below them need not run. Every other
    /// policy reads every exit it reaches.
    public func readsExit(layer: Int, isLast: Bool) -> Bool {
        if isLast { return true }
        switch self {
        case .full: return false
        case .budget(let k): return layer >= k
        default: return true
        }
    }

    /// Whether an input leaves at this exit, given its probabilities there.
    /// `layer` is the 1-based layer of the exit; `isLast` says it is the final exit.
    /// A word-level policy given one input's distribution treats the input as
    /// a one-word sentence (docs/methods.md#exit-policies).
    public func shouldExit(probabilities p: UnsafeBufferPointer<Float>, layer: Int, isLast: Bool,
                           state: inout ExitDecisionState) -> Bool {
        if isLast { return true }
        switch self {
        case .full: return false
        case .budget(let k): return layer >= k
        case .entropy(let tau): return normalizedEntropy(p) < tau
        case .confidence(let tau): return Double(p.max() ?? 0) >= tau
        case .patience(let patience):
            let a = p.indices.max { p[$0] < p[$1] } ?? 0
            if let prev = state.previousArgmax { state.counter = prev == a ? state.counter + 1 : 0 }
            state.previousArgmax = a
            return state.counter >= patience
        case .patienceConfidence(let patience, let tau):
            state.counter = normalizedEntropy(p) < tau ? state.counter + 1 : 0
            return state.counter >= patience
        case .sentee, .tokee:
            return haltingWords(scores: [tokenCriterion.score(p)], layer: layer, isLast: isLast)[0]
        }
    }

    /// How a word's uncertainty is scored at an exit: the policy's criterion
    /// for SENTEE and TOKEE, entropy for the others.
    public var tokenCriterion: TokenCriterion {
        switch self {
        case .sentee(_, let c), .tokee(_, _, let c): c
        default: .entropy
        }
    }

    /// Sequence labeling: which words halt at this exit, given every word's
    /// score there (`tokenCriterion.score`), halted words included: TOKEE's
    /// window reads u_l(j) of every neighbour j at the current layer l
    /// (docs/methods.md#tokee). Sequence-level policies other than `budget`
    /// run every word to the final exit.
    public func haltingWords(scores: [Double], layer: Int, isLast: Bool) -> [Bool] {
        let words = scores.count
        switch self {
        case .tokee(let window, let tau, let c):
            let windowed = windowScores(scores, window: window, criterion: c)
            return (0..<words).map { isLast || c.isSure(windowed[$0], tau: tau) }
        case .sentee(let tau, let c):
            let worst = scores.reduce(c == .entropy ? 0 : 1, c.worse)
            return (0..<words).map { _ in isLast || c.isSure(worst, tau: tau) }
        case .budget(let k):
            return (0..<words).map { _ in isLast || layer >= k }
        default:
            return (0..<words).map { _ in isLast }
        }
    }
}

/// TOKEE's window score of each word (docs/methods.md#tokee): the least sure
/// score among words i−k ... i+k, the window clipped at the sentence's edges.
public func windowScores(_ scores: [Double], window k: Int, criterion: TokenCriterion) -> [Double] {
    scores.indices.map { i in
        let lo = max(0, i - k), hi = min(scores.count - 1, i + k)
        return scores[lo...hi].reduce(scores[i], criterion.worse)
    }
}
