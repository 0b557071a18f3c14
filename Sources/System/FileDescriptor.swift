import CShim
import Glibc

/// An owned file descriptor: closed exactly once, when its owner lets go. Move-only, so that a
/// descriptor is never closed twice or used after close by a copy.
public struct FileDescriptor: ~Copyable, Sendable {
    public let rawValue: Int32

    public init(taking rawValue: Int32) { self.rawValue = rawValue }

    deinit { _ = Glibc.close(rawValue) }

    /// Gives up ownership without closing (e.g. to pass the number to a child process).
    public consuming func release() -> Int32 {
        let raw = rawValue
        discard self
        return raw
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try retrying { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
    }

    public func write(_ buffer: UnsafeRawBufferPointer) throws(Errno) -> Int {
        try retrying { Glibc.write(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Writes all of `buffer`, looping over short writes.
    public func writeAll(_ buffer: UnsafeRawBufferPointer) throws(Errno) {
        var done = 0
        while done < buffer.count {
            done += try write(UnsafeRawBufferPointer(rebasing: buffer[done...]))
        }
    }

    /// fsync: the data and metadata reach the disk before this returns.
    public func sync() throws(Errno) {
        _ = try retrying { fsync(rawValue) }
    }

    public func setNonBlocking(_ on: Bool = true) throws(Errno) {
        let flags = try retrying { fcntl(rawValue, F_GETFL) }
        _ = try retrying { fcntl(rawValue, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) }
    }

    /// ioctl with one pointer argument (through the C shim: ioctl is variadic).
    public func ioctl(_ request: UInt, _ argument: UnsafeMutableRawPointer) throws(Errno) {
        _ = try retrying { wgd_ioctl_ptr(rawValue, request, argument) }
    }

    /// setsockopt for plain-value options (integers, C structs).
    public func setSocketOption<T: BitwiseCopyable>(_ level: Int32, _ name: Int32, _ value: T) throws(Errno) {
        var value = value
        _ = try retrying { withUnsafeBytes(of: &value) { setsockopt(rawValue, level, name, $0.baseAddress, socklen_t($0.count)) } }
    }

    public func getSocketOption<T: BitwiseCopyable>(_ level: Int32, _ name: Int32, initial: T) throws(Errno) -> T {
        var value = initial
        var length = socklen_t(MemoryLayout<T>.size)
        _ = try retrying { withUnsafeMutableBytes(of: &value) { getsockopt(rawValue, level, name, $0.baseAddress, &length) } }
        return value
    }

    /// One read from a non-blocking descriptor: at once when something is there (one syscall, no
    /// poll first), else after waiting at most `milliseconds` (0: no wait). Nil when nothing came.
    public func readWhenReady(into buffer: UnsafeMutableRawBufferPointer, waitingAtMost milliseconds: Int32) throws(Errno) -> Int? {
        do throws(Errno) { return try read(into: buffer) } catch where error.code == EAGAIN {}
        guard milliseconds != 0, try waitReadable(milliseconds: milliseconds) else { return nil }
        do throws(Errno) { return try read(into: buffer) } catch where error.code == EAGAIN { return nil }
    }

    /// Waits until readable (or hung up) for at most `milliseconds` (-1: forever); false on timeout.
    public func waitReadable(milliseconds: Int32) throws(Errno) -> Bool {
        var pfd = pollfd(fd: rawValue, events: Int16(POLLIN), revents: 0)
        return try retrying { poll(&pfd, 1, milliseconds) } > 0
    }
}
