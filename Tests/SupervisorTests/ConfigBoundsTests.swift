import Crypto
import Foundation
import Glibc
import Protocol
import System
import Testing
@testable import Supervisor

/// The configuration's bounds where the supervisor meets them: a `wg set` that would cross one
/// is refused whole with ENOSPC and leaves the interface as it was; a state file over one is
/// refused at its path.
@Suite struct ConfigBoundsTests {
    static func keyHex(number n: Int) -> String {
        let hex = String(n, radix: 16)
        return String(repeating: "0", count: 64 - hex.count) + hex
    }

    static func peers(_ range: ClosedRange<Int>) -> String {
        range.map { "public_key=\(keyHex(number: $0))\nallowed_ip=10.\($0 >> 8).\($0 & 255).0/24\n" }.joined()
    }

    @Test func aSetOverThePeerBoundIsRefusedWithENOSPCAndChangesNothing() throws {
        let h = try Harness()
        let client = try h.client(timeoutSeconds: 30)
        #expect(try client.request("set=1\nlisten_port=51820\n" + Self.peers(1...ConfigBounds.maxPeers) + "\n") == "errno=0\n\n")
        let before = h.target.configuration
        #expect(before.peerCount == ConfigBounds.maxPeers)
        #expect(h.target.applyCalls == 1)

        // One peer more, beside a change that alone would be fine: refused whole.
        let over = "set=1\nlisten_port=51821\n" + Self.peers(ConfigBounds.maxPeers + 1...ConfigBounds.maxPeers + 1) + "\n"
        #expect(try client.request(over) == "errno=-\(ENOSPC)\n\n")
        #expect(h.logs.waitFor("4097 peers, over the bound of 4096 per interface"))
        #expect(h.target.applyCalls == 1, "the target never saw it")
        #expect(h.target.configuration == before)

        // The connection is in step, and a set within the bound still works: replacing a peer.
        let swap = "set=1\npublic_key=\(Self.keyHex(number: 1))\nremove=true\n"
            + Self.peers(ConfigBounds.maxPeers + 1...ConfigBounds.maxPeers + 1) + "\n"
        #expect(try client.request(swap) == "errno=0\n\n")
        #expect(h.target.configuration.peerCount == ConfigBounds.maxPeers)
    }

    /// Router mode checks again on the state as it stands under the store's lock (a reload may
    /// have added peers since the session looked): refused, nothing written, the data plane
    /// never asked.
    @Test func routerModeRefusesAChangeOverTheBoundBeforeTheDataPlaneOrTheFile() throws {
        var interface = InterfaceState(name: "wg0")
        for n in 1...ConfigBounds.maxPeers { interface.config.addPeer(PublicKey(KeyEncoding.fromHex(Self.keyHex(number: n))!)) }
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = StateStore(path: directory + "/state.json", state: StateFile(interfaces: [interface]))
        let dataPlane = FakeTarget()
        let router = RouterInterface(name: "wg0", store: store, dataPlane: dataPlane)
        var change = ConfigChange()
        change.append(.peer(PublicKey(KeyEncoding.fromHex(Self.keyHex(number: ConfigBounds.maxPeers + 1))!)))
        let before = store.state
        #expect(throws: Errno(ENOSPC)) { _ = try router.apply(router.configuration, change: change) }
        #expect(store.state == before && store.writeCount == 0)
        #expect(dataPlane.applyCalls == 0)
    }

