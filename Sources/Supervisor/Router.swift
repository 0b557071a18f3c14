import DataPlane
public import System
import Glibc
import Protocol
import Synchronization

/// How `wgd --state FILE` runs.
public struct RouterOptions: Sendable {
    public var statePath: String
    public var foreground = false
    /// The user the supervisor and the data planes run as once everything privileged is open.
    public var user = "wgd"
    public var buffers = 4096
    public var largeBuffers = 256
    public var logLevel = LogLevel.error
    /// Where the UAPI sockets go (tests use their own directory).
    public var socketDirectory = "/var/run/wireguard"
    /// Where to write the supervisor's PID (for init scripts' start-stop-daemon), if anywhere.
    public var pidFile: String?

    public init(statePath: String) { self.statePath = statePath }
}

/// Router mode: every interface the state file describes, configured by `wg` as in the
/// wireguard-go-compatible mode, with each accepted change written to the file before its reply.
/// SIGHUP re-reads the file and applies it as a diff; SIGINT/SIGTERM stop. An interface deleted
/// under us (`ip link del`) is stopped; wgd exits (status 0) once none is left. The file is never
/// changed by a deletion: the next start brings the interface back.
public enum Router {
    public static func run(_ options: RouterOptions) -> Int32 {
        var options = options
        // Daemonizing changes to "/": a relative path would then name another file.
        if let absolute = realpath(options.statePath, nil) {
            options.statePath = String(cString: absolute)
            free(absolute)
        }
        let file: StateFile
        do {
            file = try StateFile.read(options.statePath)
        } catch {
            Log.standardError("wgd: " + StateFileCheck.describe(error, path: options.statePath))
            return 1
        }
        let user: RunUser
        do {
            guard getuid() == 0 else { throw RouterFiles.Refusal("router mode starts as root (it opens the interfaces, then drops to --user)") }
            user = try RunUser.lookup(options.user)
            try RouterFiles.prepareStateFile(options.statePath, for: user)
        } catch {
            Log.standardError("wgd: \(error)")
            return 1
        }
        let readiness: DaemonStart?
        switch DaemonStart.begin(foreground: options.foreground) {
        case .exit(let status): return status
        case .run(let pipe): readiness = pipe
        }
        readiness?.detachStandardStreams()
        let log = Log(level: options.logLevel, toSyslog: !options.foreground, name: "wgd")
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&signals, signal) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        let store = StateStore(path: options.statePath, state: file)
        let router = RouterState(options: options, store: store, log: log)
        store.onRollback { [router] state in router.rollBack(to: state) }
        func fail(_ message: String) -> Int32 {
            router.stopAll()
            if let readiness {
                readiness.fail(message)
                log.error(message)
            } else {
                Log.standardError("wgd: " + message)
            }
            return 1
        }
        // Everything that needs root is opened before the drop, and the drop comes before any
        // thread: capabilities belong to each thread, and threads inherit them from their maker.
        var prepared: [RunningInterface] = []
        for interface in file.interfaces {
            do { prepared.append(try router.prepare(interface)) } catch {
                for interface in prepared { interface.stop() }
                return fail("cannot start \(interface.name): \(error)")
            }
        }
        if let pidFile = options.pidFile {
            // As root, before the drop: /var/run is root's. It is left behind at exit (the
            // supervisor may no longer remove it); start-stop-daemon checks the PID it names.
            do { try RouterFiles.writePIDFile(pidFile) } catch {
                for interface in prepared { interface.stop() }
                return fail("\(error)")
            }
        }
        do {
            try RouterFiles.prepareSocketDirectory(options.socketDirectory, for: user)
            RouterFiles.raiseLockedMemoryLimit(interfaces: file.interfaces.count, buffers: options.buffers)
            router.keepSpareClones()
            try Privileges.dropSupervisor(to: user)
            try RouterFiles.checkStateDirectory(options.statePath, for: user)
        } catch {
            for interface in prepared { interface.stop() }
            return fail("cannot drop privileges to user \(user.name): \(error)")
        }
        for interface in prepared {
            do { try router.start(interface) } catch {
                for interface in prepared { interface.stop() }
                return fail("cannot start \(interface.name): \(error)")
            }
        }
        do { try router.startResolver() } catch { return fail("cannot start the resolver: \(error)") }
        log.verbose("router mode: \(file.interfaces.count) interface(s) from \(options.statePath)")
        readiness?.succeed()

