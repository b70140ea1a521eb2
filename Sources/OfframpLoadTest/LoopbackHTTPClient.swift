import Foundation
#if canImport(Glibc)
import Glibc
#endif

// MARK: - A small blocking HTTP/1.1 client (tests and the load generator)

/// One keep-alive HTTP/1.1 connection over a plain TCP socket. Blocking and
/// minimal on purpose: tests and `offramp loadtest` need exact control of
/// what is sent (malformed bodies, wrong headers) and a client whose own
/// cost is small next to the server's. Not thread-safe: one per thread.
public final class LoopbackHTTPClient {
    public struct Response: Sendable {
        public let status: Int
        public let headers: [String: String]
        public let body: Data
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public struct ClientError: Error, CustomStringConvertible {
        public let description: String
        /// The server closed or reset the connection before any byte of the
        /// response: the request was not answered and may be sent again.
        public var unanswered = false
    }

    private let host: String, port: Int
    private var fd: Int32 = -1
    private var pending = [UInt8]()
    /// Bytes of the current response read so far.
    private var received = 0
    /// Seconds a read may wait before the request fails.
    public var readTimeout = 30.0

    public init(host: String = "127.0.0.1", port: Int) {
        self.host = host
        self.port = port
    }

    deinit { close() }

    public func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
        pending.removeAll()
    }

    /// Sends one request and reads the response; reconnects if the server closed the connection.
    public func request(_ method: String, _ path: String, body: Data? = nil,
                        headers: [String: String] = [:]) throws -> Response {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\n"
        var all = headers
        if let body {
            if all["Content-Type"] == nil { all["Content-Type"] = "application/json" }
            if all["Content-Length"] == nil { all["Content-Length"] = String(body.count) }
        }
        for (k, v) in all.sorted(by: { $0.key < $1.key }) { head += "\(k): \(v)\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if let body { bytes += body }
        return try send(bytes)
    }

    /// Sends raw bytes as they are and reads one response.
    public func send(_ bytes: [UInt8]) throws -> Response {
        let fresh = fd < 0
        if fresh { try connect() }
        do {
            try write(bytes)
            return try readResponse()
        } catch let e as ClientError where !fresh && e.unanswered {
            // A kept-alive connection the server had closed: once more on a
            // new one (only then: a request that may have been answered is
            // never sent twice).
            close()
            try connect()
            try write(bytes)
            return try readResponse()
        } catch {
            close()
            throw error
        }
    }

    // MARK: Socket

    private func connect() throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError(description: "socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var tv = timeval(tv_sec: Int(readTimeout), tv_usec: Int((readTimeout - readTimeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
            close()
            throw ClientError(description: "not an IPv4 address: \(host)")
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let message = String(cString: strerror(errno))
            close()
            throw ClientError(description: "connect to \(host):\(port): \(message)")
        }
    }

    private func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else {
                let closed = errno == EPIPE || errno == ECONNRESET
                throw ClientError(description: "send: \(String(cString: strerror(errno)))", unanswered: closed)
            }
            sent += n
        }
    }

    /// Reads more bytes into `pending`; throws at end of stream.
    private func fill() throws {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else {
            let closed = n == 0 || errno == ECONNRESET
            throw ClientError(description: n == 0 ? "the server closed the connection" : "recv: \(String(cString: strerror(errno)))",
                              unanswered: closed && received == 0)
        }
        received += n
        pending += buffer[0..<n]
    }

    private func readLine() throws -> String {
        while true {
            if let i = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<i], as: UTF8.self).trimmingCharacters(in: ["\r"])
                pending.removeFirst(i + 1)
                return line
            }
            try fill()
        }
    }

    private func readBytes(_ count: Int) throws -> [UInt8] {
        while pending.count < count { try fill() }
        let out = Array(pending[..<count])
        pending.removeFirst(count)
        return out
    }

    private func readResponse() throws -> Response {
        received = pending.count
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw ClientError(description: "bad status line: \(statusLine)")
        }
        var headers: [String: String] = [:]
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw ClientError(description: "bad header line: \(line)") }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = [UInt8]()
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            while true {
                let sizeLine = try readLine()
                guard let field = sizeLine.split(separator: ";").first, let size = Int(field.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else {
                    throw ClientError(description: "bad chunk size: \(sizeLine)")
                }
                if size == 0 { _ = try readLine(); break }
                body += try readBytes(size)
                _ = try readLine()
            }
        } else if let length = headers["content-length"].flatMap({ Int($0) }) {
            body = try readBytes(length)
        }
        if headers["connection"]?.lowercased() == "close" { close() }
        return Response(status: status, headers: headers, body: Data(body))
    }
}
