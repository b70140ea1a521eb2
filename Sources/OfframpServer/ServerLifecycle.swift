import Foundation
import Hummingbird
import Logging
import Offramp
import ServiceLifecycle
import UnixSignals

// MARK: - Start, run, drain, stop

/// Graceful shutdown, in order (ServiceLifecycle stops services in reverse):
/// 1. `DrainGate`: /health turns 503 "draining" (a load balancer stops
///    sending), and requests are still served for `drainGrace` seconds;
/// 2. the HTTP server stops accepting and answers the requests in flight;
/// 3. `BatcherService`: the batcher finishes what is left and its thread ends.

/// Runs the batching thread for as long as the application runs (the
/// application's first service, so it stops after the HTTP server).
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

/// Marks the server draining at the start of a graceful shutdown and holds
/// the shutdown for the grace period.
struct DrainGate: Service {
    let server: InferenceServer

    func run() async throws {
        try? await gracefulShutdown()
        server.beginDraining()
        try? await Task.sleep(for: .seconds(server.limits.drainGrace))
    }
}

extension InferenceServer {
    /// The application serving this model on `host:port` (port 0: any free
    /// port; `onRunning` receives the bound one).
    public func application(host: String = "127.0.0.1", port: Int = 8080, logger: Logger? = nil,
                            onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(
            router: router(),
            server: .http1(configuration: .init(idleTimeout: .milliseconds(Int64((limits.idleTimeout * 1000).rounded())))),
            configuration: .init(address: .hostname(host, port: port), serverName: "offramp"),
            services: [BatcherService(batcher: batcher)],
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger ?? Logger(label: "offramp.serve")
        )
    }

    /// The application with the drain gate in front: run it (`run()`), and
    /// SIGTERM / SIGINT (or `triggerGracefulShutdown`) drain and stop it.
    public func serviceGroup(host: String = "127.0.0.1", port: Int = 8080, logger: Logger? = nil,
                             signals: [UnixSignal] = [.sigterm, .sigint],
                             onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> ServiceGroup {
        let logger = logger ?? Logger(label: "offramp.serve")
        let app = application(host: host, port: port, logger: logger, onRunning: onRunning)
        return ServiceGroup(configuration: .init(services: [app, DrainGate(server: self)], gracefulShutdownSignals: signals, logger: logger))
    }

    /// Starts the server in this process (tests, benchmarks; port 0: any
    /// free port); `stop` drains it gracefully. Throws if it cannot start
    /// (the port is taken, say).
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws -> RunningServer {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "offramp.serve")
        logger.logLevel = .warning
        let group = serviceGroup(host: host, port: port, logger: logger, signals: []) { continuation.yield($0) }
        let task = Task {
            defer { continuation.finish() }  // a failed start ends the wait below
            try await group.run()
        }
        for await bound in ports { return RunningServer(port: bound, group: group, task: task) }
        try await task.value
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
