import Foundation

// MARK: - The policy vocabulary: one table

extension ExitPolicy {
    /// Every exit policy by name, with what goes with the name: the task it
    /// serves, the settings it takes (in the order `encoded` writes them),
    /// how those settings are checked, and the grid `sweep` tries. Adding a
    /// policy means a case here (and in `ExitPolicy` with its decision).
    public enum Kind: String, CaseIterable, Sendable {
        case full, budget, entropy, confidence, patience
        case patienceConfidence = "patience-confidence"
        case sentee
        case senteeConfidence = "sentee-confidence"
        case tokee
        case tokeeConfidence = "tokee-confidence"

        /// The name on the command line, in request bodies and in saved configs.
        public var name: String { rawValue }

        /// Whether the policy serves `task`: sequence-level policies for
        /// classification, SENTEE and TOKEE for labeling, full and budget for both.
        public func applies(to task: ExitTask) -> Bool {
            switch self {
            case .full, .budget: true
            case .entropy, .confidence, .patience, .patienceConfidence: task == .classify
            case .sentee, .senteeConfidence, .tokee, .tokeeConfidence: task == .label
            }
        }

        /// The settings the policy takes, in the order `encoded` writes them.
        public var settings: [Setting] {
            switch self {
            case .full: []
            case .budget: [.layer]
            case .entropy, .confidence, .sentee, .senteeConfidence: [.threshold]
            case .patience: [.patience]
            case .patienceConfidence: [.patience, .threshold]
            case .tokee, .tokeeConfidence: [.window, .threshold]
            }
        }

        /// Whether `sweep` and `calibrate` try it when no policies are named.
        public var isSweptByDefault: Bool { [.entropy, .confidence, .patience, .sentee, .tokee].contains(self) }

        /// The policies of this kind in `task`'s default sweep, in table order.
        public static func sweptByDefault(for task: ExitTask) -> [Kind] {
            allCases.filter { $0.isSweptByDefault && $0.applies(to: task) }
        }

        /// The policy with these settings, each checked; errors name the
        /// option (`optionPrefix` + setting: "--threshold" on the command
        /// line, "threshold" in a JSON body) and the valid range.
        public func policy(threshold: Double?, patience: Int?, layer: Int?, window: Int?, layers: Int,
                           optionPrefix o: String = "--") throws -> ExitPolicy {
            func need<T>(_ v: T?, _ setting: Setting) throws -> T {
                guard let v else { throw OfframpError("policy \(name) needs \(o)\(setting.rawValue) \(setting.placeholder)") }
                return v
            }
            func checkedThreshold() throws -> Double {
                let t = try need(threshold, .threshold)
                guard t >= 0 && t <= 1 else { throw OfframpError("\(o)threshold \(t) is out of range: it must be in [0, 1]") }
                return t
            }
            func checkedPatience(upTo most: Int) throws -> Int {
                let p = try need(patience, .patience)
                guard p >= 1 && p <= most else { throw OfframpError("\(o)patience \(p) is out of range: it must be in 1...\(most)") }
                return p
            }
            func checkedWindow() throws -> Int {
                let k = window ?? 2
                guard k >= 0 else { throw OfframpError("\(o)window \(k) is out of range: it must be 0 or more") }
                return k
            }
            switch self {
            case .full: return .full
            case .budget:
                let k = try need(layer, .layer)
                guard (1...layers).contains(k) else { throw OfframpError("\(o)layer \(k) is out of range: the model has layers 1...\(layers)") }
                return .budget(layer: k)
            case .entropy: return .entropy(try checkedThreshold())
            case .confidence: return .confidence(try checkedThreshold())
            case .patience: return .patience(try checkedPatience(upTo: layers - 1))
            case .patienceConfidence:
                let p = try checkedPatience(upTo: layers)
                return .patienceConfidence(patience: p, tau: try checkedThreshold())
            case .sentee: return .sentee(try checkedThreshold(), .entropy)
            case .senteeConfidence: return .sentee(try checkedThreshold(), .confidence)
            case .tokee:
                let k = try checkedWindow()
                return .tokee(window: k, tau: try checkedThreshold(), .entropy)
            case .tokeeConfidence:
                let k = try checkedWindow()
                return .tokee(window: k, tau: try checkedThreshold(), .confidence)
            }
        }

