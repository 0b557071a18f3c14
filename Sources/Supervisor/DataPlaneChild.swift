import CShim
public import Crypto
public import DataPlane
import Glibc
public import Protocol
import Synchronization
public import System

/// One interface's data plane as the supervisor runs it: a child process of the same binary
/// (`DataPlaneProcess`), fed over the control channel, watched and restarted.
/// - The supervisor keeps the TUN and the UDP sockets open itself and hands copies over, so a
///   crash loses no interface, no address, no route and no port: a restarted data plane gets the
///   same descriptors and the state file's configuration, and peers simply handshake again.
/// - A port change binds the new sockets here (the data plane may not); a firewall mark is set
///   on our copies of the sockets, which are the same sockets.
/// - Everything the child sends is checked (the codec) and bounded; a violation, or no answer
///   within `replyTimeout`, gets it killed and restarted.
/// - Restarts: 100 ms after a death; doubling up to 10 s while it keeps dying within 10 s.
final class DataPlaneChild: ControlTarget, Sendable {
    let name: String
    private let tun: TunDevice
    private let startOptions: StartOptions
    private let log: Log
    /// The configuration the data plane should have: what the state file holds for it, read under
    /// the store's lock at each (re)start.
    private let currentConfig: @Sendable (_ handOver: (DeviceConfig) -> Void) -> Void
    private let onGone: @Sendable () -> Void

    private let sockets: Mutex<BoundDescriptors?>
    /// The configuration last applied (the supervisor's view), for port and mark changes.
    private let applied: Mutex<DeviceConfig>
    private let link = Mutex<Link?>(nil)
    private let replies = ConditionLock(Replies())
    private let sending = Mutex(())
    private let nextID = Atomic<UInt64>(1)
    /// The most peers a status reply may list: the configuration's, or a set's in flight.
    private let peerBound = Atomic(0)
    private let stopping = Atomic(false)
    private let threads = ThreadGroup()

    static let replyTimeout = 5_000
    static let firstRestartDelay: UInt32 = 100_000
    static let longestRestartDelay: UInt32 = 10_000_000
    /// A child that lived this long was healthy: the next death restarts it at once.
    static let healthyLife: UInt64 = 10_000_000_000

    private struct Link: Sendable {
        let channel: ControlSocket
        let pid: pid_t
        let generation: UInt64
    }

    private struct Replies {
        var generation: UInt64 = 0
        var answers: [UInt64: DataPlaneMessage] = [:]
    }

    init(name: String, tun: TunDevice, options: StartOptions, sockets: consuming BoundDescriptors, config: DeviceConfig, log: Log,
         currentConfig: @escaping @Sendable (_ handOver: (DeviceConfig) -> Void) -> Void, onGone: @escaping @Sendable () -> Void) {
        self.name = name
        self.tun = tun
        startOptions = options
        self.log = log
        self.currentConfig = currentConfig
        self.onGone = onGone
        self.sockets = Mutex(sockets)
        applied = Mutex(config)
        peerBound.store(config.peerCount, ordering: .relaxed)
    }

    /// Starts the first data plane and waits until it runs `config`; then keeps one running.
    func start(with config: DeviceConfig) throws(BringUpError) {
        let first: Link
        do { first = try launch(config) } catch where error.code == EACCES {
            throw BringUpError(description: "data plane: the wgd binary cannot be run by the user it runs as: \(error) (make it executable by that user)")
        } catch {
            throw BringUpError(description: "data plane: \(error)")
        }
        link.withLock { $0 = first }
        _ = threads.enter()
        do {
            try Threads.spawn(name: "wgd-dp-\(name)") { [self] in
                supervise(from: first)
                threads.leave()
            }
        } catch {
            threads.leave()
            kill(first.pid, SIGKILL)
            throw BringUpError(description: "data plane: cannot start its watcher: \(error)")
        }
    }

