import CShim
import DataPlane
import System
import Glibc

/// `struct ucred` as SO_PEERCRED fills it. Glibc's module only declares it under _GNU_SOURCE,
/// which Swift's view of the headers lacks; three 32-bit fields have one layout everywhere.
struct PeerCredentials: BitwiseCopyable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// AF_UNIX SOCK_STREAM sockets over DataPlane's owned descriptor.
extension FileDescriptor {
    /// A new, unbound, close-on-exec stream socket.
    static func unixStream() throws(Errno) -> FileDescriptor {
        FileDescriptor(taking: try retrying { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) })
    }

    /// A new socket connected to `path`. Non-blocking, so that a live server with a full backlog
    /// answers EAGAIN instead of stalling the caller.
    static func connectedUnixStream(to path: String) throws(Errno) -> FileDescriptor {
        let fd = try unixStream()
        try fd.setNonBlocking()
        var address = try UnixAddress(path)
        _ = try address.withSockaddr { pointer, length throws(Errno) in try retrying { Glibc.connect(fd.rawValue, pointer, length) } }
        return fd
    }

    func bind(unixPath path: String) throws(Errno) {
        var address = try UnixAddress(path)
        _ = try address.withSockaddr { pointer, length throws(Errno) in try retrying { Glibc.bind(rawValue, pointer, length) } }
    }

    func listen(backlog: Int32) throws(Errno) {
        _ = try retrying { Glibc.listen(rawValue, backlog) }
    }

    /// The next pending connection, close-on-exec from the start (accept4 through the shim).
    func acceptConnection() throws(Errno) -> FileDescriptor {
        FileDescriptor(taking: try retrying { wgd_accept_cloexec(rawValue) })
    }

    var peerCredentials: PeerCredentials {
        get throws(Errno) { try getSocketOption(SOL_SOCKET, SO_PEERCRED, initial: PeerCredentials()) }
    }

    /// write(2) for sockets without SIGPIPE: a client that hangs up mid-reply must cost us an
    /// EPIPE, not the process.
    func send(_ buffer: UnsafeRawBufferPointer) throws(Errno) -> Int {
        try retrying { Glibc.send(rawValue, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL)) }
    }
}

/// A `sockaddr_un` for a filesystem path.
struct UnixAddress {
    private var storage = sockaddr_un()

    /// ENAMETOOLONG if the path and its terminating NUL do not fit in sun_path (108 bytes);
    /// EINVAL for an empty path or one with a NUL (which would silently cut it short).
    init(_ path: String) throws(Errno) {
        let capacity = MemoryLayout.size(ofValue: storage.sun_path)
        guard !path.isEmpty, !path.utf8.contains(0) else { throw Errno.invalid }
        guard path.utf8.count < capacity else { throw Errno(ENAMETOOLONG) }
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { bytes in
            for (i, byte) in path.utf8.enumerated() { bytes[i] = byte }
        }
    }

    mutating func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws(Errno) -> R) throws(Errno) -> R {
        try withUnsafePointer(to: &storage) { pointer throws(Errno) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddr throws(Errno) in
                try body(sockaddr, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }
}
