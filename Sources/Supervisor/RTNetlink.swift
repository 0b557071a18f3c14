import CNetlink
public import Protocol
public import System
import Glibc

/// Requests that configure interfaces over rtnetlink (libmnl): links, addresses, routes. Each
/// call is one synchronous request the kernel has answered when it returns, its refusal thrown
/// as the errno it gave (EPERM without CAP_NET_ADMIN; reading needs no privilege).
///
/// - Namespace: the socket is opened in the calling thread's network namespace and stays there.
/// - One thread at a time: replies are read in order from one socket.
/// - Interfaces by index (`link(named:)` finds it): an index, unlike a name, survives a rename.
/// - Routes go into `table` (main by default), straight through the link, with the protocol
///   "static" (`origin`): distinct from the kernel's own routes and from `ip route add`'s
///   default ("boot"), so that removing ours leaves theirs alone.
public final class RTNetlink {
    /// A link as it is now.
    public struct Link: Equatable, Sendable {
        public let index: UInt32
        public let mtu: Int
        public let isUp: Bool
    }

    /// A unicast route through a link, as the kernel lists it.
    public struct Route: Hashable, Sendable {
        public let destination: IPPrefix
        /// Who installed it (the route's rtm_protocol): 2 the kernel (an address's subnet), 3
        /// `ip route add` by default, 4 (`RTNetlink.origin`) us.
        public let origin: UInt8

        public var isOurs: Bool { origin == RTNetlink.origin }
    }

    /// The main routing table, where `ip route` works unless told otherwise.
    public static let mainTable: UInt32 = 254
    /// RTPROT_STATIC: the protocol our routes carry.
    public static let origin: UInt8 = 4

    private let socket: OpaquePointer

    /// Opens a request socket in the calling thread's network namespace.
    public init() throws(Errno) {
        guard let socket = wgd_rtnl_open() else { throw Errno.current }
        self.socket = socket
    }

    deinit { wgd_rtnl_close(socket) }

    /// The link named `name`; ENODEV if there is none.
    public func link(named name: String) throws(Errno) -> Link {
        var link = wgd_link()
        try check(wgd_link_get(socket, name, &link))
        return Link(index: link.index, mtu: Int(link.mtu), isUp: link.flags & UInt32(IFF_UP) != 0)
    }

    /// The index of the link named `name`; ENODEV if there is none.
    public func index(of name: String) throws(Errno) -> UInt32 {
        try link(named: name).index
    }

    public func setMTU(_ mtu: Int, of index: UInt32) throws(Errno) {
        guard let mtu = UInt32(exactly: mtu) else { throw Errno.invalid }
        try check(wgd_link_set_mtu(socket, index, mtu))
    }

    /// Sets the link up (`true`) or down.
    public func setUp(_ up: Bool, _ index: UInt32) throws(Errno) {
        try check(wgd_link_set_up(socket, index, up ? 1 : 0))
    }

    /// The link's IPv4 and IPv6 addresses, the kernel's own (IPv6 link-local) included.
    public func addresses(of index: UInt32) throws(Errno) -> [InterfaceAddress] {
        var found: [wgd_prefix] = []
        try check(withUnsafeMutablePointer(to: &found) { found in
            // A C function pointer captures nothing: the array travels as the context.
            wgd_address_dump(socket, index, { address, context in
                context!.assumingMemoryBound(to: [wgd_prefix].self).pointee.append(address!.pointee)
            }, found)
        })
        return found.compactMap(\.interfaceAddress)
    }

    /// EEXIST if the link has the address already.
    public func add(_ address: InterfaceAddress, to index: UInt32) throws(Errno) {
        var prefix = wgd_prefix(address.address, length: address.prefixLength)
        try check(wgd_address_add(socket, index, &prefix))
    }

    /// EADDRNOTAVAIL if the link does not have the address.
    public func remove(_ address: InterfaceAddress, from index: UInt32) throws(Errno) {
        var prefix = wgd_prefix(address.address, length: address.prefixLength)
        try check(wgd_address_remove(socket, index, &prefix))
    }

    /// The unicast routes straight through the link in `table`, whoever installed them.
    public func routes(of index: UInt32, table: UInt32 = mainTable) throws(Errno) -> [Route] {
        var found: [wgd_route] = []
        try check(withUnsafeMutablePointer(to: &found) { found in
            wgd_route_dump(socket, index, table, { route, context in
                context!.assumingMemoryBound(to: [wgd_route].self).pointee.append(route!.pointee)
            }, found)
        })
        return found.compactMap { route in
            route.destination.prefix.map { Route(destination: $0, origin: route.protocol) }
        }
    }

    /// Adds our route to `destination` through the link; EEXIST if the table has a route there
    /// already (through any link, ours or another's).
    public func add(route destination: IPPrefix, to index: UInt32, table: UInt32 = mainTable) throws(Errno) {
        var prefix = wgd_prefix(destination.address, length: destination.length)
        try check(wgd_route_add(socket, index, table, &prefix, Self.origin))
    }

    /// Removes our route to `destination` through the link; ESRCH if there is none (another's
    /// route to it is never removed).
    public func remove(route destination: IPPrefix, from index: UInt32, table: UInt32 = mainTable) throws(Errno) {
        var prefix = wgd_prefix(destination.address, length: destination.length)
        try check(wgd_route_remove(socket, index, table, &prefix, Self.origin))
    }

    /// The C side's 0, or -1 and errno.
    private func check(_ result: Int32) throws(Errno) {
        if result < 0 { throw Errno.current }
    }
}

/// The C side's address-and-length, to and from our types.
extension wgd_prefix {
    init(_ address: IPAddress, length: UInt8) {
        self.init()
        family = UInt8(address.isV4 ? AF_INET : AF_INET6)
        self.length = length
        address.withUnsafeBytes { source in
            withUnsafeMutableBytes(of: &bytes) { $0.copyMemory(from: source) }
        }
    }

    var address: IPAddress? {
        let size = Int32(family) == AF_INET ? 4 : Int32(family) == AF_INET6 ? 16 : 0
        return withUnsafeBytes(of: bytes) { IPAddress(bytes: UnsafeRawBufferPointer(rebasing: $0.prefix(size))) }
    }

    var interfaceAddress: InterfaceAddress? {
        address.flatMap { InterfaceAddress(address: $0, prefixLength: Int(length)) }
    }

    var prefix: IPPrefix? {
        address.flatMap { IPPrefix(address: $0, length: Int(length)) }
    }
}
