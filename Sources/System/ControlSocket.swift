import CShim
import Glibc
import Synchronization

/// One end of the control channel between the supervisor and a data plane: an AF_UNIX
/// SOCK_STREAM socket carrying frames (an 8-byte header, `ControlFrameHeader`, then the payload)
/// both ways, with file descriptors passed as SCM_RIGHTS on a frame's header.
///
/// Reading is strict, because the supervisor reads what an unprivileged process wrote: a frame
/// of a type the reader does not know, with flags, longer than its type allows (refused before a
/// byte of it is read or allocated), cut short, with descriptors anywhere but on its header, or
/// with more descriptors than fit, is an error, and received descriptors are closed unless taken.
///
/// Sends and receives are each serialized by a lock, so frames from several threads never
/// interleave. Nothing here bounds how long a frame takes: a send timeout (the supervisor's
/// guard against a stuck child) and a receive timeout make the calls fail with EAGAIN instead,
/// and then the stream is mid-frame and must be closed.
public final class ControlSocket: Sendable {
    /// Descriptors one frame may carry at most (the C shim's control buffer holds this many).
    public static let maxDescriptors = Int(WGD_PASSED_FDS_MAX)

    private let descriptor: FileDescriptor
    private let sendLock = Mutex(())
    private let receiveLock = Mutex(())

    private init(owning descriptor: consuming FileDescriptor) { self.descriptor = descriptor }

