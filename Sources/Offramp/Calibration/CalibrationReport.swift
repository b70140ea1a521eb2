import Foundation

// MARK: - What a calibration found, and the guarantee to save

/// One candidate policy as measured and tested on the calibration set.
public struct CalibratedCandidate: Sendable, Equatable {
    public let policy: ExitPolicy
    public let flopsSpeedup: Double
    public let averageExitLayer: Double
    public let test: CandidateTest
}

/// The guarantee of a calibrated policy, as saved beside it in a model's
/// config: with probability at least 1 - delta over the draw of the n
/// calibration examples, the policy's risk on new examples from the same
/// distribution is at most eps.
public struct CalibrationGuarantee: Sendable, Equatable, Codable {
    /// `CalibrationRisk.rawValue`.
    public let risk: String
    /// `RiskTest.Bound.rawValue`: how the p-value was computed.
    public let test: String
    public let eps: Double
    public let delta: Double
    public let n: Int
    public let pValue: Double
    public let empiricalRisk: Double
    public let flopsSpeedup: Double
    /// `ExitPolicy.encoded`.
    public let policy: String
    /// ISO-8601, as the caller gave it.
    public let date: String
    /// PoWER-BERT: the word-vectors kept after each layer, under the policy (nil: no elimination).
    public var retention: [Int]? = nil

    enum CodingKeys: String, CodingKey {
        case risk, test, eps, delta, n, policy, date, retention
        case pValue = "p_value", empiricalRisk = "empirical_risk", flopsSpeedup = "flops_speedup"
    }

    /// One line for people: "accuracy <= 1% with probability 0.95 (n = 1057, p = 0.012, 2026-12-01)".
    public var summary: String {
        String(format: "%@ risk <= %g with probability %g (n = %d, p = %.3g, empirical %.4f, %.2fx FLOPs, %@)",
               risk, eps, 1 - delta, n, pValue, empiricalRisk, flopsSpeedup, date)
    }

    /// The guarantee as a JSON object, to put into a config's "offramp" section.
    public func jsonValue() throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(self))
    }
}

extension CalibrationGuarantee {
    /// Reads a guarantee saved in a config's "offramp" section (an extension,
    /// so the memberwise initializer stays).
    public init(json: JSONValue) throws {
        self = try JSONDecoder().decode(Self.self, from: JSONEncoder().encode(json))
    }
}

/// The result of `LearnThenTest.calibrate`.
public struct CalibrationReport: Sendable {
    public let risk: CalibrationRisk
    public let test: RiskTest
    public let eps: Double
    public let delta: Double
    /// Calibration examples.
    public let n: Int
    /// In the order tested: sequence after sequence, each safest first.
    public let candidates: [CalibratedCandidate]
    /// The sequences walked, as ranges of `candidates`, each at delta / their number.
    public let sequences: [Range<Int>]
    /// Index into `candidates` of the chosen policy, the fastest passed in any sequence; nil when none passed.
    public let chosen: Int?
    /// Indices into `candidates` of each sequence's first failure, where its walk stopped.
    public let stops: [Int]
    /// The smallest eps the data support at this delta (for the safest candidate of any sequence); nil if none.
    public let smallestEps: Double?
    /// The chosen policy's guarantee; nil when none passed.
    public let guarantee: CalibrationGuarantee?

    /// The policy to use: the fastest certified one, else full depth.
    public var policy: ExitPolicy { chosen.map { candidates[$0].policy } ?? .full }
    /// The first sequence's first failure (the only one with a single sequence); nil when it passed throughout.
    public var stoppedAt: Int? { stops.first { sequences.first?.contains($0) ?? false } }
}
