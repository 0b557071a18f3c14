import DataPlane
public import System
import Glibc
import Protocol
import Synchronization

/// How `wgd [-f] IFNAME` runs.
public struct DaemonOptions: Sendable {
    public var interface: String
    public var foreground = false
    /// CPUs for the crypto workers; nil: every CPU this process may use.
    public var cpus: [Int32]?
    public var buffers = 4096
    /// 64 KiB buffers for MTUs above 1500; reserved at start, resident only once used.
    public var largeBuffers = 256
    public var logLevel = LogLevel.error

    public init(interface: String) { self.interface = interface }
}

public enum LogLevel: Int, Sendable, Comparable {
    case silent, error, verbose

    /// wireguard-go's LOG_LEVEL values.
    public init(environment value: String?) {
        switch value {
        case "verbose", "debug": self = .verbose
        case "silent": self = .silent
        default: self = .error
        }
    }

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

/// The wireguard-go-compatible daemon: one interface, configuration in memory, `wg` over the UAPI
/// socket. Exits on SIGINT/SIGTERM, when the interface is deleted and when the socket file is.
public enum Daemon {
    /// Runs until stopped; returns the process's exit status.
    public static func run(_ options: DaemonOptions) -> Int32 {
        guard InterfaceName.isValid(options.interface) else {
            Log.standardError("wgd: invalid interface name '\(options.interface)'")
            return 1
        }
        let readiness: DaemonStart?
        switch DaemonStart.begin(foreground: options.foreground) {
        case .exit(let status): return status
        case .run(let pipe): readiness = pipe
        }
        let log = Log(level: options.logLevel, toSyslog: !options.foreground, name: options.interface)
        func fail(_ message: String) -> Int32 {
            if let readiness { readiness.fail(message) } else { Log.standardError("wgd: \(message)") }
            log.error(message)
            return 1
        }
        // Stop signals are taken by sigwait in this thread: block them before any thread exists,
        // so that every thread inherits the mask.
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGUSR1] { sigaddset(&signals, signal) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        var interfaceOptions = InterfaceOptions()
        if let cpus = options.cpus { interfaceOptions.cpus = cpus }
        interfaceOptions.buffers = options.buffers
        interfaceOptions.largeBuffers = options.largeBuffers
        interfaceOptions.log = { log.error($0) }
        let interface: Interface
        do {
            interface = try Interface(name: options.interface, options: interfaceOptions)
        } catch where error.code == EBUSY {
            return fail("interface \(options.interface) is in use by another process (is a daemon already running?)")
        } catch {
            return fail("cannot create interface \(options.interface): \(error)")
        }
        let server: UAPIServer
        do {
            server = try UAPIServer(interface: options.interface, target: interface,
                                    onSocketDeleted: { stopProcess() }, log: { log.error($0) })
        } catch {
            return fail(error.description)
        }
        let deletion = InterfaceDeletion(interface: interface, server: server, log: log)
        interface.onInterfaceGone { deletion.handle() }
        // Without the monitor, the TUN's read error alone tells of a deletion.
        let monitor: LinkMonitor?
        do { monitor = try LinkMonitor(interface: options.interface) } catch {
            monitor = nil
            log.error("no link notifications for \(options.interface): \(error)")
        }
        let monitorStop: StopSignal
        do { monitorStop = try StopSignal() } catch { return fail("cannot create a pipe: \(error)") }
        do {
            try interface.start()
            try server.start()
            if let monitor {
                try Threads.spawn(name: "wgd-link") {
                    let end = monitor.watch(until: monitorStop) { deletion.handle() }
                    if case .movedAway = end { log.verbose("\(options.interface) moved to another network namespace") }
                    if case .failed(let error) = end { log.error("link notifications stopped: \(error)") }
                }
            }
        } catch {
            return fail("cannot start: \(error)")
        }
        log.verbose("interface \(options.interface) up, UAPI on \(server.socketPath), \(interfaceOptions.cpus.count) workers")
        readiness?.succeed()

        // SIGUSR1: the drop counters, one line, and run on (the kernel shows its drops in
        // `ip -s link`; a userspace daemon has no such place).
        var received: Int32 = 0
        while true {
            received = 0
            sigwait(&signals, &received)
            if received == SIGUSR1 { log.notice("dropped: \(interface.counters.report)"); continue }
            if received != 0 { break }
        }
        log.verbose("shutting down (signal \(received))")
        monitorStop.raise()
        server.stop()
        interface.stop()
        log.verbose("dropped: \(interface.counters.summary)")
        return 0
    }

    /// Asks the main thread to shut down. raise(3) would signal only the calling thread, which
    /// (like every thread but the sigwait in `run`) blocks SIGTERM: the process must get it.
    fileprivate static func stopProcess() { kill(getpid(), SIGTERM) }
}

/// The interface was deleted under the daemon: whichever thread notices first (the link monitor,
/// or the TUN reader on its read error) frees the UDP port before anything else, as the kernel
/// frees it while it deletes the link, so that a new daemon can bind it at once; then the UAPI
/// socket goes, and the process is asked to stop.
private final class InterfaceDeletion: Sendable {
    private let interface: Interface
    private let server: UAPIServer
    private let log: Log
    private let handled = Atomic(false)

    init(interface: Interface, server: UAPIServer, log: Log) {
        self.interface = interface
        self.server = server
        self.log = log
    }

    func handle() {
        guard !handled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        interface.releaseSockets()
        log.verbose("interface \(interface.name) deleted: UDP port released")
        server.stop()
        Daemon.stopProcess()
    }
}
