import Glibc

/// A failed system call's errno, typed, so that callers never see a raw -1.
public struct Errno: Error, Equatable, Sendable, CustomStringConvertible {
    public let code: Int32

    public init(_ code: Int32) { self.code = code }

    /// The calling thread's errno, right after a failed call.
    public static var current: Errno { Errno(errno) }

    public static let again = Errno(EAGAIN)
    public static let interrupted = Errno(EINTR)
    public static let invalid = Errno(EINVAL)
    public static let addressInUse = Errno(EADDRINUSE)
    public static let badFileDescriptor = Errno(EBADF)

    public var description: String { String(cString: strerror(code)) + " (errno \(code))" }
}

/// Runs a system call until it is not interrupted; -1 becomes a thrown `Errno`. Package-wide:
/// every layer that talks to the kernel wraps its calls with it.
@inline(__always)
package func retrying<T: BinaryInteger>(_ call: () -> T) throws(Errno) -> T {
    while true {
        let result = call()
        if result != -1 { return result }
        if errno != EINTR { throw Errno.current }
    }
}
