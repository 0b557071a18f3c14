import DataPlane
import System
import Glibc

/// A pipe that becomes readable, for good, when the server stops: every thread polls it next to
/// its socket, so one write wakes them all at once, whatever they were waiting for.
final class StopSignal: Sendable {
    private let pipe: WakePipe

    init() throws(Errno) { pipe = try WakePipe() }

    /// The descriptor to poll for POLLIN.
    var pollable: Int32 { pipe.pollable }

    /// Never read back: the pipe stays readable. Raising twice is harmless.
    func raise() { pipe.signal() }
}

/// What a wait ended with.
enum Readiness {
    case ready
    case timedOut
    case stopping
}

/// Waits for `events` on `fd`, or the stop signal, for at most `milliseconds` (-1: forever).
func waitFor(_ events: Int32, on fd: Int32, or stop: StopSignal, milliseconds: Int32) throws(Errno) -> Readiness {
    var fds = (pollfd(fd: fd, events: Int16(events), revents: 0), pollfd(fd: stop.pollable, events: Int16(POLLIN), revents: 0))
    let count = try withUnsafeMutableBytes(of: &fds) { raw throws(Errno) in
        try retrying { poll(raw.baseAddress!.assumingMemoryBound(to: pollfd.self), 2, milliseconds) }
    }
    if fds.1.revents != 0 { return .stopping }
    return count == 0 ? .timedOut : .ready
}
