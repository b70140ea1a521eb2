import Foundation
import Hummingbird
import Logging
import Offramp
import ServiceLifecycle

// MARK: - Start, run, drain, stop

/// Runs the batching thread for as long as the application runs. It is the
/// application's first service, so on graceful shutdown it stops last:
/// the HTTP server first stops accepting and finishes the requests in
/// flight, then the batcher finishes what is left and its thread ends.
struct BatcherService: Service {
    let batcher: InferenceBatcher

    func run() async throws {
        try batcher.start()
        try? await gracefulShutdown()
        // `shutdown` blocks until the thread ends: wait for it off the executor.
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread { batcher.shutdown(); c.resume() }
        }
    }
}

extension InferenceServer {
    /// The application serving this model on `host:port` (port 0: any free
    /// port; `onRunning` receives the bound one).
    public func application(host: String = "127.0.0.1", port: Int = 8080, logger: Logger? = nil,
                            onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(
            router: router(),
            server: .http1(configuration: .init(idleTimeout: .milliseconds(Int64(limits.idleTimeout * 1000)))),
            configuration: .init(address: .hostname(host, port: port), serverName: "offramp"),
            services: [BatcherService(batcher: batcher)],
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger ?? Logger(label: "offramp.serve")
        )
    }

    /// Starts the server in this process on a free loopback port (tests,
    /// benchmarks); `stop` drains it gracefully.
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws -> RunningServer {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "offramp.serve")
        logger.logLevel = .warning
        let app = application(host: host, port: port, logger: logger) { continuation.yield($0) }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task { try await group.run() }
        for await bound in ports { return RunningServer(port: bound, group: group, task: task) }
        task.cancel()
        throw ServerError.invalidSetting("the server did not start on \(host):\(port)")
    }
}

/// A server started by `InferenceServer.start`.
public struct RunningServer: Sendable {
    public let port: Int
    let group: ServiceGroup
    let task: Task<Void, any Error>

    /// Graceful shutdown: stop accepting, answer the requests in flight, stop.
    public func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}
