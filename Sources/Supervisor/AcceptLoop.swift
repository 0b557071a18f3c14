import DataPlane
import System
import Glibc
import Synchronization

/// What the server's threads share. Held by the threads themselves, not by `UAPIServer`, so
/// that dropping the server (which stops it) never waits on a reference cycle.
final class ServerContext: Sendable {
    let target: any ControlTarget
    let socketPath: String
    let identity: FileIdentity
    let readTimeout: Int32
    /// How long a client may be silent while every connection is taken and others wait.
    let busyIdleTimeout: Int32
    let maxConnections: Int
    let maxRequestLength: Int
    /// What all sets hold together, from their first line until they are applied.
    let requestBytes: RequestBytes
    let log: @Sendable (String) -> Void
    let onSocketDeleted: @Sendable () -> Void

    let stop: StopSignal
    /// Held from a set's snapshot of the configuration to its apply (never while reading from a
    /// client): sets one at a time.
    let setLock = Mutex(())
    /// Set to nil by `stop()`, which closes the socket.
    let listening: Mutex<ListeningSocket?>
    let acceptThread = ThreadGroup()
    let connections = ThreadGroup()
    /// The connections being served, for cutting silent ones when others wait.
    let served = ServedConnections()
    /// Who may talk to us besides root: the daemon's own user (wgd may drop privileges).
    let ownUID = geteuid()

    init(target: any ControlTarget, socketPath: String, identity: FileIdentity, listening: ListeningSocket,
         stop: StopSignal, readTimeout: Int32, busyIdleTimeout: Int32, maxConnections: Int, maxRequestLength: Int,
         requestBytes: RequestBytes, log: @escaping @Sendable (String) -> Void, onSocketDeleted: @escaping @Sendable () -> Void) {
        self.target = target
        self.socketPath = socketPath
        self.identity = identity
        self.listening = Mutex(listening)
        self.readTimeout = readTimeout
        self.busyIdleTimeout = busyIdleTimeout
        self.maxConnections = maxConnections
        self.maxRequestLength = maxRequestLength
        self.requestBytes = requestBytes
        self.log = log
        self.onSocketDeleted = onSocketDeleted
        self.stop = stop
    }

    /// The accept thread's body. Returns when stopping, or when the socket file is gone (then
    /// the callback runs, after this thread no longer counts, so that it may call `stop()`).
    func runAcceptThread() {
        let deleted = listening.withLock({ $0 }).map(acceptUntilDone) ?? false
        acceptThread.leave()
        if deleted {
            log("uapi: \(socketPath) was removed; no longer accepting")
            onSocketDeleted()
        }
    }

    /// True if the socket file was removed, false when stopping.
    private func acceptUntilDone(_ listening: ListeningSocket) -> Bool {
        if listening.watch.socketGone() { return true }
        while true {
            // At the limit, connections wait in the listen backlog (SOMAXCONN deep) until one of
            // ours ends: every client is served in turn, and memory stays bounded. While some
            // wait, connections whose client is silent give their slot up (ServedConnections).
            let full = connections.count >= maxConnections
            var fds = (pollfd(fd: full ? -1 : listening.socket.rawValue, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: listening.watch.pollable, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: stop.pollable, events: Int16(POLLIN), revents: 0))
            let polled = withUnsafeMutableBytes(of: &fds) { raw in
                try? retrying { poll(raw.baseAddress!.assumingMemoryBound(to: pollfd.self), 3, full ? 20 : -1) }
            }
            guard polled != nil else { pause(); continue }
            if fds.2.revents != 0 { return false }
            if fds.1.revents != 0, listening.watch.socketGone() { return true }
            if fds.0.revents != 0 { acceptOne(listening.socket) }
            if full, hasWaitingClient(listening.socket) {
                let cut = served.cutSilent(forAtLeast: busyIdleTimeout, now: Clock.now())
                if cut > 0 {
                    log("uapi: all \(maxConnections) connections taken and clients waiting: cut \(cut) silent for \(busyIdleTimeout) ms")
                }
            }
        }
    }

    /// Whether a connection waits in the listen backlog (the listener is readable).
    private func hasWaitingClient(_ listener: borrowing FileDescriptor) -> Bool {
        var fd = pollfd(fd: listener.rawValue, events: Int16(POLLIN), revents: 0)
        return poll(&fd, 1, 0) > 0 && fd.revents & Int16(POLLIN) != 0
    }

    private func acceptOne(_ listener: borrowing FileDescriptor) {
        let connection: FileDescriptor
        do {
            connection = try listener.acceptConnection()
        } catch {
            switch error.code {
            case EAGAIN, ECONNABORTED, EPROTO: return  // the client left before we got to it
            default:
                // EMFILE and friends: the connection stays queued; give the system a moment.
                log("uapi: accept failed: \(error)")
                pause()
                return
            }
        }
        guard admits(connection) else { return }
        // Only this thread enters, and it does not accept at the limit: this cannot fail.
        guard connections.enter(limit: maxConnections) else { return }
        let raw = connection.release()
        do {
            try Threads.spawn(name: "wg-uapi") { [self] in
                serve(FileDescriptor(taking: raw))
                connections.leave()
            }
        } catch {
            _ = FileDescriptor(taking: raw)
            connections.leave()
            log("uapi: cannot start a connection thread: \(error)")
        }
    }

    /// Root, or the user the daemon runs as; anyone else is closed on without a word, as the
    /// socket's 0700 mode already intends.
    private func admits(_ connection: borrowing FileDescriptor) -> Bool {
        do {
            let peer = try connection.peerCredentials
            if peer.uid == 0 || peer.uid == ownUID { return true }
            log("uapi: refused a connection from uid \(peer.uid) (pid \(peer.pid))")
        } catch {
            log("uapi: SO_PEERCRED failed: \(error)")
        }
        return false
    }

    private func serve(_ connection: consuming FileDescriptor) {
        let stream: UAPIStream
        do {
            stream = try UAPIStream(socket: connection, stop: stop, timeoutMilliseconds: readTimeout, served: served)
        } catch {
            log("uapi: cannot set up a connection: \(error)")
            return
        }
        UAPISession(stream: stream, context: self).run()
    }

    /// Waits 100 ms (less if stopping) rather than spin on a failure that persists.
    private func pause() {
        var fd = pollfd(fd: stop.pollable, events: Int16(POLLIN), revents: 0)
        _ = poll(&fd, 1, 100)
    }
}
