import CShim
public import Glibc
public import System

/// The TUN interface: layer-3 packets behind a virtio_net_hdr (IFF_TUN | IFF_NO_PI | IFF_VNET_HDR),
/// with checksum and TCP segmentation offloaded to us (TUNSETOFFLOAD): one read carries up to
/// 64 KiB of a TCP flow, where a plain TUN takes one read per segment.
public final class TunDevice: Tunnel {
    public let fd: FileDescriptor
    public let name: String
    /// For the MTU ioctls, which take any socket: opened once, since the MTU is re-read every second.
    private let control: FileDescriptor

    // From <linux/if_tun.h>, which Swift does not import.
    private static let TUNSETIFF: UInt = 0x4004_54CA
    private static let IFF_TUN: Int16 = 0x0001
    private static let IFF_NO_PI: Int16 = 0x1000
    private static let IFF_VNET_HDR: Int16 = 0x4000
    private static let TUNSETOFFLOAD: UInt = 0x4004_54D0
    private static let TUN_F_CSUM: UInt = 0x01, TUN_F_TSO4: UInt = 0x02, TUN_F_TSO6: UInt = 0x04
    private static let TUN_F_USO4: UInt = 0x20, TUN_F_USO6: UInt = 0x40
    private static let SIOCSIFMTU: UInt = 0x8922
    private static let SIOCGIFMTU: UInt = 0x8921

    /// Creates (or attaches to) the TUN interface `name` and sets its MTU.
    public convenience init(name: String, mtu: Int) throws(Errno) {
        try self.init(name: name, mtu: mtu, clone: try Self.openClone())
    }

    /// /dev/net/tun opened, for a TUN made later: the node is often root's alone (mode 600), and
    /// router mode's supervisor keeps a few for interfaces a reload adds after it dropped root.
    public static func openClone() throws(Errno) -> FileDescriptor {
        FileDescriptor(taking: try retrying { open("/dev/net/tun", O_RDWR | O_CLOEXEC) })
    }

    /// As `init(name:mtu:)`, on a descriptor from `openClone`.
    public init(name: String, mtu: Int, clone fd: consuming FileDescriptor) throws(Errno) {
        guard InterfaceName.isValid(name) else { throw Errno(EINVAL) }
        var request = ifreq()
        Self.setName(&request, name)
        request.ifr_ifru.ifru_flags = Self.IFF_TUN | Self.IFF_NO_PI | Self.IFF_VNET_HDR
        try withUnsafeMutableBytes(of: &request) { (raw) throws(Errno) in try fd.ioctl(Self.TUNSETIFF, raw.baseAddress!) }
        // The argument is the flags themselves, not a pointer to them. USO (kernels from 6.2)
        // where the kernel has it: it refuses flags it does not know with EINVAL.
        let tcp = Self.TUN_F_CSUM | Self.TUN_F_TSO4 | Self.TUN_F_TSO6
        do throws(Errno) {
            _ = try retrying { wgd_ioctl_value(fd.rawValue, Self.TUNSETOFFLOAD, tcp | Self.TUN_F_USO4 | Self.TUN_F_USO6) }
            udpOffload = true
        } catch where error.code == EINVAL {
            _ = try retrying { wgd_ioctl_value(fd.rawValue, Self.TUNSETOFFLOAD, tcp) }
            udpOffload = false
        }
        // Non-blocking, so that a busy reader reads without a poll before each packet.
        try fd.setNonBlocking()
        self.fd = fd
        self.name = Self.readName(&request)
        control = FileDescriptor(taking: try retrying { socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) })
        try setMTU(mtu)
    }

    public func setMTU(_ mtu: Int) throws(Errno) {
        var request = ifreq()
        Self.setName(&request, name)
        request.ifr_ifru.ifru_mtu = Int32(mtu)
        try withUnsafeMutableBytes(of: &request) { (raw) throws(Errno) in try control.ioctl(Self.SIOCSIFMTU, raw.baseAddress!) }
    }

    /// The interface's MTU now (an administrator or wg-quick may change it under us).
    public func currentMTU() throws(Errno) -> Int {
        var request = ifreq()
        Self.setName(&request, name)
        try withUnsafeMutableBytes(of: &request) { (raw) throws(Errno) in try control.ioctl(Self.SIOCGIFMTU, raw.baseAddress!) }
        return Int(request.ifr_ifru.ifru_mtu)
    }

    /// Reads one packet into `buffer`; nil after `milliseconds` with nothing to read.
    public func read(into buffer: UnsafeMutableRawBufferPointer, waitingAtMost milliseconds: Int32) throws(Errno) -> Int? {
        try fd.readWhenReady(into: buffer, waitingAtMost: milliseconds)
    }

    public func write(_ packet: UnsafeRawBufferPointer) throws(Errno) {
        _ = try fd.write(packet)
    }

    public func write(vectors: UnsafeBufferPointer<iovec>) throws(Errno) {
        _ = try retrying { Glibc.writev(fd.rawValue, vectors.baseAddress, Int32(vectors.count)) }
    }

    public var offloads: Bool { true }

    public let udpOffload: Bool

    private static func setName(_ request: inout ifreq, _ name: String) {
        withUnsafeMutableBytes(of: &request.ifr_ifrn.ifrn_name) { out in
            out.initializeMemory(as: UInt8.self, repeating: 0)
            for (i, byte) in name.utf8.prefix(out.count - 1).enumerated() { out[i] = byte }
        }
    }

    private static func readName(_ request: inout ifreq) -> String {
        withUnsafeBytes(of: &request.ifr_ifrn.ifrn_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