    /// Stops the data plane for good: asked to stop, killed after a second if it does not.
    func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if let current = link.withLock({ $0 }) {
            send(.stop, on: current)
            current.channel.shutdown()
        }
        threads.wait()
    }

    /// The interface was deleted: the port goes at once, here and in the data plane.
    func releaseSockets() {
        sockets.withLock { $0 = nil }
        if let current = link.withLock({ $0 }) { send(.releaseSockets, on: current) }
    }

    /// The running data plane's process (0 while it restarts).
    var pid: pid_t { link.withLock { $0?.pid ?? 0 } }

    // MARK: ControlTarget

    var configuration: DeviceConfig { applied.withLock { $0 } }

    var boundListenPort: UInt16 { sockets.withLock { $0?.port ?? 0 } }

    func withStatus<Result>(_ body: (_ status: (PublicKey) -> PeerStatus?) -> Result) -> Result {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        guard case .status(_, let records)? = request(.status(id: id), id: id) else { return body { _ in nil } }
        var table: [PublicKey: PeerStatus] = [:]
        table.reserveCapacity(records.count)
        for record in records { table[record.publicKey] = record.status }
        return body { table[$0] }
    }

    func apply(_ config: DeviceConfig, change: ConfigChange) throws(Errno) -> Commitment {
        let old = applied.withLock { $0 }
        var fresh: BoundDescriptors?
        if config.listenPort != old.listenPort && config.listenPort != boundListenPort {
            fresh = try UDPBind.openDescriptors(port: config.listenPort, fwmark: config.fwmark)
        } else if config.fwmark != old.fwmark {
            try setMark(config.fwmark)
        }
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let rebound = fresh != nil
        if rebound {
            sockets.withLock { swap(&$0, &fresh) }
            handSockets()
            fresh = nil  // the old ones, closed only now: the data plane has the new ones
        }
        peerBound.store(max(old.peerCount, config.peerCount), ordering: .relaxed)
        defer { peerBound.store(applied.withLock { $0.peerCount }, ordering: .relaxed) }
        if case .applied(_, let errno)? = request(.configure(id: id, change: change), id: id), errno != 0 {
            // All or nothing in the data plane: it still runs the old configuration.
            if rebound { log.error("(\(name)) the data plane refused a port change (errno \(errno)): restarting it") }
            if rebound, let current = link.withLock({ $0 }) { kill(current.pid, SIGKILL) }
            throw Errno(errno)
        }
        applied.withLock { $0 = config }
        return .immediate
    }

    // MARK: the child

    /// Spawns a data plane, hands it the sockets, the TUN and `config`, and waits for its answer.
    private func launch(_ config: DeviceConfig, restarted: Bool = false) throws(Errno) -> Link {
        var options = startOptions
        options.restarted = restarted
        var (ours, theirs) = try ControlSocket.pair()
        while theirs.rawValue == DataPlaneProcess.channelDescriptor {
            // wgd_spawn_self moves the child's end to descriptor 3: it must not be there already.
            (ours, theirs) = try ControlSocket.pair()
        }
        var pid: pid_t = 0
        let arguments = ["wgd", "--data-plane", name, String(getpid())]
        var cArguments = arguments.map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        let error = cArguments.withUnsafeMutableBufferPointer { argv in
            argv.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: argv.count) {
                wgd_spawn_self($0, theirs.rawValue, &pid)
            }
        }
        guard error == 0 else { throw Errno(error) }
        try? ours.setSendTimeout(milliseconds: Self.replyTimeout)
        let generation = replies.withLock { replies in
            replies.generation += 1
            return replies.generation
        }
        let child = Link(channel: ours, pid: pid, generation: generation)
        guard handSockets(to: child) != false,
              send(.start(options), on: child, descriptors: [tun.fd.rawValue]),
              send(.configure(id: 0, change: ConfigChange(replacing: config)), on: child) else {
            kill(pid, SIGKILL)
            _ = reap(pid)
            throw Errno(EPIPE)
        }
        try awaitStart(child)
        return child
    }

    /// Reads the new child's first messages: `ready`, then the answer to its configuration.
    private func awaitStart(_ child: Link) throws(Errno) {
        var ready = false
        while true {
            guard (try? child.channel.waitReadable(milliseconds: Int32(Self.replyTimeout))) == true,
                  let message = receive(from: child) else { break }
            switch message {
            case .ready: ready = true
            case .applied(0, 0) where ready: return
            case .applied(0, let errno): log.error("(\(name)) the data plane refused its configuration (errno \(errno))")
            default: dispatch(message)
            }
            if case .applied = message { break }
        }
        kill(child.pid, SIGKILL)
        let end = reap(child.pid)
        throw Errno(end == 0 ? EIO : EPIPE)
    }

    /// The watcher's loop: serve the child until it ends, then start another (with back-off),
    /// until `stop`.
    private func supervise(from first: Link) {
        var current = first
        var delay = Self.firstRestartDelay
        while true {
            let born = Self.monotonic()
            serve(current)
            link.withLock { $0 = nil }
            replies.withLock { $0.answers = [:]; $0.generation += 1 }
            let status = reap(current.pid)
            if stopping.load(ordering: .acquiring) { return }
            log.error("(\(name)) the data plane ended (\(Self.describe(status))): restarting it")
            delay = Self.monotonic() - born >= Self.healthyLife ? Self.firstRestartDelay : min(delay * 2, Self.longestRestartDelay)
            guard let next = relaunch(after: delay) else { return }
            current = next
        }
    }

    /// Starts a new child with the state file's configuration; nil once stopping.
    private func relaunch(after delay: UInt32) -> Link? {
        var pause = delay
        while !stopping.load(ordering: .acquiring) {
            usleep(pause)
            var result: Result<Link, Errno> = .failure(Errno(EIO))
            // Under the store's lock: no change can slip between reading the state and handing it.
            currentConfig { config in
                result = Result { () throws(Errno) in try launch(config, restarted: true) }
                if case .success(let child) = result {
                    link.withLock { $0 = child }
                    applied.withLock { $0 = config }
                    peerBound.store(config.peerCount, ordering: .relaxed)
                }
            }
            switch result {
            case .success(let child):
                log.verbose("(\(name)) data plane restarted (pid \(child.pid))")
                return child
            case .failure(let error):
                log.error("(\(name)) cannot restart the data plane: \(error)")
                pause = min(pause * 2, Self.longestRestartDelay)
            }
        }
        return nil
    }

    /// Reads the child's messages until its end; every second, passes on an MTU change.
    private func serve(_ child: Link) {
        var mtu = startOptions.mtu
        while !stopping.load(ordering: .acquiring) {
            let readable: Bool
            do { readable = try child.channel.waitReadable(milliseconds: 1000) } catch { return }
            if !readable {
                if let now = try? tun.currentMTU(), now != mtu, StateFileDecoder.mtuRange.contains(now) {
                    mtu = now
                    send(.mtu(UInt32(now)), on: child)
                }
                continue
            }
            guard let message = receive(from: child) else { return }
            dispatch(message)
        }
    }

    /// The next message, or nil at the child's end; a violation gets it killed.
    private func receive(from child: Link) -> DataPlaneMessage? {
        // A status reply holds a record per peer: no more than we configured (counting a set in
        // flight), so a hostile data plane cannot make us take 81 MB.
        let peers = peerBound.load(ordering: .relaxed)
        do {
            let frame = try child.channel.receive { type in
                let limit = DataPlaneMessage.limit(type)
                return type == DataPlaneMessage.Kind.status.rawValue ? limit.map { min($0, 12 + peers * PeerRecord.size) } : limit
            }
            return try DataPlaneMessage.decode(from: frame)
        } catch .closed {
            return nil
        } catch {
            log.error("(\(name)) data plane: \(error): killing it")
            kill(child.pid, SIGKILL)
            return nil
        }
    }

    private func dispatch(_ message: DataPlaneMessage) {
        switch message {
        case .applied(let id, _), .status(let id, _):
            replies.withLock { replies in replies.answers[id] = message }
        case .log(let level, let text):
            if level == .verbose { log.verbose("(\(name)) \(text)") } else { log.error("(\(name)) \(text)") }
        case .interfaceGone:
            onGone()
        case .ready:
            break
        }
    }

    /// Sends `message` and waits for the reply with `id`; nil when there is no data plane to ask
    /// (it is restarting) or it did not answer in time (then it is killed).
    private func request(_ message: SupervisorMessage, id: UInt64) -> DataPlaneMessage? {
        guard let child = link.withLock({ $0 }), send(message, on: child) else { return nil }
        let reply = replies.wait(until: { $0.answers[id] != nil || $0.generation != child.generation },
                                 milliseconds: Self.replyTimeout) { replies, _ in replies.answers.removeValue(forKey: id) }
        if reply == nil, replies.withLock({ $0.generation }) == child.generation {
            log.error("(\(name)) the data plane did not answer within \(Self.replyTimeout) ms: killing it")
            kill(child.pid, SIGKILL)
        }
        return reply
    }

    @discardableResult
    private func send(_ message: SupervisorMessage, on child: Link, descriptors: [Int32] = []) -> Bool {
        sending.withLock { _ in
            do {
                try message.encode(to: child.channel, descriptors: descriptors)
                return true
            } catch {
                return false
            }
        }
    }

    private func handSockets() {
        guard let child = link.withLock({ $0 }) else { return }
        _ = handSockets(to: child)
    }

    /// Sends our sockets (under their lock, so that a port change cannot close them meanwhile);
    /// nil when there are none (released), else whether the send worked.
    private func handSockets(to child: Link) -> Bool? {
        sockets.withLock { current -> Bool? in
            guard let port = current?.port, let list = current?.rawValues else { return nil }
            return send(.sockets(port: port, hasV6: list.count == 2), on: child, descriptors: list)
        }
    }

    private func setMark(_ mark: UInt32) throws(Errno) {
        try sockets.withLock { (current: inout BoundDescriptors?) throws(Errno) in
            try current?.v4.setSocketOption(SOL_SOCKET, SO_MARK, mark)
            if current?.hasV6 == true { try current?.v6.setSocketOption(SOL_SOCKET, SO_MARK, mark) }
        }
    }

    /// waitpid, bounded: the child was told to stop or killed; the raw status, or -1.
    private func reap(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        for attempt in 0..<200 {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { return status }
            if result < 0 && errno != EINTR { return -1 }
            if attempt == 100 { kill(pid, SIGKILL) }
            usleep(10_000)
        }
        return -1
    }

    static func monotonic() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    static func describe(_ status: Int32) -> String {
        if status < 0 { return "status unknown" }
        if status & 0x7f == 0 { return "exit status \((status >> 8) & 0xff)" }
        return "signal \(status & 0x7f)"
    }
}