        while true {
            var received: Int32 = 0
            repeat { sigwait(&signals, &received) } while received == 0
            if received == SIGHUP {
                router.reload()
                continue
            }
            log.verbose("shutting down (signal \(received))")
            break
        }
        router.stopAll()
        return 0
    }
}

/// What one interface runs on: its data plane, its UAPI server, its link watch.
final class RunningInterface: Sendable {
    let name: String
    let dataPlane: DataPlaneChild
    let server: UAPIServer
    let linkStop: StopSignal

    init(name: String, dataPlane: DataPlaneChild, server: UAPIServer, linkStop: StopSignal) {
        self.name = name
        self.dataPlane = dataPlane
        self.server = server
        self.linkStop = linkStop
    }

    func stop() {
        linkStop.raise()
        server.stop()
        dataPlane.stop()
    }
}

/// Why an interface could not be brought up.
struct BringUpError: Error, CustomStringConvertible {
    let description: String
}

/// The interfaces running now, and what brings them up, reloads and stops them.
final class RouterState: Sendable {
    let options: RouterOptions
    let store: StateStore
    let log: Log
    private let running = Mutex<[RunningInterface]>([])
    private let resolver = Mutex<RouterResolver?>(nil)
    /// /dev/net/tun descriptors opened while root, for interfaces a reload adds (raw numbers:
    /// an array cannot hold move-only descriptors); they live as long as the process.
    private let spareClones = Mutex<[Int32]>([])
    static let spareCloneCount = 4

    init(options: RouterOptions, store: StateStore, log: Log) {
        self.options = options
        self.store = store
        self.log = log
    }

    var runningCount: Int { running.withLock { $0.count } }

    /// Endpoints by host name: resolved from now on, and again whenever the state changes.
    func startResolver() throws(Errno) {
        let fresh = try RouterResolver(store: store, log: log) { [weak self] in
            self?.running.withLock { $0.map { ($0.name, $0.dataPlane) } } ?? []
        }
        try fresh.start()
        resolver.withLock { $0 = fresh }
    }

    func keepSpareClones() {
        var spares: [Int32] = []
        for _ in 0..<Self.spareCloneCount {
            guard let fd = try? TunDevice.openClone() else { break }
            spares.append(fd.release())
        }
        spareClones.withLock { $0 = spares }
    }

    /// A spare /dev/net/tun descriptor, else a new one (which needs the node to be ours to open).
    private func tunClone() throws(Errno) -> FileDescriptor {
        if let spare = spareClones.withLock({ $0.popLast() }) { return FileDescriptor(taking: spare) }
        do { return try TunDevice.openClone() } catch where error.code == EACCES {
            throw Errno(EMFILE)  // described by the caller
        }
    }

    func hostNamesChanged() { resolver.withLock { $0 }?.refresh() }

    /// Addresses, MTU, up and (with `routes`) a route per allowed IP, as the file says, applied
    /// as a diff over netlink (libmnl).
    func setUpLink(_ state: InterfaceState) throws {
        let changes = try LinkSetup(interface: state.name, netlink: try RTNetlink()).apply(LinkConfiguration(state))
        if !changes.skippedDefaultRoutes.isEmpty {
            log.error("(\(state.name)) not routed: \(changes.skippedDefaultRoutes.map(\.description).joined(separator: ", ")) (a default route needs policy routing, as wg-quick's fwmark rules do)")
        }
        if !changes.routesHeldElsewhere.isEmpty {
            log.error("(\(state.name)) already routed through another link: \(changes.routesHeldElsewhere.map(\.description).joined(separator: ", "))")
        }
        if changes.changedAnything { log.verbose("(\(state.name)) link: \(changes)") }
    }

