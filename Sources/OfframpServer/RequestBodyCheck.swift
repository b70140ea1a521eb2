import Foundation
import Hummingbird
import Offramp

// MARK: - The request body parser, for the fuzz target

/// `InferenceRequest.parse` as the fuzz target (Sources/OfframpFuzz) calls
/// it: the parsed request, or the HTTP status and message the server would
/// answer. Anything else thrown is a bug the fuzzer reports.
@_spi(Fuzzing) public enum RequestBodyCheck {
    public enum Outcome {
        case parsed(texts: [String], policy: ExitPolicy?, truncate: Bool)
        case refused(status: Int, message: String)
    }

    public static func parse(_ body: Data, layers: Int, maxTexts: Int) throws -> Outcome {
        do {
            let r = try InferenceRequest.parse(body, layers: layers, maxTexts: maxTexts)
            return .parsed(texts: r.texts, policy: r.policy, truncate: r.truncate)
        } catch let e as HTTPError {
            return .refused(status: Int(e.status.code), message: e.body ?? "")
        }
    }
}
