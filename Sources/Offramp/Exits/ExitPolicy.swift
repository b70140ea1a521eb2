import Foundation

// MARK: - Exit policies (docs/methods.md#uncertainty, #exit-policies)

/// When an input leaves the encoder.
public enum ExitPolicy: Sendable, Equatable, CustomStringConvertible {
    /// Every layer runs; the final exit answers.
    case full
    /// Every input exits at exit layer k (budgeted mode).
    case budget(layer: Int)
    /// Exit at the first exit whose normalized entropy u < tau.
    case entropy(Double)
    /// Exit at the first exit whose max probability c >= tau.
    case confidence(Double)
    /// PABEE: exit once the argmax has stayed the same for P consecutive exits.
    case patience(Int)
    /// PCEE: exit once P consecutive exits each have u < tau.
    case patienceConfidence(patience: Int, tau: Double)
    /// Sequence labeling, SENTEE: the whole sentence exits once its most
    /// uncertain word is below tau (entropy) or its least confident word
    /// reaches tau (confidence).
    case sentee(Double, TokenCriterion)
    /// Sequence labeling, TOKEE: word i halts once every word within
    /// `window` of it is below tau (entropy) or at least tau (confidence);
    /// halted words are copied upward (halt-and-copy).
    case tokee(window: Int, tau: Double, TokenCriterion)

    public var name: String {
        switch self {
        case .full: "full"
        case .budget: "budget"
        case .entropy: "entropy"
        case .confidence: "confidence"
        case .patience: "patience"
        case .patienceConfidence: "patience-confidence"
        case .sentee(_, let c): c == .entropy ? "sentee" : "sentee-confidence"
        case .tokee(_, _, let c): c == .entropy ? "tokee" : "tokee-confidence"
        }
    }

    /// Whether the policy decides per word (sequence labeling) rather than per input.
    public var isTokenLevel: Bool {
        switch self {
        case .sentee, .tokee: true
        default: false
        }
    }

    /// The setting as a number for tables and plots (threshold, patience or layer).
    public var setting: String {
        switch self {
        case .full: "-"
        case .budget(let k): "\(k)"
        case .entropy(let t), .confidence(let t): Self.format(t)
        case .patience(let p): "\(p)"
        case .patienceConfidence(let p, let t): "\(p)@\(Self.format(t))"
        case .sentee(let t, _): Self.format(t)
        case .tokee(let k, let t, _): "\(k)@\(Self.format(t))"
        }
    }

    public var description: String { setting == "-" ? name : "\(name)(\(setting))" }

    static func format(_ x: Double) -> String {
        var s = String(format: "%.4f", x)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }

    /// Parses a policy name and its setting as the command line gives them;
    /// errors name the option (`optionPrefix` + field: "--threshold" on the
    /// command line, "threshold" for a JSON body) and the valid range.
    public static func parse(_ name: String, threshold: Double?, patience: Int?, layer: Int?, window: Int? = nil,
                             layers: Int, optionPrefix o: String = "--") throws -> ExitPolicy {
        func need<T>(_ v: T?, _ option: String) throws -> T {
            guard let v else { throw OfframpError("policy \(name) needs \(option)") }
            return v
        }
        func unit(_ t: Double, _ option: String) throws -> Double {
            guard t >= 0 && t <= 1 else { throw OfframpError("\(option) \(t) is out of range: it must be in [0, 1]") }
            return t
        }
        switch name {
        case "full": return .full
        case "budget":
            let k = try need(layer, "\(o)layer K")
            guard (1...layers).contains(k) else { throw OfframpError("\(o)layer \(k) is out of range: the model has layers 1...\(layers)") }
            return .budget(layer: k)
        case "entropy": return .entropy(try unit(try need(threshold, "\(o)threshold T"), "\(o)threshold"))
        case "confidence": return .confidence(try unit(try need(threshold, "\(o)threshold T"), "\(o)threshold"))
        case "patience":
            let p = try need(patience, "\(o)patience P")
            guard p >= 1 && p < layers else { throw OfframpError("\(o)patience \(p) is out of range: it must be in 1...\(layers - 1)") }
            return .patience(p)
        case "patience-confidence":
            let p = try need(patience, "\(o)patience P")
            guard p >= 1 && p <= layers else { throw OfframpError("\(o)patience \(p) is out of range: it must be in 1...\(layers)") }
            return .patienceConfidence(patience: p, tau: try unit(try need(threshold, "\(o)threshold T"), "\(o)threshold"))
        case "sentee", "sentee-confidence":
            return .sentee(try unit(try need(threshold, "\(o)threshold T"), "\(o)threshold"), name == "sentee" ? .entropy : .confidence)
        case "tokee", "tokee-confidence":
            let k = window ?? 2
            guard k >= 0 else { throw OfframpError("\(o)window \(k) is out of range: it must be 0 or more") }
            return .tokee(window: k, tau: try unit(try need(threshold, "\(o)threshold T"), "\(o)threshold"), name == "tokee" ? .entropy : .confidence)
        default:
            throw OfframpError("unknown policy \"\(name)\" (known: \(Self.knownNames.joined(separator: ", ")))")
        }
    }
}