    /// After a `wg set` on `name`: host names to resolve, and routes when the file asks for them.
    func stateChanged(_ name: String) {
        hostNamesChanged()
        guard let state = store.interface(named: name), state.routes else { return }
        do { try setUpLink(state) } catch { log.error("(\(name)) routes: \(error)") }
    }

    /// Brings up an interface the file gained (SIGHUP): as at start, but with the privileges
    /// the supervisor kept (CAP_NET_ADMIN).
    func bringUp(_ state: InterfaceState) throws(BringUpError) {
        let interface = try prepare(state)
        do { try start(interface) } catch {
            interface.stop()
            throw error
        }
    }

    /// What needs privilege, and starts no thread: the TUN, the sockets, the UAPI socket (bound
    /// and listening; `wg` waits in its backlog until `start`).
    func prepare(_ state: InterfaceState) throws(BringUpError) -> RunningInterface {
        let name = state.name
        let tun: TunDevice
        let sockets: BoundDescriptors
        do {
            tun = try TunDevice(name: name, mtu: state.config.mtu, clone: try tunClone())
            sockets = try UDPBind.openDescriptors(port: state.config.listenPort, fwmark: state.config.fwmark)
        } catch where error.code == EMFILE {
            throw BringUpError(description: "no /dev/net/tun descriptor left for \(name): the \(Self.spareCloneCount) kept for reloads are used; restart wgd")
        } catch where error.code == EBUSY {
            throw BringUpError(description: "interface \(name) is in use by another process")
        } catch where error.code == EADDRINUSE {
            throw BringUpError(description: "listen port \(state.config.listenPort) is in use")
        } catch {
            throw BringUpError(description: "\(error)")
        }
        do { try setUpLink(state) } catch { throw BringUpError(description: "\(error)") }
        var options = StartOptions(interface: name, cpus: state.cpus ?? Threads.allowedCPUs(), buffers: self.options.buffers,
                                   largeBuffers: self.options.largeBuffers, mtu: state.config.mtu, logLevel: self.options.logLevel)
        options.udpOffload = tun.udpOffload
        let dataPlane = DataPlaneChild(
            name: name, tun: tun, options: options, sockets: sockets, config: state.config, log: log,
            currentConfig: { [store] handOver in
                store.withChangesHeld { state in
                    if let interface = state.interfaces.first(where: { $0.name == name }) { handOver(interface.config) }
                }
            },
            onGone: { [weak self] in self?.deleted(name) })
        let target = RouterInterface(name: name, store: store, dataPlane: dataPlane) { [weak self] in self?.stateChanged(name) }
        do {
            let server = try UAPIServer(interface: name, directory: self.options.socketDirectory, target: target,
                                        log: { [log] in log.error("(\(name)) " + $0) })
            return RunningInterface(name: name, dataPlane: dataPlane, server: server, linkStop: try StopSignal())
        } catch {
            throw BringUpError(description: "\(error)")
        }
    }

    /// The data plane with the file's configuration, then `wg`'s socket, then the link watch.
    func start(_ interface: RunningInterface) throws(BringUpError) {
        guard let state = store.interface(named: interface.name) else { throw BringUpError(description: "not in the state file") }
        try interface.dataPlane.start(with: state.config)
        do {
            try interface.server.start()
            try watchLink(of: interface)
        } catch {
            throw BringUpError(description: "\(error)")
        }
        running.withLock { $0.append(interface) }
        log.verbose("(\(interface.name)) up, UAPI on \(interface.server.socketPath), data plane pid \(interface.dataPlane.pid)")
    }

