public import Glibc
public import Protocol
public import System

/// The network side of an interface: how it gets UDP sockets (wireguard-go's conn.Bind). The
/// real one is `UDPBind`; tests pass an in-memory network.
public protocol Bind: Sendable {
    /// Sockets bound to `port` (0: any free port) for both families, marked with `fwmark`.
    /// EADDRINUSE when the port is taken.
    func open(port: UInt16, fwmark: UInt32) throws(Errno) -> any BoundSockets
}

/// A bound set of sockets. Closing releases the port at once (so that another daemon can bind
/// it) and wakes a receiver; calls after that fail or return nothing.
public protocol BoundSockets: AnyObject, Sendable {
    var port: UInt16 { get }
    /// Receives up to `batch.count` datagrams into the slots' buffers, waiting at most
    /// `milliseconds` for the first. Returns how many slots it filled: 0 on timeout or once closed.
    func receive(_ batch: UnsafeMutableBufferPointer<ReceivedDatagram>, waitingAtMost milliseconds: Int32) -> Int
    /// Sends the datagrams (at most 64) to `endpoint` from `source` (`.none`: the routing table
    /// picks). Returns how many went; throws the errno of the first that did not.
    func send(_ datagrams: UnsafeBufferPointer<iovec>, to endpoint: Endpoint, from source: LocalAddress) throws(Errno) -> Int
    func setFirewallMark(_ mark: UInt32) throws(Errno)
    func close()
}

/// One slot of a receive batch: the caller points it at a buffer, the sockets fill in the rest.
public struct ReceivedDatagram {
    public var data: UnsafeMutableRawPointer?
    public var capacity = 0
    /// Bytes received; 0 for a datagram that did not fit (dropped by the caller).
    public var length = 0
    /// Larger than `capacity`: the interface switches to large buffers for a while.
    public var truncated = false
    public var source: Endpoint?
    /// The local address it arrived on (IP_PKTINFO): where replies leave from.
    public var local = LocalAddress.none

    public init() {}
}

/// Where a datagram arrived (IP_PKTINFO): the local address the peer contacted, so that replies
/// leave from it ("sticky source").
public struct LocalAddress: Sendable, Equatable {
    public var family: Int32 = 0        // 0: none known, let the kernel choose
    public var bytes: (UInt64, UInt64) = (0, 0)
    public var interfaceIndex: Int32 = 0

    public static let none = LocalAddress()

    public init(family: Int32 = 0, bytes: (UInt64, UInt64) = (0, 0), interfaceIndex: Int32 = 0) {
        self.family = family
        self.bytes = bytes
        self.interfaceIndex = interfaceIndex
    }

    public static func == (a: LocalAddress, b: LocalAddress) -> Bool {
        a.family == b.family && a.bytes == b.bytes && a.interfaceIndex == b.interfaceIndex
    }
}