extension ExitPolicy {
    /// Every policy name `parse` knows.
    public static let knownNames = ["full", "budget", "entropy", "confidence", "patience", "patience-confidence",
                                    "sentee", "sentee-confidence", "tokee", "tokee-confidence"]
    /// The names that make sense for a task: sequence-level policies for
    /// classification, SENTEE and TOKEE for labeling (full and budget for both).
    public static func names(for task: ExitTask) -> [String] {
        task == .classify ? Array(knownNames.prefix(6)) : ["full", "budget", "sentee", "sentee-confidence", "tokee", "tokee-confidence"]
    }

    /// The compact form saved in a model's config: "entropy:0.3", "patience:2",
    /// "budget:3", "patience-confidence:2:0.1", "full".
    public var encoded: String {
        switch self {
        case .full: "full"
        case .budget(let k): "budget:\(k)"
        case .entropy(let t): "entropy:\(t)"
        case .confidence(let t): "confidence:\(t)"
        case .patience(let p): "patience:\(p)"
        case .patienceConfidence(let p, let t): "patience-confidence:\(p):\(t)"
        case .sentee(let t, _): "\(name):\(t)"
        case .tokee(let k, let t, _): "\(name):\(k):\(t)"
        }
    }

    public init(encoded: String, layers: Int) throws {
        let parts = encoded.split(separator: ":").map(String.init)
        guard let name = parts.first else { throw OfframpError("empty policy") }
        let nums = parts.dropFirst().map { Double($0) }
        guard nums.allSatisfy({ $0 != nil }) else { throw OfframpError("policy \"\(encoded)\": settings must be numbers") }
        let v = nums.map { $0! }
        switch name {
        case "budget": self = try .parse(name, threshold: nil, patience: nil, layer: v.first.map { Int($0) }, layers: layers)
        case "patience": self = try .parse(name, threshold: nil, patience: v.first.map { Int($0) }, layer: nil, layers: layers)
        case "patience-confidence":
            self = try .parse(name, threshold: v.count > 1 ? v[1] : nil, patience: v.first.map { Int($0) }, layer: nil, layers: layers)
        case "tokee", "tokee-confidence":
            self = try .parse(name, threshold: v.count > 1 ? v[1] : nil, patience: nil, layer: nil, window: v.first.map { Int($0) }, layers: layers)
        default: self = try .parse(name, threshold: v.first, patience: nil, layer: nil, layers: layers)
        }
    }
}

/// How SENTEE and TOKEE measure a word's uncertainty at an exit (docs/methods.md#uncertainty).
public enum TokenCriterion: String, Sendable, Equatable {
    /// Normalized entropy u; a word is sure when u < tau.
    case entropy
    /// Max probability c; a word is sure when c >= tau.
    case confidence

    /// The word's score at an exit: u or c.
    public func score(_ p: UnsafeBufferPointer<Float>) -> Double {
        self == .entropy ? normalizedEntropy(p) : Double(p.max() ?? 0)
    }

    /// Whether a score (or a window's worst score) is sure enough at tau.
    public func isSure(_ score: Double, tau: Double) -> Bool { self == .entropy ? score < tau : score >= tau }

    /// The less sure of two scores.
    public func worse(_ a: Double, _ b: Double) -> Double { self == .entropy ? max(a, b) : min(a, b) }
}

/// Normalized entropy −Σ p log p / log N, in [0, 1].
public func normalizedEntropy(_ p: UnsafeBufferPointer<Float>) -> Double {
    var h = 0.0
    for x in p where x > 0 { h -= Double(x) * log(Double(x)) }
    return p.count > 1 ? h / log(Double(p.count)) : 0
}