    /// Two connected ends, close-on-exec (the supervisor dup2s the child's end to fd 3 for it).
    public static func pair() throws(Errno) -> (ControlSocket, ControlSocket) {
        var ends: (Int32, Int32) = (-1, -1)
        _ = try withUnsafeMutableBytes(of: &ends) { raw throws(Errno) in
            try retrying {
                socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0,
                           raw.baseAddress!.assumingMemoryBound(to: Int32.self))
            }
        }
        return (ControlSocket(owning: FileDescriptor(taking: ends.0)), ControlSocket(owning: FileDescriptor(taking: ends.1)))
    }

    /// Takes over an inherited descriptor (the data plane's fd 3), closed with this object. It
    /// must be an AF_UNIX stream socket: ENOTSOCK or EPROTOTYPE otherwise, and it is closed.
    public init(inheriting fd: Int32) throws(Errno) {
        let owned = FileDescriptor(taking: fd)
        let type = try owned.getSocketOption(SOL_SOCKET, SO_TYPE, initial: Int32(0))
        let domain = try owned.getSocketOption(SOL_SOCKET, SO_DOMAIN, initial: Int32(0))
        guard type == Int32(SOCK_STREAM.rawValue), domain == AF_UNIX else { throw Errno(EPROTOTYPE) }
        _ = try retrying { fcntl(fd, F_SETFD, FD_CLOEXEC) }
        descriptor = owned
    }

    /// The descriptor number, to poll next to others or to hand to a child; still owned here.
    public var rawValue: Int32 { descriptor.rawValue }

    /// A send that cannot finish within `milliseconds` fails with EAGAIN (0: wait forever).
    public func setSendTimeout(milliseconds: Int) throws(Errno) { try setTimeout(SO_SNDTIMEO, milliseconds) }

    /// A receive that gets no byte for `milliseconds` fails with EAGAIN (0: wait forever).
    public func setReceiveTimeout(milliseconds: Int) throws(Errno) { try setTimeout(SO_RCVTIMEO, milliseconds) }

    /// Waits until a frame's first byte (or the end of the stream) is there, for at most
    /// `milliseconds` (-1: forever); false on timeout.
    public func waitReadable(milliseconds: Int32) throws(Errno) -> Bool {
        try descriptor.waitReadable(milliseconds: milliseconds)
    }

    /// Ends the stream both ways: a reader blocked here or at the other end sees the end of the
    /// stream, and further sends fail with EPIPE. The descriptor stays open until deinit.
    public func shutdown() { _ = Glibc.shutdown(rawValue, Int32(SHUT_RDWR)) }

    private func setTimeout(_ option: Int32, _ milliseconds: Int) throws(Errno) {
        precondition(milliseconds >= 0, "a timeout is not negative")
        let value = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        try descriptor.setSocketOption(SOL_SOCKET, option, value)
    }

    // MARK: sending

    /// Writes one frame: the header with `descriptors` attached, then the payload, whole (short
    /// writes and EINTR are continued). The descriptors stay owned by the caller: the kernel
    /// passes duplicates.
    public func send(type: UInt16, payload: UnsafeRawBufferPointer, descriptors: [Int32] = []) throws(ControlError) {
        precondition(payload.count <= Int(UInt32.max), "a frame's length is 32 bits")
        precondition(descriptors.count <= Self.maxDescriptors, "at most \(Self.maxDescriptors) descriptors a frame")
        let header = ControlFrameHeader(type: type, length: UInt32(payload.count)).bytes
        try sendLock.withLock { _ throws(ControlError) in
            try header.span.withUnsafeBytes { head throws(ControlError) in try sendAll(head, payload, descriptors) }
        }
    }

    public func send(type: UInt16, payload: [UInt8], descriptors: [Int32] = []) throws(ControlError) {
        try payload.span.withUnsafeBytes { bytes throws(ControlError) in try send(type: type, payload: bytes, descriptors: descriptors) }
    }

    /// The descriptors ride on the first sendmsg only, so that they arrive with the header's
    /// first byte, the one place the reader takes them.
    private func sendAll(_ head: UnsafeRawBufferPointer, _ body: UnsafeRawBufferPointer, _ descriptors: [Int32]) throws(ControlError) {
        var sent = 0
        var attached = descriptors
        while sent < head.count + body.count {
            let headRest = UnsafeRawBufferPointer(rebasing: head[min(sent, head.count)...])
            let bodyRest = UnsafeRawBufferPointer(rebasing: body[max(0, sent - head.count)...])
            sent += try sendOnce(headRest, bodyRest, attached)
            attached = []
        }
    }

    private func sendOnce(_ head: UnsafeRawBufferPointer, _ body: UnsafeRawBufferPointer, _ descriptors: [Int32]) throws(ControlError) -> Int {
        do throws(Errno) {
            return try retrying {
                descriptors.withUnsafeBufferPointer { fds in
                    wgd_control_send(rawValue, head.baseAddress, head.count, body.baseAddress, body.count, fds.baseAddress, UInt32(fds.count))
                }
            }
        } catch {
            throw .system(error)
        }
    }

    // MARK: receiving

    /// Reads exactly one frame. `limit` gives the longest payload a type may have, nil for a type
    /// the reader does not know. `.closed` only at a frame boundary.
    public func receive(limit: (UInt16) -> Int?) throws(ControlError) -> ControlFrame {
        try receiveLock.withLock { _ throws(ControlError) -> ControlFrame in try receiveFrame(limit) }
    }

    private func receiveFrame(_ limit: (UInt16) -> Int?) throws(ControlError) -> ControlFrame {
        var descriptors = ReceivedDescriptors()
        let header = try receiveHeader(&descriptors)
        guard header.flags == 0 else {
            throw .protocolViolation("frame type \(header.type) has flags \(header.flags); this version sends 0")
        }
        guard let longest = limit(header.type) else { throw .protocolViolation("unknown frame type \(header.type)") }
        guard Int(header.length) <= longest else {
            throw .protocolViolation("frame type \(header.type) of \(header.length) bytes; it has at most \(longest)")
        }
        var payload = ZeroingBuffer(count: Int(header.length))
        try payload.withUnsafeMutableBytes { bytes throws(ControlError) in try receivePayload(into: bytes) }
        return ControlFrame(type: header.type, payload: payload, descriptors: descriptors)
    }

    /// Descriptors are taken on any read of the header's bytes: the sender attached them to its
    /// first sendmsg, and the kernel hands them over with the first read of those bytes.
    private func receiveHeader(_ descriptors: inout ReceivedDescriptors) throws(ControlError) -> ControlFrameHeader {
        var bytes = ControlFrameHeader.Bytes(repeating: 0)
        var span = bytes.mutableSpan
        try span.withUnsafeMutableBytes { bytes throws(ControlError) in
            var done = 0
            while done < bytes.count {
                let n = try receiveOnce(into: UnsafeMutableRawBufferPointer(rebasing: bytes[done...]), &descriptors)
                if n == 0 { throw done == 0 ? .closed : .truncated }
                done += n
            }
        }
        return ControlFrameHeader(bytes)
    }

    /// Each read asks for no more than the frame's rest, so it never reaches into the next frame
    /// (whose descriptors would come with it).
    private func receivePayload(into bytes: UnsafeMutableRawBufferPointer) throws(ControlError) {
        var done = 0
        while done < bytes.count {
            var stray = ReceivedDescriptors()
            let n = try receiveOnce(into: UnsafeMutableRawBufferPointer(rebasing: bytes[done...]), &stray)
            guard stray.count == 0 else { throw .protocolViolation("descriptors attached to a frame's payload") }
            if n == 0 { throw .truncated }
            done += n
        }
    }

    /// One recvmsg, retried on EINTR. The descriptors it brings join `descriptors` before
    /// anything is checked, so that every way out closes them.
    private func receiveOnce(into buffer: UnsafeMutableRawBufferPointer, _ descriptors: inout ReceivedDescriptors) throws(ControlError) -> Int {
        let room = max(0, Self.maxDescriptors - descriptors.count)
        while true {
            var fds = InlineArray<4, Int32>(repeating: -1)   // WGD_PASSED_FDS_MAX
            var count: UInt32 = 0
            var cut: Int32 = 0
            // Never more room than `fds` has, whatever the shim's bound: the shim writes at most this many.
            let capacity = UInt32(min(room, fds.count))
            let n = withUnsafeMutableBytes(of: &fds) { raw in
                wgd_control_receive(rawValue, buffer.baseAddress, buffer.count, raw.baseAddress!.assumingMemoryBound(to: Int32.self),
                                    capacity, &count, &cut)
            }
            let error = errno
            for i in 0..<Int(count) { descriptors.append(fds[i]) }
            if cut != 0 { throw .protocolViolation("more descriptors than a frame may carry (\(Self.maxDescriptors))") }
            if n >= 0 { return n }
            if error != EINTR { throw .system(Errno(error)) }
        }
    }
}
