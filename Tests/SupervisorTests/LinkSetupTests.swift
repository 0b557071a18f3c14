import DataPlane
import Glibc
import Protocol
import System
import Testing
@testable import Supervisor

private func address(_ text: String) -> InterfaceAddress { InterfaceAddress(text)! }
private func prefix(_ text: String) -> IPPrefix { IPPrefix(text)! }

/// RTNetlink and LinkSetup against the real kernel, each test on a thread in a network namespace
/// of its own (PrivateNetworkNamespace) with TUN links that vanish with their descriptors. What
/// the kernel holds is read back through RTNetlink's dumps, and once through ip(8) run in that
/// namespace. Addresses from the documentation ranges only. Needs root and /dev/net/tun.
@Suite(.enabled(if: PrivateNetworkNamespace.available, "needs root and /dev/net/tun (network namespaces, TUN links)"))
struct LinkSetupTests {
    /// What the kernel holds for one link, read through our dumps.
    struct Observed: Equatable, Sendable {
        var mtu: Int
        var isUp: Bool
        /// Without the kernel's own IPv6 link-local addresses.
        var addresses: Set<InterfaceAddress>
        var linkLocal: Set<InterfaceAddress>
        var ourRoutes: Set<IPPrefix>
        var otherRoutes: Set<RTNetlink.Route>

        init(_ name: String, _ netlink: RTNetlink) throws {
            let link = try netlink.link(named: name)
            mtu = link.mtu
            isUp = link.isUp
            let all = try netlink.addresses(of: link.index)
            linkLocal = Set(all.filter { Self.linkLocal.contains($0.address) })
            addresses = Set(all).subtracting(linkLocal)
            let routes = try netlink.routes(of: link.index)
            ourRoutes = Set(routes.filter(\.isOurs).map(\.destination))
            otherRoutes = Set(routes.filter { !$0.isOurs })
        }

        static let linkLocal = IPPrefix("fe80::/10")!
    }

    static let first = LinkConfiguration(
        addresses: [address("192.0.2.1/24"), address("fd00::1/64")],
        mtu: 1380,
        routes: [prefix("198.51.100.0/24"), prefix("203.0.113.7/32"), prefix("fd00:1::/48"), prefix("0.0.0.0/0"),
                 prefix("::/0"), prefix("198.51.100.0/24")])

    @Test func appliesAConfigurationAndAgainChangesNothing() throws {
        struct Seen: Sendable {
            var first: LinkChanges, again: LinkChanges
            var afterFirst: Observed, afterAgain: Observed
            var ip: String?
        }
        #expect(if_nametoindex("wgtls0") == 0, "no such link in the host's namespace to begin with")
        let seen = try PrivateNetworkNamespace.run { () throws -> Seen in
            let tun = try TunDevice(name: "wgtls0", mtu: 1420)
            let netlink = try RTNetlink()
            let setup = LinkSetup(interface: "wgtls0", netlink: netlink)
            let first = try setup.apply(Self.first)
            let afterFirst = try Observed("wgtls0", netlink)
            let ip = Self.ip("-o addr show dev wgtls0; ip -o link show dev wgtls0; ip route show dev wgtls0; ip -6 route show dev wgtls0")
            let again = try setup.apply(Self.first)
            let afterAgain = try Observed("wgtls0", netlink)
            withExtendedLifetime(tun) {}
            return Seen(first: first, again: again, afterFirst: afterFirst, afterAgain: afterAgain, ip: ip)
        }.get()
        #expect(if_nametoindex("wgtls0") == 0, "nothing reached the host's namespace")

        var expected = LinkChanges()
        expected.mtu = 1380
        expected.up = true
        expected.addedAddresses = Self.first.addresses
        expected.addedRoutes = [prefix("198.51.100.0/24"), prefix("203.0.113.7/32"), prefix("fd00:1::/48")]
        expected.skippedDefaultRoutes = [prefix("0.0.0.0/0"), prefix("::/0")]
        #expect(seen.first == expected)

        #expect(seen.afterFirst.mtu == 1380)
        #expect(seen.afterFirst.isUp)
        #expect(seen.afterFirst.addresses == Set(Self.first.addresses))
        #expect(seen.afterFirst.ourRoutes == Set(expected.addedRoutes))
        #expect(!seen.afterFirst.otherRoutes.contains { $0.destination.length == 0 }, "no default route")
        // The kernel's routes to the addresses' subnets, which are not ours to remove.
        #expect(seen.afterFirst.otherRoutes.contains(RTNetlink.Route(destination: prefix("192.0.2.0/24"), origin: 2)))

        var unchanged = LinkChanges()
        unchanged.skippedDefaultRoutes = expected.skippedDefaultRoutes
        #expect(seen.again == unchanged)
        #expect(!seen.again.changedAnything)
        #expect(seen.afterAgain == seen.afterFirst, "link-local addresses kept: \(seen.afterFirst.linkLocal)")

        // ip(8)'s view of the same namespace.
        if let ip = seen.ip {
            for expected in ["inet 192.0.2.1/24", "inet6 fd00::1/64", "mtu 1380", ",UP", "198.51.100.0/24 proto static scope link",
                             "203.0.113.7 proto static scope link", "fd00:1::/48 proto static"] {
                #expect(ip.contains(expected), "ip prints \(expected)\n\(ip)")
            }
        }
    }

