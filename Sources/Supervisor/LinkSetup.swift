public import Protocol
public import System
import Glibc

/// Brings an interface wgd created to a `LinkConfiguration`, changing only what differs, so that
/// applying the same configuration again changes nothing (and is no error).
///
/// - Authority: the configuration lists every address the interface should have; any other is
///   removed, except the IPv6 link-local ones (fe80::/10) the kernel gives a link that is up.
///   Routes: only ours (`RTNetlink.Route.isOurs`) are removed when no longer wanted.
/// - Order: MTU first (IPv6 needs 1280 before it takes an address), then addresses, up, and
///   routes last: IPv4 routes need the link up, and removing a link's last IPv4 address flushes
///   every IPv4 route through it, so routes are read only after the addresses are settled.
/// - Already so: an address being added that is there (EEXIST) or being removed that is gone
///   (EADDRNOTAVAIL), a route being removed that is gone (ESRCH), is what was wanted.
/// - Not done, and said in the changes: default routes (policy routing would be needed), and
///   routes the table already has through another link (EEXIST): left to their owner.
public struct LinkSetup {
    public let name: String
    private let netlink: RTNetlink

    public init(interface name: String, netlink: RTNetlink) {
        self.name = name
        self.netlink = netlink
    }

    public func apply(_ wanted: LinkConfiguration) throws(LinkSetupError) -> LinkChanges {
        let link = try perform("looking up \(name)") { () throws(Errno) in try netlink.link(named: name) }
        var changes = LinkChanges()
        changes.mtu = try applyMTU(wanted.mtu, to: link)
        try applyAddresses(wanted.addresses, to: link.index, &changes)
        changes.up = try applyUp(wanted.up, to: link)
        try applyRoutes(wanted.routes, to: link.index, &changes)
        return changes
    }

    /// The MTU set, nil if it already was.
    private func applyMTU(_ mtu: Int?, to link: RTNetlink.Link) throws(LinkSetupError) -> Int? {
        guard let mtu, mtu != link.mtu else { return nil }
        try perform("setting the MTU of \(name) to \(mtu)") { () throws(Errno) in try netlink.setMTU(mtu, of: link.index) }
        return mtu
    }

    /// The up state set, nil if it already was.
    private func applyUp(_ up: Bool, to link: RTNetlink.Link) throws(LinkSetupError) -> Bool? {
        guard up != link.isUp else { return nil }
        try perform("setting \(name) \(up ? "up" : "down")") { () throws(Errno) in try netlink.setUp(up, link.index) }
        return up
    }

    private func applyAddresses(_ wanted: [InterfaceAddress], to index: UInt32,
                                _ changes: inout LinkChanges) throws(LinkSetupError) {
        let wantedSet = Set(wanted)
        var present = try addresses(of: index)
        for address in present where !wantedSet.contains(address) && !Self.linkLocal.contains(address.address) {
            // Gone already counts: removing an IPv4 address removes the others of its subnet with it.
            _ = try change("removing \(address) from \(name)", tolerating: EADDRNOTAVAIL) { () throws(Errno) in
                try netlink.remove(address, from: index)
            }
            changes.removedAddresses.append(address)
        }
        // Read again: a wanted address may have gone with one removed (as above).
        if !changes.removedAddresses.isEmpty { present = try addresses(of: index) }
        let presentSet = Set(present)
        for address in wanted.uniqued() where !presentSet.contains(address) {
            let added = try change("adding \(address) to \(name)", tolerating: EEXIST) { () throws(Errno) in
                try netlink.add(address, to: index)
            }
            if added { changes.addedAddresses.append(address) }
        }
    }

    private func applyRoutes(_ wanted: [IPPrefix], to index: UInt32, _ changes: inout LinkChanges) throws(LinkSetupError) {
        let routable = wanted.uniqued().filter { $0.length > 0 }
        changes.skippedDefaultRoutes = wanted.uniqued().filter { $0.length == 0 }
        let wantedSet = Set(routable)
        let present = try perform("listing the routes of \(name)") { () throws(Errno) in try netlink.routes(of: index) }
        for route in present where route.isOurs && !wantedSet.contains(route.destination) {
            _ = try change("removing route \(route.destination) from \(name)", tolerating: ESRCH) { () throws(Errno) in
                try netlink.remove(route: route.destination, from: index)
            }
            changes.removedRoutes.append(route.destination)
        }
        // Any route through the link will do: the kernel's to an address's subnet sends it here.
        let routed = Set(present.map(\.destination))
        for destination in routable where !routed.contains(destination) {
            let added = try change("adding route \(destination) to \(name)", tolerating: EEXIST) { () throws(Errno) in
                try netlink.add(route: destination, to: index)
            }
            if added { changes.addedRoutes.append(destination) } else { changes.routesHeldElsewhere.append(destination) }
        }
    }

    private func addresses(of index: UInt32) throws(LinkSetupError) -> [InterfaceAddress] {
        try perform("listing the addresses of \(name)") { () throws(Errno) in try netlink.addresses(of: index) }
    }

    /// fe80::/10, where the kernel puts the link-local addresses it makes itself.
    private static let linkLocal = IPPrefix(address: .v6(IPv6Address(high: 0xFE80 << 48, low: 0)), length: 10)!

    /// Runs a request; its refusal becomes an error that says what failed.
    private func perform<T>(_ action: @autoclosure () -> String,
                            _ request: () throws(Errno) -> T) throws(LinkSetupError) -> T {
        do throws(Errno) {
            return try request()
        } catch {
            throw LinkSetupError(action: action(), errno: error)
        }
    }

    /// Runs a change; false if the kernel refused it with `tolerated`, meaning it already was so.
    private func change(_ action: @autoclosure () -> String, tolerating tolerated: Int32,
                        _ request: () throws(Errno) -> Void) throws(LinkSetupError) -> Bool {
        try perform(action()) { () throws(Errno) -> Bool in
            do throws(Errno) {
                try request()
                return true
            } catch where error.code == tolerated {
                return false
            }
        }
    }
}

/// What `LinkSetup.apply` changed, and what it was asked for and left alone.
public struct LinkChanges: Equatable, Sendable {
    /// The MTU set; nil: it already was.
    public var mtu: Int?
    /// The up state set; nil: it already was.
    public var up: Bool?
    public var addedAddresses: [InterfaceAddress] = []
    public var removedAddresses: [InterfaceAddress] = []
    public var addedRoutes: [IPPrefix] = []
    public var removedRoutes: [IPPrefix] = []
    /// Default routes (0.0.0.0/0, ::/0) not installed: they need policy routing, as wg-quick's
    /// fwmark rules do, so that the tunnel's own packets still leave by the old route. To log.
    public var skippedDefaultRoutes: [IPPrefix] = []
    /// Destinations the table already routes through another link (EEXIST): left to it. To log.
    public var routesHeldElsewhere: [IPPrefix] = []

    public init() {}

    /// Whether anything in the kernel changed.
    public var changedAnything: Bool {
        mtu != nil || up != nil || !addedAddresses.isEmpty || !removedAddresses.isEmpty
            || !addedRoutes.isEmpty || !removedRoutes.isEmpty
    }
}

/// A request `LinkSetup` made that the kernel refused: "adding 192.0.2.1/24 to wg0: Operation
/// not permitted (errno 1)".
public struct LinkSetupError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What was being done, e.g. "adding 192.0.2.1/24 to wg0".
    public let action: String
    public let errno: Errno

    public var description: String { "\(action): \(errno)" }
}

extension Array where Element: Hashable {
    /// The elements in order, each at its first place only.
    fileprivate func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
