import Testing
import Crypto
import JSON
import Protocol
import System
@testable import Supervisor

/// decode(encode(x)) == x over random configurations, and the size the JSON limit must allow.
@Suite("State file round trip")
struct StateFileRoundTripTests {
    @Test(arguments: 0..<25)
    func randomFilesRoundTrip(seed: UInt64) throws {
        var random = FastRandom(seed: seed)
        let file = Self.randomFile(&random)
        let text = file.encode()
        let decoded = try StateFile.decode(Array(text.utf8))
        #expect(decoded == file, "seed \(seed)")
        #expect(decoded.encode() == text, "seed \(seed)")
    }

    /// 2,000 peers, each with a PSK, an IPv6 endpoint, a keepalive and four allowed IPs (two of
    /// each family): 840 KB, a fifth of the 4 MiB limit (the README quotes this).
    @Test func twoThousandPeersFitWellWithinTheLimit() throws {
        var random = FastRandom(seed: 2000)
        var interface = InterfaceState(name: "wg0")
        interface.config.setPrivateKey(PrivateKey.generate())
        interface.config.listenPort = 51820
        interface.addresses = [InterfaceAddress("10.0.0.1/16")!, InterfaceAddress("fd00::1/64")!]
        for i in 0..<2000 {
            let key = Self.randomPublicKey(&random)
            interface.config.addPeer(key)
            interface.config.updatePeer(key) {
                $0.presharedKey = PresharedKey.generate()
                $0.persistentKeepaliveInterval = 25
            }
            interface.setEndpoint(.address(Endpoint("[2001:db8:1234:5678::\(String(i, radix: 16))]:51820")!), of: key)
            let n = UInt32(i)
            for prefix in [IPPrefix(address: .v4(IPv4Address(value: 0x0A00_0000 | n << 1)), length: 32)!,
                           IPPrefix(address: .v4(IPv4Address(value: 0xAC10_0000 | n << 8)), length: 24)!,
                           IPPrefix(address: .v6(IPv6Address(high: 0xFD00_0000_0000_0000, low: UInt64(n))), length: 128)!,
                           IPPrefix(address: .v6(IPv6Address(high: 0xFD00_0001_0000_0000 | UInt64(n) << 16, low: 0)), length: 64)!] {
                interface.config.addAllowedIP(prefix, to: key)
            }
        }
        let file = StateFile(interfaces: [interface])
        let bytes = Array(file.encode().utf8)
        print("state file of 2,000 peers: \(bytes.count) bytes")
        #expect(bytes.count < JSON.Limits().maxBytes / 3)
        #expect(try StateFile.decode(bytes) == file)
    }

    // MARK: random configurations

    static func randomFile(_ random: inout FastRandom) -> StateFile {
        var file = StateFile()
        var ports: Set<UInt16> = []
        for i in 0..<Int.random(in: 0...3, using: &random) {
            var interface = InterfaceState(name: randomName(i, &random))
            if Bool.random(using: &random) {
                let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
                interface.config.setPrivateKey(bytes.withUnsafeBytes { PrivateKey(copying: $0) })
            }
            let port = UInt16.random(in: 0...UInt16.max, using: &random)
            if port != 0, ports.insert(port).inserted { interface.config.listenPort = port }
            interface.config.fwmark = Bool.random(using: &random) ? 0 : UInt32.random(in: 0...UInt32.max, using: &random)
            interface.config.mtu = Int.random(in: 68...65535, using: &random)
            for _ in 0..<Int.random(in: 0...3, using: &random) {
                let address = randomAddress(&random)
                let length = Int.random(in: 0...(address.isV4 ? 32 : 128), using: &random)
                if !interface.addresses.contains(where: { $0.address == address }) {
                    interface.addresses.append(InterfaceAddress(address: address, prefixLength: length)!)
                }
            }
            if Bool.random(using: &random) {
                interface.cpus = Array(Set((0..<Int.random(in: 1...4, using: &random)).map { _ in Int32.random(in: 0...4095, using: &random) }))
            }
            interface.routes = Bool.random(using: &random)
            for _ in 0..<Int.random(in: 0...6, using: &random) { addRandomPeer(to: &interface, &random) }
            file.interfaces.append(interface)
        }
        return file
    }

    /// Valid and distinct (by the index), with the odd characters a name may have.
    static func randomName(_ index: Int, _ random: inout FastRandom) -> String {
        let alphabet: [Character] = ["w", "g", "A", "z", "0", "9", "-", "_", ".", "é", "@", "+"]
        let tail = String((0..<Int.random(in: 0...8, using: &random)).map { _ in alphabet.randomElement(using: &random)! })
        let name = "\(index)" + tail
        return InterfaceName.isValid(name) ? name : "wg\(index)"
    }

    static func addRandomPeer(to interface: inout InterfaceState, _ random: inout FastRandom) {
        let key = randomPublicKey(&random)
        guard interface.config.peer(key) == nil, interface.config.addPeer(key) else { return }
        interface.config.updatePeer(key) {
            if Bool.random(using: &random) { $0.presharedKey = PresharedKey.generate() }
            $0.persistentKeepaliveInterval = Bool.random(using: &random) ? 0 : UInt16.random(in: 1...UInt16.max, using: &random)
        }
        switch Int.random(in: 0...3, using: &random) {
        case 0: break
        case 1, 2:
            let address = randomAddress(&random)
            interface.setEndpoint(.address(Endpoint(address: address, port: UInt16.random(in: 1...UInt16.max, using: &random))), of: key)
        default:
            let labels = (0..<Int.random(in: 1...3, using: &random)).map { _ in ["a", "vpn", "x-1", "Example", "0host"].randomElement(using: &random)! }
            interface.setEndpoint(.host(labels.joined(separator: ".") + ".net", port: UInt16.random(in: 1...UInt16.max, using: &random)), of: key)
        }
        for _ in 0..<Int.random(in: 0...5, using: &random) {
            let address = randomAddress(&random)
            let prefix = IPPrefix(address: address, length: Int.random(in: 0...(address.isV4 ? 32 : 128), using: &random))!
            if interface.config.owner(of: prefix) == nil { interface.config.addAllowedIP(prefix, to: key) }
        }
    }

    static func randomAddress(_ random: inout FastRandom) -> IPAddress {
        Bool.random(using: &random) ? .v4(IPv4Address(value: UInt32.random(in: 0...UInt32.max, using: &random)))
            : .v6(IPv6Address(high: random.next(), low: Bool.random(using: &random) ? 1 : random.next()))
    }

    static func randomPublicKey(_ random: inout FastRandom) -> PublicKey {
        PublicKey(Bytes32((0..<32).map { _ in UInt8.random(in: 0...255, using: &random) })!)
    }
}