    @Test func removesWhatTheConfigurationNoLongerLists() throws {
        let before = LinkConfiguration(
            addresses: [address("192.0.2.1/24"), address("198.51.100.1/24"), address("fd00::1/64"), address("fd00::2/64")],
            routes: [prefix("203.0.113.0/25"), prefix("203.0.113.128/25"), prefix("fd00:1::/48"), prefix("fd00:2::/48")])
        // A new IPv4 address, one IPv6 address with a new prefix length, one route kept.
        let after = LinkConfiguration(
            addresses: [address("192.0.2.2/24"), address("fd00::1/56"), address("fd00::2/64")],
            routes: [prefix("203.0.113.0/25"), prefix("fd00:3::/48")])
        struct Seen: Sendable {
            var changes: LinkChanges, again: LinkChanges
            var observed: Observed
        }
        let seen = try PrivateNetworkNamespace.run { () throws -> Seen in
            let tun = try TunDevice(name: "wgtls0", mtu: 1420)
            let netlink = try RTNetlink()
            let setup = LinkSetup(interface: "wgtls0", netlink: netlink)
            _ = try setup.apply(before)
            // An address the state file never listed: the state file is authoritative.
            try netlink.add(address("203.0.113.200/32"), to: netlink.index(of: "wgtls0"))
            let changes = try setup.apply(after)
            let observed = try Observed("wgtls0", netlink)
            let again = try setup.apply(after)
            withExtendedLifetime(tun) {}
            return Seen(changes: changes, again: again, observed: observed)
        }.get()
        #expect(Set(seen.changes.removedAddresses) == [
            address("192.0.2.1/24"), address("198.51.100.1/24"), address("203.0.113.200/32"),
            address("fd00::1/64"),
        ])
        #expect(seen.changes.addedAddresses == [address("192.0.2.2/24"), address("fd00::1/56")])
        #expect(seen.changes.removedRoutes.contains(prefix("fd00:2::/48")))
        #expect(seen.changes.addedRoutes.contains(prefix("fd00:3::/48")))
        #expect(seen.observed.addresses == Set(after.addresses))
        #expect(seen.observed.ourRoutes == Set(after.routes))
        #expect(!seen.again.changedAnything)
    }

    /// Removing an IPv4 address takes the other addresses of its subnet with it (unless
    /// promote_secondaries is set): a wanted one among them is put back.
    @Test func keepsASecondaryAddressItsPrimaryTookAway() throws {
        let observed = try PrivateNetworkNamespace.run { () throws -> Observed in
            let tun = try TunDevice(name: "wgtls0", mtu: 1420)
            let netlink = try RTNetlink()
            let setup = LinkSetup(interface: "wgtls0", netlink: netlink)
            _ = try setup.apply(LinkConfiguration(addresses: [address("192.0.2.1/24"), address("192.0.2.2/24")]))
            _ = try setup.apply(LinkConfiguration(addresses: [address("192.0.2.2/24")]))
            withExtendedLifetime(tun) {}
            return try Observed("wgtls0", netlink)
        }.get()
        #expect(observed.addresses == [address("192.0.2.2/24")])
    }

    /// A destination the table already routes: through this link (the kernel's route to an
    /// address's subnet) it needs nothing; through another link it is left to that link.
    @Test func leavesRoutesThatAreAlreadyThere() throws {
        let wanted = LinkConfiguration(
            addresses: [address("192.0.2.1/24"), address("fd00::1/64")],
            routes: [prefix("192.0.2.0/24"), prefix("fd00::/64"), prefix("198.51.100.0/24"), prefix("203.0.113.0/24")])
        let (first, again) = try PrivateNetworkNamespace.run { () throws -> (LinkChanges, LinkChanges) in
            let tun = try TunDevice(name: "wgtls0", mtu: 1420)
            let other = try TunDevice(name: "wgtls1", mtu: 1420)
            let netlink = try RTNetlink()
            let otherIndex = try netlink.index(of: "wgtls1")
            try netlink.setUp(true, otherIndex)
            try netlink.add(route: prefix("198.51.100.0/24"), to: otherIndex)
            let setup = LinkSetup(interface: "wgtls0", netlink: netlink)
            let result = (try setup.apply(wanted), try setup.apply(wanted))
            withExtendedLifetime((tun, other)) {}
            return result
        }.get()
        #expect(first.addedRoutes == [prefix("203.0.113.0/24")])
        #expect(first.routesHeldElsewhere == [prefix("198.51.100.0/24")])
        #expect(!again.changedAnything)
        #expect(again.routesHeldElsewhere == [prefix("198.51.100.0/24")])
    }

    @Test func refusalsCarryTheKernelsErrno() throws {
        struct Seen: Sendable {
            var errors: [String: Int32] = [:]
            var setupError: LinkSetupError?
            var missingLink: LinkSetupError?
        }
        let seen = try PrivateNetworkNamespace.run { () throws -> Seen in
            let tun = try TunDevice(name: "wgtls0", mtu: 1420)
            let netlink = try RTNetlink()
            let index = try netlink.index(of: "wgtls0")
            var seen = Seen()
            func record(_ name: String, _ request: () throws(Errno) -> Void) {
                do throws(Errno) { try request(); seen.errors[name] = 0 } catch { seen.errors[name] = error.code }
            }
            record("index of a missing link") { () throws(Errno) in _ = try netlink.index(of: "wgtnone0") }
            record("MTU of a missing index") { () throws(Errno) in try netlink.setMTU(1400, of: 999_999) }
            record("add") { () throws(Errno) in try netlink.add(address("192.0.2.1/24"), to: index) }
            record("add twice") { () throws(Errno) in try netlink.add(address("192.0.2.1/24"), to: index) }
            record("remove absent") { () throws(Errno) in try netlink.remove(address("192.0.2.9/24"), from: index) }
            record("remove absent v6") { () throws(Errno) in try netlink.remove(address("fd00::9/64"), from: index) }
            record("remove absent route") { () throws(Errno) in try netlink.remove(route: prefix("198.51.100.0/24"), from: index) }
            // The link is down: IPv4 takes no route through it.
            let down = LinkConfiguration(up: false, routes: [prefix("198.51.100.0/24")])
            func failure(of name: String) -> LinkSetupError? {
                let setup = LinkSetup(interface: name, netlink: netlink)
                let result = Result { () throws(LinkSetupError) in try setup.apply(down) }
                if case .failure(let error) = result { return error }
                return nil
            }
            seen.setupError = failure(of: "wgtls0")
            seen.missingLink = failure(of: "wgtnone0")
            withExtendedLifetime(tun) {}
            return seen
        }.get()
        #expect(seen.errors == [
            "index of a missing link": ENODEV, "MTU of a missing index": ENODEV, "add": 0, "add twice": EEXIST,
            "remove absent": EADDRNOTAVAIL, "remove absent v6": EADDRNOTAVAIL, "remove absent route": ESRCH,
        ])
        #expect(seen.setupError == LinkSetupError(action: "adding route 198.51.100.0/24 to wgtls0", errno: Errno(ENETDOWN)))
        #expect(seen.setupError?.description.hasPrefix("adding route 198.51.100.0/24 to wgtls0: ") == true)
        #expect(seen.missingLink == LinkSetupError(action: "looking up wgtnone0", errno: Errno(ENODEV)))
    }

    /// The supervisor will run as uid wgd with CAP_NET_ADMIN: without it (dropped on this thread
    /// alone; capabilities are per thread), reading works and every change is refused with EPERM.
    @Test func withoutNetAdminChangesAreRefused() throws {
        struct Seen: Sendable {
            var read: Int?
            var error: LinkSetupError?
        }
        let seen = try PrivateNetworkNamespace.run { () throws -> Seen in
            let tun = try TunDevice(name: "wgtls0", mtu: 1420)
            let netlink = try RTNetlink()
            guard Self.dropNetAdmin() else { throw Errno.current }
            var seen = Seen()
            seen.read = try netlink.link(named: "wgtls0").mtu
            do throws(LinkSetupError) {
                _ = try LinkSetup(interface: "wgtls0", netlink: netlink).apply(Self.first)
            } catch { seen.error = error }
            withExtendedLifetime(tun) {}
            return seen
        }.get()
        #expect(seen.read == 1420)
        #expect(seen.error == LinkSetupError(action: "setting the MTU of wgtls0 to 1380", errno: Errno(EPERM)))
    }

    /// Clears CAP_NET_ADMIN from the calling thread's effective set (capset(2), which glibc
    /// exports but declares in no header Swift sees).
    static func dropNetAdmin() -> Bool {
        typealias Capability = @convention(c) (UnsafeMutableRawPointer, UnsafeMutableRawPointer) -> Int32
        guard let get = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "capget"),
              let set = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "capset") else { return false }
        // struct __user_cap_header_struct { version, pid }, _LINUX_CAPABILITY_VERSION_3, pid 0: this thread.
        var header: (UInt32, Int32) = (0x2008_0522, 0)
        // Two struct __user_cap_data_struct { effective, permitted, inheritable }.
        var data: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0, 0, 0)
        guard unsafeBitCast(get, to: Capability.self)(&header, &data) == 0 else { return false }
        data.0 &= ~(1 << 12)  // CAP_NET_ADMIN
        return unsafeBitCast(set, to: Capability.self)(&header, &data) == 0
    }

    /// `ip ARGUMENTS` run through nsenter in the calling thread's network namespace (read only):
    /// its output, whatever its exit status; nil only when nsenter or ip is not installed.
    static func ip(_ arguments: String) -> String? {
        var link = [CChar](repeating: 0, count: 64)
        let length = readlink("/proc/thread-self", &link, link.count)
        guard length > 0 else { return nil }
        let thread = String(decoding: link.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)  // "PID/task/TID"
        let namespace = "/proc/\(thread)/ns/net"
        guard let pipe = popen("nsenter --net=\(namespace) sh -c 'ip \(arguments)' 2>&1", "r") else { return nil }
        var output: [UInt8] = []
        var byte = getc(pipe)
        while byte != EOF {
            output.append(UInt8(byte))
            byte = getc(pipe)
        }
        let status = pclose(pipe)
        return status >> 8 & 0xFF == 127 ? nil : String(decoding: output, as: UTF8.self)  // 127: sh found no such command
    }
}

/// What a state file's interface asks of its link (no kernel involved).
@Suite struct LinkConfigurationTests {
    @Test func routesArePeersAllowedIPsWhenAskedFor() {
        var state = InterfaceState(name: "wg0")
        state.addresses = [address("192.0.2.1/24")]
        state.config.mtu = 1380
        let keys = ["WwrB3c0OmrP3FrcUfzIXhkimvoTnAIIw0aadG9urUks=", "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="]
            .map(StateFileTests.key)
        for (key, prefixes) in zip(keys, [["198.51.100.0/24", "fd00:1::/48"], ["0.0.0.0/0"]]) {
            _ = state.config.addPeer(key)
            for text in prefixes { state.config.addAllowedIP(prefix(text), to: key) }
        }
        #expect(LinkConfiguration(state) == LinkConfiguration(addresses: [address("192.0.2.1/24")], mtu: 1380))
        state.routes = true
        #expect(LinkConfiguration(state).routes == [prefix("198.51.100.0/24"), prefix("fd00:1::/48"), prefix("0.0.0.0/0")])
        #expect(LinkConfiguration(state).up)
    }
}
