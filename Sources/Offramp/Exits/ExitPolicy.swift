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

    /// The policy's name (its `Kind`'s).
    public var name: String { kind.name }

    /// Whether the policy decides per word (sequence labeling) rather than per input.
    public var isTokenLevel: Bool {
        switch self {
        case .sentee, .tokee: true
        default: false
        }
    }

    /// The setting as a number for tables and plots (threshold, patience or
    /// layer; window@threshold and patience@threshold where there are two).
    public var setting: String {
        let values = settingValues.map { $0.text(number: Self.format) }
        return values.isEmpty ? "-" : values.joined(separator: "@")
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
                             layers: Int, optionPrefix: String = "--") throws -> ExitPolicy {
        try kind(named: name).policy(threshold: threshold, patience: patience, layer: layer, window: window,
                                     layers: layers, optionPrefix: optionPrefix)
    }

    /// The kind called `name`, or an error listing the known ones.
    static func kind(named name: String) throws -> Kind {
        guard let kind = Kind(rawValue: name) else {
            throw OfframpError("unknown policy \"\(name)\" (known: \(knownNames.joined(separator: ", ")))")
        }
        return kind
    }
}

extension ExitPolicy {
    /// Every policy name `parse` knows.
    public static var knownNames: [String] { Kind.allCases.map(\.name) }

    /// The names that make sense for a task: sequence-level policies for
    /// classification, SENTEE and TOKEE for labeling (full and budget for both).
    public static func names(for task: ExitTask) -> [String] {
        Kind.allCases.filter { $0.applies(to: task) }.map(\.name)
    }

    /// The compact form saved in a model's config: the name, then the
    /// settings in `Kind.settings` order: "entropy:0.3", "patience:2",
    /// "budget:3", "patience-confidence:2:0.1", "tokee:2:0.3", "full".
    /// Old checkpoints hold these strings: the form must not change.
    public var encoded: String {
        ([name] + settingValues.map { $0.text { "\($0)" } }).joined(separator: ":")
    }

    public init(encoded: String, layers: Int) throws {
        let parts = encoded.split(separator: ":").map(String.init)
        guard let name = parts.first else { throw OfframpError("empty policy") }
        let nums = parts.dropFirst().map { Double($0) }
        guard nums.allSatisfy({ $0 != nil }) else { throw OfframpError("policy \"\(encoded)\": settings must be numbers") }
        let kind = try Self.kind(named: name)
        // Extra numbers are ignored, missing ones are errors naming the setting.
        let given = Dictionary(uniqueKeysWithValues: zip(kind.settings, nums.map { $0! }))
        // A whole-number setting read from a file may be anything ("budget:1e300",
        // "patience:inf"): Int(Double) would trap, so it must be exactly an Int
        // of a sane size (the range checks of `policy` then say which sizes).
        func whole(_ setting: Setting) throws -> Int? {
            guard let d = given[setting] else { return nil }
            guard let i = Int(exactly: d), abs(i) < 1 << 30 else {
                throw OfframpError("policy \"\(encoded)\": \(setting.rawValue) must be a whole number, got \(d)")
            }
            return i
        }
        self = try kind.policy(threshold: given[.threshold], patience: try whole(.patience),
                               layer: try whole(.layer), window: try whole(.window), layers: layers, optionPrefix: "")
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
