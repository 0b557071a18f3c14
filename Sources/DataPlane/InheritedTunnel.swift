public import Glibc
public import System
import Synchronization

/// A TUN device opened by another process (router mode's supervisor) and handed over. This
/// process may not ask the kernel for the MTU (that needs a socket, and the data plane opens
/// none): the supervisor tells it, and `currentMTU` gives what it was told last. The supervisor
/// made it a `TunDevice`, so its packets carry virtio headers (and says whether it took USO).
public final class InheritedTunnel: Tunnel {
    public let name: String
    private let fd: FileDescriptor
    private let mtu: Atomic<Int>
    /// Whether reads may skip the poll (O_NONBLOCK took; it cannot fail on a valid descriptor,
    /// but a blocking read in its place would stall the reader's batch).
    private let nonBlocking: Bool

    public let udpOffload: Bool

    public init(name: String, descriptor: consuming FileDescriptor, mtu: Int, udpOffload: Bool) {
        self.name = name
        self.udpOffload = udpOffload
        nonBlocking = (try? descriptor.setNonBlocking()) != nil
        fd = descriptor
        self.mtu = Atomic(mtu)
    }

    /// The supervisor saw the MTU change (`ip link set mtu`): padding and buffers follow.
    public func mtuChanged(to value: Int) { mtu.store(value, ordering: .relaxed) }

    public func currentMTU() throws(Errno) -> Int { mtu.load(ordering: .relaxed) }

    public func read(into buffer: UnsafeMutableRawBufferPointer, waitingAtMost milliseconds: Int32) throws(Errno) -> Int? {
        if nonBlocking { return try fd.readWhenReady(into: buffer, waitingAtMost: milliseconds) }
        guard try fd.waitReadable(milliseconds: milliseconds) else { return nil }
        return try fd.read(into: buffer)
    }

    public func write(_ packet: UnsafeRawBufferPointer) throws(Errno) {
        _ = try fd.write(packet)
    }

    public func write(vectors: UnsafeBufferPointer<iovec>) throws(Errno) {
        _ = try retrying { Glibc.writev(fd.rawValue, vectors.baseAddress, Int32(vectors.count)) }
    }

    public var offloads: Bool { true }
}
