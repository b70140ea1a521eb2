import Foundation
import Hummingbird
import NIOHTTP1
import Offramp

// MARK: - Every response counted, every error as JSON with a message

/// Times each request and counts it by path and status; turns errors that
/// carry no message (the router's 404 and 405, a body that overflowed the
/// limit, anything unexpected) into JSON errors that say what happened.
struct RequestAccounting: RouterMiddleware {
    typealias Context = BasicRequestContext
    let metrics: ServerMetrics
    /// The routes (path: method). Their paths are counted under their own
    /// name; others count as "other" (so random URLs cannot blow up the
    /// number of series).
    let routes: [String: String]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let path = routes[request.uri.path] != nil ? request.uri.path : "other"
        func record(_ status: HTTPResponse.Status) {
            let d = start.duration(to: .now)
            metrics.recordRequest(endpoint: path, status: status.code,
                                  seconds: Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
        }
        do {
            let response = try await next(request, context)
            record(response.status)
            return response
        } catch let error as HTTPError {
            if error.status == .notFound, error.body == nil, let method = routes[request.uri.path] {
                record(.methodNotAllowed)
                throw HTTPError(.methodNotAllowed, headers: [.allow: method],
                                message: "\(request.method) is not allowed on \(request.uri.path): use \(method)")
            }
            let described = error.body == nil ? HTTPError(error.status, headers: error.headers, message: describe(error.status, request)) : error
            record(described.status)
            throw described
        } catch let error as any HTTPResponseError {
            record(error.status)
            throw HTTPError(error.status, message: describe(error.status, request))
        } catch let error as HTTPParserError {
            // Hummingbird answers a malformed request (or a body cut off
            // mid-way) with 400 and closes the connection: let it through.
            record(.badRequest)
            throw error
        } catch is CancellationError {
            record(.serviceUnavailable)
            throw HTTPError(.serviceUnavailable, message: "the request was cancelled")
        } catch {
            record(.internalServerError)
            context.logger.error("internal error on \(request.method) \(request.uri.path): \(error)")
            throw HTTPError(.internalServerError, message: "internal error")
        }
    }

    private func describe(_ status: HTTPResponse.Status, _ request: Request) -> String {
        switch status {
        case .notFound:
            "no route \(request.method) \(request.uri.path) (routes: \(routes.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")))"
        case .contentTooLarge: "the body is too large"
        default: status.reasonPhrase
        }
    }
}
