public import Glibc
public import System

/// The tunnel side of an interface: layer-3 packets in and out (wireguard-go's tun.Device). The
/// real one is `TunDevice`; tests pass an in-memory one, so that whole interfaces run in-process.
public protocol Tunnel: AnyObject, Sendable {
    var name: String { get }
    /// Reads one packet into `buffer`; nil when nothing came within `milliseconds` (0: nothing
    /// was there). An error other than EINTR/EAGAIN means the device is gone.
    func read(into buffer: UnsafeMutableRawBufferPointer, waitingAtMost milliseconds: Int32) throws(Errno) -> Int?
    func write(_ packet: UnsafeRawBufferPointer) throws(Errno)
    /// Writes one packet given in pieces (a coalesced super-packet: its headers, then each
    /// segment's payload where it was decrypted).
    func write(vectors: UnsafeBufferPointer<iovec>) throws(Errno)
    /// Whether every packet read and written starts with a `VirtioHeader` (IFF_VNET_HDR): reads
    /// may then be TCP super-packets and carry partial checksums (TunOffload.swift).
    var offloads: Bool { get }
    /// Whether reads may also be UDP super-packets (USO), and writes may be: the kernel took
    /// TUN_F_USO4 and TUN_F_USO6, so it also accepts them written.
    var udpOffload: Bool { get }
    /// The device's MTU now: an administrator or wg-quick may change it under us.
    func currentMTU() throws(Errno) -> Int
}

extension Tunnel {
    public var offloads: Bool { false }
    public var udpOffload: Bool { false }
}
