import DataPlane
import System
import Glibc

/// Daemonizing the way `wg-quick` needs it: the command returns only once the interface and
/// its socket exist (status 0), or with the reason it could not start (status 1). The child
/// reports through a pipe; the parent waits for that report.
struct DaemonStart: Sendable {
    enum Fork {
        case parent(status: Int32)
        case child(DaemonStart)
        case failed(Errno)
    }

    private let writer: Int32

    enum Begin {
        /// This process is done (the parent, once the daemon reported; or the fork failed).
        case exit(Int32)
        /// This process runs the daemon; it reports readiness through the pipe, if daemonized.
        case run(DaemonStart?)
    }

    /// Forks unless `foreground`. Call before any thread is started.
    static func begin(foreground: Bool) -> Begin {
        guard !foreground else { return .run(nil) }
        switch fork() {
        case .parent(let status): return .exit(status)
        case .child(let pipe): return .run(pipe)
        case .failed(let error):
            Log.standardError("wgd: cannot daemonize: \(error)")
            return .exit(1)
        }
    }

    /// Call before any thread is started.
    static func fork() -> Fork {
        var ends: (Int32, Int32) = (-1, -1)
        guard withUnsafeMutableBytes(of: &ends, { pipe($0.baseAddress!.assumingMemoryBound(to: Int32.self)) }) == 0 else {
            return .failed(Errno.current)
        }
        let pid = Glibc.fork()
        if pid < 0 { return .failed(Errno.current) }
        if pid > 0 {
            close(ends.1)
            return .parent(status: waitForReport(ends.0))
        }
        close(ends.0)
        _ = setsid()
        _ = chdir("/")
        return .child(DaemonStart(writer: ends.1))
    }

    /// The parent: "ok" means started; anything else is the error to print.
    private static func waitForReport(_ fd: Int32) -> Int32 {
        var report: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { report += chunk[0..<n]; continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        close(fd)
        let text = String(decoding: report, as: UTF8.self)
        if text == "ok" { return 0 }
        Log.standardError("wgd: " + (text.isEmpty ? "the daemon exited before it was ready" : text))
        return 1
    }

    func succeed() {
        send("ok")
        detachStandardStreams()
    }

    /// Nothing more goes to the terminal: the daemon logs to syslog, and reports through the
    /// pipe. Router mode calls this before it spawns its data planes too: a child that kept the
    /// caller's stdout would hold `key=$(S42wgd start)` open for as long as it runs.
    func detachStandardStreams() {
        let null = open("/dev/null", O_RDWR)
        if null >= 0 {
            for fd: Int32 in [0, 1, 2] { dup2(null, fd) }
            if null > 2 { close(null) }
        }
    }

    func fail(_ message: String) { send(message) }

    private func send(_ text: String) {
        var text = text
        text.withUTF8 { _ = write(writer, $0.baseAddress, $0.count) }
        close(writer)
    }
}
