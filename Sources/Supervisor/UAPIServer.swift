public import DataPlane
public import System
import Glibc
import Synchronization

/// Why a UAPI server could not start.
public enum UAPIServerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not a name the kernel would accept for an interface (`InterfaceName`).
    case invalidName(String)
    /// Another daemon answers on this socket; it was left alone.
    case alreadyRunning(String)
    /// A system call failed while doing `what`.
    case system(Errno, String)

    public var description: String {
        switch self {
        case .invalidName(let name): "invalid interface name '\(name)'"
        case .alreadyRunning(let path): "another daemon is running on \(path)"
        case .system(let errno, let what): "\(what): \(errno)"
        }
    }
}

/// The `wg` control socket, `<directory>/<interface>.sock`, speaking the cross-platform UAPI
/// exactly as wireguard-go does, so that the stock `wg` tool drives wgd.
///
/// Threads: one accepts (and watches the socket file), one per connection (at most
/// `maxConnections`; more wait in the listen backlog). Every wait is bounded by the read timeout
/// and cut short by `stop()`; while the connections are all taken and a client waits, a client
/// silent for the busy timeout loses its connection, so that stalled clients block no one.
public final class UAPIServer: Sendable {
    public let socketPath: String
    private let context: ServerContext
    private let started = Atomic(false)
    private let stopped = Atomic(false)

    /// Creates the directory if needed, binds and listens: once this returns, `wg` can connect
    /// (connections wait in the backlog until `start()`).
    /// - onSocketDeleted: runs once, on the accept thread, if someone else removes the socket
    ///   file (wireguard-go exits then). It may call `stop()`.
    /// - log: one line per noteworthy event (rejected sets, refused clients).
    /// - maxRequestLength: the most one `set` may send after its `set=1` line; a longer one is read
    ///   to its end and refused with EMSGSIZE. A set is read whole before it is applied, so this
    ///   bounds what each connection can make the daemon hold. The default, 32 MiB, has room for
    ///   400,000 allowed IPs in their longest spelling (about 25 MB; in wg's usual spelling they
    ///   take about 12 MB, and the kernel selftest's 130,560 about 4 MB).
    /// - maxRequestBytesInFlight: the most all sets together may hold, from their first line until
    ///   they are applied (by default one request's worth): 32 connections cannot make the daemon
    ///   hold 32 large sets at once. A set that would go over is read to its end and refused with
    ///   ENOBUFS; the others go on.
    /// - readTimeoutMilliseconds: a connection whose client sends nothing (or reads nothing of a
    ///   reply) for this long is closed.
    /// - busyIdleTimeoutMilliseconds: sooner, this long, while all `maxConnections` are taken and
    ///   another client waits in the backlog, so that stalled clients cannot hold the socket
    ///   against everyone else (`ServedConnections`).
    public init(interface name: String, directory: String = "/var/run/wireguard", target: any ControlTarget,
                readTimeoutMilliseconds: Int32 = 10_000, busyIdleTimeoutMilliseconds: Int32 = 1_000,
                maxConnections: Int = 32, maxRequestLength: Int = 32 << 20, maxRequestBytesInFlight: Int? = nil,
                onSocketDeleted: @escaping @Sendable () -> Void = {},
                log: @escaping @Sendable (String) -> Void = { _ in }) throws(UAPIServerError) {
        guard InterfaceName.isValid(name) else {
            throw .invalidName(name)
        }
        let path = (directory.hasSuffix("/") ? directory : directory + "/") + name + ".sock"
        guard (try? UnixAddress(path)) != nil else { throw .system(Errno(ENAMETOOLONG), "socket path \(path) is too long") }
        do { try SocketFile.makeDirectory(directory) } catch { throw .system(error, "create \(directory)") }

        let stop: StopSignal
        do { stop = try StopSignal() } catch { throw .system(error, "create the stop pipe") }
        let bound: FileDescriptor?
        do { bound = try SocketFile.bindListening(path) } catch { throw .system(error, "bind \(path)") }
        guard let socket = bound else { throw .alreadyRunning(path) }
        guard let identity = FileIdentity(socketAt: path) else { throw .system(Errno(ENOENT), "\(path) vanished after bind") }
        let listening: ListeningSocket
        do {
            listening = ListeningSocket(socket: socket, watch: try SocketWatch(directory: directory, path: path, identity: identity))
        } catch {
            SocketFile.remove(path, ifStill: identity)
            throw .system(error, "watch \(directory)")
        }
        socketPath = path
        context = ServerContext(target: target, socketPath: path, identity: identity,
                                listening: listening, stop: stop,
                                readTimeout: max(readTimeoutMilliseconds, 1),
                                busyIdleTimeout: min(max(busyIdleTimeoutMilliseconds, 1), max(readTimeoutMilliseconds, 1)),
                                maxConnections: max(maxConnections, 1),
                                maxRequestLength: max(maxRequestLength, 1),
                                requestBytes: RequestBytes(limit: max(maxRequestBytesInFlight ?? maxRequestLength, 1)),
                                log: log, onSocketDeleted: onSocketDeleted)
    }

    /// Starts accepting. Calling it again, or after `stop()`, does nothing.
    public func start() throws(UAPIServerError) {
        guard !stopped.load(ordering: .acquiring),
              !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        _ = context.acceptThread.enter()
        do {
            try Threads.spawn(name: "wg-uapi-accept") { [context] in context.runAcceptThread() }
        } catch {
            context.acceptThread.leave()
            throw .system(error, "start the UAPI accept thread")
        }
    }

    /// Closes the listener, removes the socket file (if it is still ours) and returns once every
    /// server thread has finished: a connection in the middle of an apply completes it first.
    /// Must not be called from the `ControlTarget`'s methods (they run on connection threads).
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        context.stop.raise()
        context.acceptThread.wait()
        context.connections.wait()
        SocketFile.remove(socketPath, ifStill: context.identity)
        context.listening.withLock { $0 = nil }
    }

    deinit { stop() }

    /// Request bytes the sets being read or applied hold now (for tests).
    var requestBytesHeld: Int { context.requestBytes.held }
}
