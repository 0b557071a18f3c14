import Foundation
import Glibc
import System
import Synchronization
import Crypto
import DataPlane
import Protocol
import Supervisor

/// A data plane stand-in: holds the configuration, counts applies, and refuses listen_port 1 as
/// a port already in use.
final class FakeTarget: ControlTarget {
    private let config = Mutex(DeviceConfig())
    private let calls = Atomic(0)

    var configuration: DeviceConfig { config.withLock { $0 } }
    var boundListenPort: UInt16 { configuration.listenPort }
    var applyCalls: Int { calls.load(ordering: .relaxed) }

    func withStatus<Result>(_ body: (_ status: (PublicKey) -> PeerStatus?) -> Result) -> Result { body { _ in nil } }

    func apply(_ new: DeviceConfig, change: ConfigChange) throws(Errno) -> Commitment {
        calls.add(1, ordering: .relaxed)
        if new.listenPort == 1 { throw Errno(EADDRINUSE) }
        config.withLock { $0 = new }
        return .immediate
    }
}

/// The server's log lines, so that a test can wait for what happened on a connection it cannot
/// see a reply from.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])

    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }

    /// Waits (bounded) for a line containing `text`.
    func waitFor(_ text: String, seconds: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if all.contains(where: { $0.contains(text) }) { return true }
            usleep(10_000)
        }
        return false
    }
}

final class Flag: Sendable {
    private let value = Atomic(false)
    func raise() { value.store(true, ordering: .relaxed) }
    var isRaised: Bool { value.load(ordering: .relaxed) }
}

struct ClientError: Error, CustomStringConvertible {
    let what: String
    let code: Int32
    var description: String { "\(what): \(String(cString: strerror(code)))" }
}

/// A `wg`-like client with receive and send timeouts, so that no test can hang on the server.
final class TestClient {
    let fd: Int32

    init(path: String, timeoutSeconds: Int = 5) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError(what: "socket", code: errno) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { bytes in
            for (i, byte) in path.utf8.enumerated() { bytes[i] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if result != 0 {
            let code = errno
            close(fd)
            throw ClientError(what: "connect", code: code)
        }
    }

    deinit { close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL)) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ClientError(what: "send", code: errno)
            }
            done += count
        }
    }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// What the server sent, up to a reply's blank line or the end of the connection.
    struct Reply {
        var text: String
        var closed: Bool
    }

    func readReply() throws -> Reply { try read(stopAtBlankLine: true) }

    /// Everything until the server closes (a reset counts as closed).
    func readUntilClosed() throws -> String { try read(stopAtBlankLine: false).text }

    func request(_ text: String) throws -> String {
        try send(text)
        return try readReply().text
    }

    /// Whether the server has closed or sent something, without waiting.
    var hasPendingInput: Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, 0) > 0
    }

    private func read(stopAtBlankLine: Bool) throws -> Reply {
        var data = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 || (count < 0 && errno == ECONNRESET) { return Reply(text: String(decoding: data, as: UTF8.self), closed: true) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ClientError(what: "recv (after \(data.count) bytes)", code: errno)
            }
            data += chunk[0..<count]
            if stopAtBlankLine, data.count >= 2, data[data.count - 1] == 0x0A, data[data.count - 2] == 0x0A {
                return Reply(text: String(decoding: data, as: UTF8.self), closed: false)
            }
        }
    }
}

/// A server on a fake target in a fresh directory under /tmp, stopped and removed at the end.
final class Harness {
    let root: String
    let directory: String
    let target = FakeTarget()
    let logs = LogLines()
    let server: UAPIServer

    init(name: String = "wgtest0", readTimeout: Int32 = 500, busyIdleTimeout: Int32 = 1_000, maxConnections: Int = 32,
         maxRequestLength: Int = 32 << 20, maxRequestBytesInFlight: Int? = nil, onSocketDeleted: @escaping @Sendable () -> Void = {}) throws {
        root = try makeTemporaryDirectory()
        directory = root + "/run"
        let logs = logs
        server = try UAPIServer(interface: name, directory: directory, target: target, readTimeoutMilliseconds: readTimeout,
                                busyIdleTimeoutMilliseconds: busyIdleTimeout, maxConnections: maxConnections, maxRequestLength: maxRequestLength,
                                maxRequestBytesInFlight: maxRequestBytesInFlight,
                                onSocketDeleted: onSocketDeleted, log: { logs.append($0) })
        try server.start()
    }

    deinit {
        server.stop()
        try? FileManager.default.removeItem(atPath: root)
    }

    func client(timeoutSeconds: Int = 5) throws -> TestClient { try TestClient(path: server.socketPath, timeoutSeconds: timeoutSeconds) }

    /// `get=1` on a new connection.
    func get() throws -> String { try client().request("get=1\n\n") }

    /// `set=1` with `body` (lines, without the final blank line) on a new connection.
    func set(_ body: String) throws -> String { try client().request("set=1\n" + body + "\n\n") }
}

/// mkdtemp under /tmp, made traversable by other users (the SO_PEERCRED test runs a client as
/// nobody).
func makeTemporaryDirectory() throws -> String {
    var template = Array("/tmp/wgd-uapi-XXXXXX".utf8CString)
    guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
        throw ClientError(what: "mkdtemp", code: errno)
    }
    let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    chmod(path, 0o755)
    return path
}

/// 64 hex digits of one repeated byte: a key for tests.
func keyHex(_ byte: UInt8) -> String { String(repeating: String(format: "%02x", byte), count: 32) }

/// A clamped private key (so that get returns it unchanged).
let devicePrivateKeyHex = "08" + String(repeating: "11", count: 30) + "41"

/// What `get=1` returns for a peer with no runtime figures.
func peerBlock(_ key: String, endpoint: String? = nil, keepalive: Int = 0, allowedIPs: [String] = []) -> String {
    var text = "public_key=\(key)\npreshared_key=\(keyHex(0))\nprotocol_version=1\n"
    if let endpoint { text += "endpoint=\(endpoint)\n" }
    text += "last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n"
    text += "persistent_keepalive_interval=\(keepalive)\n"
    for ip in allowedIPs { text += "allowed_ip=\(ip)\n" }
    return text
}

/// Deterministic junk, fast enough for megabytes.
struct JunkGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count + 8)
        while out.count < count { withUnsafeBytes(of: next()) { out += $0 } }
        return Array(out.prefix(count))
    }
}
