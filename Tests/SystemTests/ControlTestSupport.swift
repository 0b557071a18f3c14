import Glibc
import System

/// What the channel tests need beyond ControlSocket: pipes to pass and probe, and a sendmsg that
/// sends what ControlSocket never would (bytes anywhere, descriptors anywhere, too many of them).
enum ControlTestSupport {
    /// A pipe whose ends are plain numbers, for the tests to pass and close as they see fit.
    static func pipe() -> (read: Int32, write: Int32) {
        var ends: (Int32, Int32) = (-1, -1)
        let result = withUnsafeMutableBytes(of: &ends) { Glibc.pipe($0.baseAddress!.assumingMemoryBound(to: Int32.self)) }
        precondition(result == 0, "pipe")
        return ends
    }

    /// Whether every copy of a pipe's write end is closed: a non-blocking read of its read end
    /// then sees the end of the stream at once (EAGAIN while a writer remains).
    static func writersAreGone(readEnd: Int32) -> Bool {
        _ = fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) | O_NONBLOCK)
        var byte: UInt8 = 0
        return read(readEnd, &byte, 1) == 0
    }

    static func isOpen(_ fd: Int32) -> Bool { fcntl(fd, F_GETFD) != -1 }

    /// Whether there was a descriptor (which closes here): #expect cannot compare move-only values.
    static func isSome(_ fd: consuming FileDescriptor?) -> Bool {
        switch consume fd {
        case .some: true
        case .none: false
        }
    }

    /// A frame header as the wire has it (type, flags, length; little-endian).
    static func header(type: UInt16, flags: UInt16 = 0, length: UInt32) -> [UInt8] {
        let word = UInt64(type) | UInt64(flags) << 16 | UInt64(length) << 32
        return (0..<8).map { UInt8(truncatingIfNeeded: word >> (8 * $0)) }
    }

    /// One sendmsg of `bytes` with `fds` attached as SCM_RIGHTS, the control message laid out by
    /// hand (CMSG_LEN = header + data; CMSG_SPACE rounds up to the header's alignment). Returns
    /// what sendmsg returned.
    @discardableResult
    static func rawSend(_ socket: Int32, _ bytes: [UInt8], fds: [Int32] = []) -> Int {
        let headerSize = MemoryLayout<cmsghdr>.size
        let alignment = MemoryLayout<cmsghdr>.alignment
        let length = headerSize + 4 * fds.count
        var control = [UInt8](repeating: 0, count: fds.isEmpty ? 0 : (length + alignment - 1) / alignment * alignment)
        control.withUnsafeMutableBytes { raw in
            guard !fds.isEmpty else { return }
            var header = cmsghdr()
            header.cmsg_len = length
            header.cmsg_level = SOL_SOCKET
            header.cmsg_type = 1   // SCM_RIGHTS
            raw.storeBytes(of: header, as: cmsghdr.self)
            for (i, fd) in fds.enumerated() { raw.storeBytes(of: fd, toByteOffset: headerSize + 4 * i, as: Int32.self) }
        }
        var data = bytes
        return data.withUnsafeMutableBytes { dataBytes in
            control.withUnsafeMutableBytes { controlBytes in
                var iov = iovec(iov_base: dataBytes.baseAddress, iov_len: dataBytes.count)
                return withUnsafeMutablePointer(to: &iov) { iovPointer in
                    var message = msghdr()
                    message.msg_iov = iovPointer
                    message.msg_iovlen = 1
                    message.msg_control = fds.isEmpty ? nil : controlBytes.baseAddress
                    message.msg_controllen = controlBytes.count
                    return sendmsg(socket, &message, Int32(MSG_NOSIGNAL))
                }
            }
        }
    }

    /// Payloads the receiver accepts for any type in these tests.
    static func anyType(_ type: UInt16) -> Int? { type < 100 ? 1 << 24 : nil }
}