    /// All sets together hold at most the server's request limit (by default one request's
    /// worth): a set that would go over is refused whole with ENOBUFS, the one in progress goes on.
    @Test func setsInProgressTogetherHoldNoMoreThanTheSharedLimit() throws {
        let h = try Harness(readTimeout: 10_000, maxRequestBytesInFlight: 4096)
        func peer(_ n: Int) -> String {
            "public_key=\(Self.keyHex(number: n))\n" + (0..<100).map { "allowed_ip=10.\(n).\($0).0/24\n" }.joined()
        }
        let first = try h.client()
        try first.send("set=1\n" + peer(1))  // ~2.5 KB, and no empty line yet: it stays held
        for _ in 0..<500 where h.server.requestBytesHeld < 2400 { usleep(10_000) }
        #expect(h.server.requestBytesHeld >= 2400)

        let second = try h.client()
        #expect(try second.request("set=1\n" + peer(2) + "\n") == "errno=-\(ENOBUFS)\n\n")
        #expect(h.logs.waitFor("the sets in progress hold 4096 bytes of requests already"))
        #expect(h.target.configuration.peerCount == 0 && h.target.applyCalls == 0)

        try first.send("\n")
        #expect(try first.readReply().text == "errno=0\n\n")
        #expect(h.server.requestBytesHeld == 0, "a finished set gives its bytes back")
        #expect(try second.request("set=1\n" + peer(2) + "\n") == "errno=0\n\n")
        #expect(h.target.configuration.peerCount == 2)
    }

    /// A data plane restarted with an interface at both bounds gets its whole configuration in
    /// one configure frame; one allowed IP more and the configuration is over its bound.
    @Test func aConfigurationAtEveryBoundFitsOneConfigureFrame() throws {
        var config = DeviceConfig()
        config.setPrivateKey(PrivateKey.generate())
        let perPeer = ConfigBounds.maxAllowedIPs / ConfigBounds.maxPeers
        for n in 0..<ConfigBounds.maxPeers {
            let key = PublicKey(KeyEncoding.fromHex(Self.keyHex(number: n + 1))!)
            config.addPeer(key)
            config.updatePeer(key) {
                $0.presharedKey = PresharedKey.generate()
                $0.endpoint = Endpoint("[2001:db8::\(String(n, radix: 16))]:51820")
                $0.persistentKeepaliveInterval = 25
            }
            // IPv6 host routes, the longest prefixes a frame carries.
            for i in 0..<perPeer {
                let address = IPAddress.v6(IPv6Address(high: 0xfd00 << 48 | UInt64(n), low: UInt64(i)))
                config.addAllowedIP(IPPrefix(address: address, length: 128)!, to: key)
            }
        }
        #expect(config.allowedIPCount == ConfigBounds.maxAllowedIPs)
        #expect(ConfigBounds.violation(of: config) == nil)
        let bytes = try ConfigWire.encodedCount(of: ConfigChange(replacing: config))
        print("a configure frame at every bound: \(bytes) bytes")
        #expect(bytes <= SupervisorMessage.maxConfigureBytes, "\(bytes) bytes")
        config.addAllowedIP(IPPrefix("10.0.0.0/8")!, to: PublicKey(KeyEncoding.fromHex(Self.keyHex(number: 1))!))
        #expect(ConfigBounds.violation(of: config) == "1048577 allowed IPs, over the bound of 1048576 per interface")
    }

    @Test func aStateFileWithMorePeersThanTheBoundIsRefusedAtItsPeers() throws {
        func file(peers: Int) -> String {
            let list = (1...peers).map { n in
                let key = PublicKey(KeyEncoding.fromHex(Self.keyHex(number: n))!)
                return "{\"public_key\": \"\(key)\", \"allowed_ips\": []}"
            }
            return """
                {"version": 1, "interfaces": [{"name": "wg0", "listen_port": 51820, "fwmark": 0, "mtu": 1420,
                "addresses": [], "peers": [\(list.joined(separator: ",\n"))]}]}
                """
        }
        let within = try StateFile.decode(Array(file(peers: ConfigBounds.maxPeers).utf8))
        #expect(within.interfaces.first?.config.peerCount == ConfigBounds.maxPeers)
        let error = #expect(throws: StateFileError.self) { try StateFile.decode(Array(file(peers: ConfigBounds.maxPeers + 1).utf8)) }
        #expect(error?.description == "interfaces[0].peers: 4097 peers; an interface has at most 4096 (line 2)")
    }
}
