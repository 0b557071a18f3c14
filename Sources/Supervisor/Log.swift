import Glibc
import System

/// Logging as wireguard-go does it: LOG_LEVEL picks how much; to standard error in the
/// foreground, to syslog (daemon facility) once daemonized.
public final class Log: Sendable {
    private let level: LogLevel
    private let toSyslog: Bool
    private let prefix: String

    public init(level: LogLevel, toSyslog: Bool, name: String) {
        self.level = level
        self.toSyslog = toSyslog
        prefix = "(\(name)) "
        if toSyslog { openlog("wgd", LOG_PID, LOG_DAEMON) }
    }

    public func error(_ message: String) { emit(.error, LOG_ERR, "ERROR: ", message) }

    /// What an admin asked for (SIGUSR1's counters): logged unless LOG_LEVEL=silent.
    public func notice(_ message: String) { emit(.error, LOG_NOTICE, "INFO: ", message) }

    public func verbose(_ message: String) { emit(.verbose, LOG_INFO, "DEBUG: ", message) }

    private func emit(_ needed: LogLevel, _ priority: Int32, _ tag: String, _ message: String) {
        guard level >= needed else { return }
        if toSyslog {
            // syslog(3) is variadic; vsyslog takes the arguments as a va_list.
            (prefix + message).withCString { text in withVaList([text]) { vsyslog(priority, "%s", $0) } }
        } else {
            Log.standardError(tag + prefix + message)
        }
    }

    /// One line to file descriptor 2 (the C `stderr` global is shared mutable state to Swift 6).
    public static func standardError(_ line: String) {
        var text = line + "\n"
        text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}