        /// The settings `sweep` tries: the defaults, or `thresholds`
        /// (entropy, confidence, SENTEE, TOKEE) and `windows` (TOKEE) when given.
        public func sweep(layers: Int, thresholds: [Double]? = nil, windows: [Int]? = nil) -> [ExitPolicy] {
            let ks = windows ?? Self.tokenWindows
            switch self {
            case .full: return []
            case .budget: return (1...layers).map { .budget(layer: $0) }
            case .entropy: return (thresholds ?? [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.96]).map { .entropy($0) }
            case .confidence: return (thresholds ?? [0.99, 0.98, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55]).map { .confidence($0) }
            case .patience: return (1..<layers).map { .patience($0) }
            case .patienceConfidence: return [0.1, 0.2, 0.3, 0.5].flatMap { t in [1, 2].map { .patienceConfidence(patience: $0, tau: t) } }
            case .sentee: return (thresholds ?? Self.tokenEntropyThresholds).map { .sentee($0, .entropy) }
            case .senteeConfidence: return (thresholds ?? Self.tokenConfidenceThresholds).map { .sentee($0, .confidence) }
            case .tokee: return ks.flatMap { k in (thresholds ?? Self.tokenEntropyThresholds).map { .tokee(window: k, tau: $0, .entropy) } }
            case .tokeeConfidence:
                return ks.flatMap { k in (thresholds ?? Self.tokenConfidenceThresholds).map { .tokee(window: k, tau: $0, .confidence) } }
            }
        }

        /// Default thresholds of SENTEE and TOKEE with the entropy criterion, and their confidence counterparts.
        static let tokenEntropyThresholds = [0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6]
        static let tokenConfidenceThresholds = [0.999, 0.99, 0.98, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6]
        /// Default TOKEE window half-widths k.
        static let tokenWindows = [0, 1, 2, 4]
    }

    /// A policy's setting: its name as an option (`--threshold`) and a JSON field.
    public enum Setting: String, CaseIterable, Sendable {
        case threshold, patience, layer, window

        /// Whether the setting is a whole number (all but the threshold).
        public var isInteger: Bool { self != .threshold }

        /// The letter the help and errors use for it.
        var placeholder: String {
            switch self {
            case .threshold: "T"
            case .patience: "P"
            case .layer, .window: "K"
            }
        }
    }

    /// The policy's entry in the table.
    public var kind: Kind {
        switch self {
        case .full: .full
        case .budget: .budget
        case .entropy: .entropy
        case .confidence: .confidence
        case .patience: .patience
        case .patienceConfidence: .patienceConfidence
        case .sentee(_, let c): c == .entropy ? .sentee : .senteeConfidence
        case .tokee(_, _, let c): c == .entropy ? .tokee : .tokeeConfidence
        }
    }

    /// One setting's value: whole numbers stay `Int` so that any window
    /// the command line accepts prints back exactly.
    enum SettingValue {
        case whole(Int)
        case number(Double)

        /// The value as text, a threshold spelt by `number`.
        func text(number: (Double) -> String) -> String {
            switch self {
            case .whole(let k): "\(k)"
            case .number(let t): number(t)
            }
        }
    }

    /// The values of `kind.settings`, in that order.
    var settingValues: [SettingValue] {
        switch self {
        case .full: []
        case .budget(let k): [.whole(k)]
        case .entropy(let t), .confidence(let t), .sentee(let t, _): [.number(t)]
        case .patience(let p): [.whole(p)]
        case .patienceConfidence(let p, let t): [.whole(p), .number(t)]
        case .tokee(let k, let t, _): [.whole(k), .number(t)]
        }
    }
}
