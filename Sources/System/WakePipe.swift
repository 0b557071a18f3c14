import Glibc

/// A non-blocking, close-on-exec pipe used to wake a thread that sleeps in poll(2): one end is
/// polled next to the descriptors the thread waits on, the other is written to wake it.
public final class WakePipe: Sendable {
    private let readEnd: FileDescriptor
    private let writeEnd: FileDescriptor

    public init() throws(Errno) {
        var ends: (Int32, Int32) = (-1, -1)
        _ = try withUnsafeMutableBytes(of: &ends) { raw throws(Errno) in
            try retrying { pipe(raw.baseAddress!.assumingMemoryBound(to: Int32.self)) }
        }
        readEnd = FileDescriptor(taking: ends.0)
        writeEnd = FileDescriptor(taking: ends.1)
        // pipe2 is a GNU symbol Glibc does not export to Swift: set the flags one by one.
        for fd in [ends.0, ends.1] {
            _ = try retrying { fcntl(fd, F_SETFD, FD_CLOEXEC) }
            _ = try retrying { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        }
    }

    /// The descriptor to poll for POLLIN.
    public var pollable: Int32 { readEnd.rawValue }

    /// Makes the read end readable. A full pipe is already readable, so a failed write is fine.
    public func signal() {
        var byte: UInt8 = 1
        _ = Glibc.write(writeEnd.rawValue, &byte, 1)
    }

    /// Empties the pipe, so that the next poll sleeps again (for a wake that is not sticky).
    public func drain() {
        var sink = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while (withUnsafeMutableBytes(of: &sink) { Glibc.read(readEnd.rawValue, $0.baseAddress, $0.count) }) > 0 {}
    }
}