    private func watchLink(of interface: RunningInterface) throws(Errno) {
        let monitor: LinkMonitor
        do { monitor = try LinkMonitor(interface: interface.name) } catch {
            log.error("(\(interface.name)) no link notifications: \(error)")
            return
        }
        let name = interface.name
        try Threads.spawn(name: "wgd-link") { [weak self] in
            let end = monitor.watch(until: interface.linkStop) { self?.deleted(name) }
            if case .failed(let error) = end { self?.log.error("(\(name)) link notifications stopped: \(error)") }
        }
    }

    /// `ip link del`: the port is freed at once (as the kernel frees it), the rest stops on a
    /// thread of its own, since this runs on the link monitor's or the TUN reader's thread.
    private func deleted(_ name: String) {
        guard let interface = take(name) else { return }
        interface.dataPlane.releaseSockets()
        log.verbose("(\(name)) deleted: stopped")
        let none = runningCount == 0
        try? Threads.spawn(name: "wgd-stop") {
            interface.stop()
            if none { kill(getpid(), SIGTERM) }
        }
    }

    private func take(_ name: String) -> RunningInterface? {
        running.withLock { list in
            guard let index = list.firstIndex(where: { $0.name == name }) else { return nil }
            return list.remove(at: index)
        }
    }

    /// A write of the file failed: every data plane goes back to what the file holds.
    func rollBack(to state: StateFile) {
        for interface in running.withLock({ $0 }) {
            guard let config = state.interfaces.first(where: { $0.name == interface.name })?.config else { continue }
            do { _ = try interface.dataPlane.apply(config, change: ConfigChange(replacing: config)) } catch {
                log.error("(\(interface.name)) cannot restore the configuration after a failed write: \(error)")
            }
        }
        hostNamesChanged()
        log.error("writing \(options.statePath) failed: the changes not yet written were undone")
    }

    func stopAll() {
        resolver.withLock { $0 }?.shutDown()
        let all = running.withLock { list in defer { list = [] }; return list }
        for interface in all { interface.stop() }
    }

    /// SIGHUP: the file again. A valid one is applied as a diff (a peer left as it was keeps its
    /// sessions; interfaces are brought up and stopped as the file now says); an invalid one is
    /// logged and changes nothing.
    func reload() {
        let file: StateFile
        do {
            file = try StateFile.read(options.statePath)
        } catch {
            var why = StateFileCheck.describe(error, path: options.statePath)
            if case .unreadable(_, let errno) = error, errno.code == EACCES {
                why += " (it is read as user \(options.user): an edited file must stay readable by it, e.g. chown \(options.user))"
            }
            log.error("reload refused, the running configuration stays: " + why)
            return
        }
        store.replace { old in
            var adopted = file
            for index in adopted.interfaces.indices {
                let name = adopted.interfaces[index].name
                guard let previous = old.interfaces.first(where: { $0.name == name }) else { continue }
                adopted.interfaces[index].keepResolved(from: previous)
            }
            let list = running.withLock { $0 }
            for interface in list where !adopted.interfaces.contains(where: { $0.name == interface.name }) {
                if let stopped = take(interface.name) { stopped.stop() }
                log.verbose("(\(interface.name)) removed from the file: stopped")
            }
            for state in adopted.interfaces {
                if let interface = list.first(where: { $0.name == state.name }) {
                    do { _ = try interface.dataPlane.apply(state.config, change: ConfigChange(replacing: state.config)) } catch {
                        log.error("(\(state.name)) reload: \(error)")
                    }
                    do { try setUpLink(state) } catch { log.error("(\(state.name)) reload: \(error)") }
                }
            }
            return adopted
        }
        let list = running.withLock { $0 }
        for state in store.state.interfaces where !list.contains(where: { $0.name == state.name }) {
            do { try bringUp(state) } catch { log.error("(\(state.name)) reload: cannot start: \(error)") }
        }
        hostNamesChanged()
        log.verbose("reloaded \(options.statePath)")
    }
}
