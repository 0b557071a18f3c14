import Testing
import Crypto
@testable import Protocol

/// ConfigWire takes exactly what UAPISetParser produces, in exactly one encoding.
@Suite("ConfigWire")
struct ConfigWireTests {
    typealias Support = ConfigWireSupport

    static func expectRefused(_ bytes: [UInt8], _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do throws(WireError) {
            let change = try Support.decode(bytes)
            Issue.record("decoded \(change.count) operations; expected a refusal about \(text)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.reason.contains(text), "\(error.reason)", sourceLocation: sourceLocation)
        }
    }

    let peer = PublicKey([UInt8](repeating: 0xAB, count: 32).withUnsafeBytes { Bytes32($0) })
    var peerBytes: [UInt8] { [5] + [UInt8](repeating: 0xAB, count: 32) }

    /// Every operation, each family, with and without keys.
    @Test func everyOperationRoundTrips() throws {
        var change = ConfigChange()
        let operations: [ConfigOperation] = [
            .privateKey(PrivateKey.generate()), .privateKey(nil), .listenPort(51820), .fwmark(0xDEAD_BEEF), .replacePeers,
            .peer(peer), .removePeer, .updateOnly, .presharedKey(PresharedKey.generate()), .presharedKey(nil),
            .endpoint(Endpoint("192.0.2.1:51820")!), .endpoint(Endpoint("[2001:db8::1]:1")!), .endpoint(Endpoint("[::ffff:1.2.3.4]:0")!),
            .persistentKeepaliveInterval(25), .replaceAllowedIPs,
            .addAllowedIP(IPPrefix("10.0.0.0/8")!), .addAllowedIP(IPPrefix("0.0.0.0/0")!), .addAllowedIP(IPPrefix("fd00::/64")!),
            .addAllowedIP(IPPrefix("2001:db8::1/128")!), .removeAllowedIP(IPPrefix("192.0.2.7/32")!), .removeAllowedIP(IPPrefix("::/0")!),
        ]
        for operation in operations { change.append(operation) }
        let bytes = try Support.encode(change)
        let decoded = try Support.decode(bytes)
        #expect(decoded == change)
        #expect(Array(decoded).count == operations.count)
        #expect(try Support.encode(decoded) == bytes)
    }

    @Test func theLayoutIsTheDocumentedOne() throws {
        var change = ConfigChange()
        change.append(.listenPort(0x1234))
        change.append(.peer(peer))
        change.append(.endpoint(Endpoint("192.0.2.1:258")!))
        change.append(.addAllowedIP(IPPrefix("10.1.0.0/16")!))
        change.append(.presharedKey(nil))
        #expect(try Support.encode(change) == [2, 0x34, 0x12] + peerBytes + [9, 192, 0, 2, 1, 2, 1] + [13, 10, 1, 0, 0, 16]
            + [8] + [UInt8](repeating: 0, count: 32))
    }

    @Test func anEmptyChangeIsNoBytes() throws {
        #expect(try Support.encode(ConfigChange()) == [])
        #expect(try Support.decode([]) == ConfigChange())
    }

    /// All-zero keys are none, as `private_key=`/`preshared_key=` take them.
    @Test func zeroKeysAreNone() throws {
        let zeros = [UInt8](repeating: 0, count: 32)
        let change = try Support.decode([1] + zeros + peerBytes + [8] + zeros)
        #expect(Array(change) == [.privateKey(nil), .peer(peer), .presharedKey(nil)])
    }

    // MARK: refusals

    @Test func anUnknownTagIsRefused() {
        Self.expectRefused([0], "unknown operation 0 at byte 0")
        Self.expectRefused([4, 17], "unknown operation 17 at byte 1")
        Self.expectRefused([255], "unknown operation 255")
    }

    @Test func aPayloadCutShortIsRefused() {
        Self.expectRefused([2, 1], "ends inside a field")
        Self.expectRefused(Array(peerBytes.dropLast()), "ends inside a field")
        Self.expectRefused(peerBytes + [13, 10, 0, 0], "ends inside a field")
    }

    @Test func deviceSettingsAfterAPeerAreRefused() {
        Self.expectRefused(peerBytes + [2, 0, 0], "a device setting after the first peer")
        Self.expectRefused(peerBytes + [4], "a device setting after the first peer")
    }

    @Test func peerSettingsBeforeAPeerAreRefused() {
        Self.expectRefused([6], "a peer setting before any peer")
        Self.expectRefused([12], "a peer setting before any peer")
        Self.expectRefused([11, 25, 0], "a peer setting before any peer")
        Self.expectRefused([13, 10, 0, 0, 0, 8], "a peer setting before any peer")
    }

    @Test func anEncoderRefusesWhatTheDecoderWould() {
        var change = ConfigChange()
        change.append(.replaceAllowedIPs)
        #expect(throws: WireError("a peer setting before any peer")) { try ConfigWire.encodedCount(of: change) }
        change = ConfigChange()
        change.append(.peer(peer))
        change.append(.fwmark(1))
        #expect(throws: WireError("a device setting after the first peer")) { try ConfigWire.encodedCount(of: change) }
    }

    @Test func prefixLengthsPastTheFamilyAreRefused() {
        Self.expectRefused(peerBytes + [13, 10, 0, 0, 0, 33], "prefix length 33")
        Self.expectRefused(peerBytes + [14] + [UInt8](repeating: 0, count: 16) + [129], "prefix length 129")
        Self.expectRefused(peerBytes + [15, 10, 0, 0, 0, 255], "prefix length 255")
    }

    /// The parser clears host bits; a prefix with them set has another, canonical encoding.
    @Test func hostBitsAreRefused() {
        Self.expectRefused(peerBytes + [13, 10, 1, 2, 3, 8], "10.1.2.3/8 has host bits set")
        Self.expectRefused(peerBytes + [16, 0xFD] + [UInt8](repeating: 0, count: 14) + [1, 64], "has host bits set")
        Self.expectRefused(peerBytes + [13, 0, 0, 0, 1, 0], "0.0.0.1/0 has host bits set")
    }

    /// The parser clamps the key it takes; an unclamped one is another spelling of a clamped one.
    @Test func unclampedPrivateKeysAreRefused() throws {
        var key = [UInt8](repeating: 0x11, count: 32)
        key[0] = 0x10
        key[31] = 0x40
        _ = try Support.decode([1] + key)
        for (index, value) in [(0, UInt8(0x11)), (31, 0x80 | 0x40), (31, 0x00)] {
            var bad = key
            bad[index] = value
            Self.expectRefused([1] + bad, "not clamped")
        }
    }

    // MARK: against the parser

    /// Random changes as the parser makes them (from their UAPI lines) survive the wire unchanged.
    @Test(arguments: 0..<20)
    func parsedChangesRoundTrip(seed: UInt64) throws {
        var random = FastRandom(seed: seed)
        for _ in 0..<25 {
            let parsed = try Support.reparsed(Support.change(&random))
            let bytes = try Support.encode(parsed)
            let decoded = try Support.decode(bytes)
            #expect(decoded == parsed, "seed \(seed)")
            var viaWire = DeviceConfig(), direct = DeviceConfig()
            decoded.apply(to: &viaWire)
            parsed.apply(to: &direct)
            #expect(viaWire == direct, "seed \(seed)")
        }
    }

    /// Thousands of corrupted encodings: decode never traps, and whatever it accepts is a change
    /// the parser takes (written as lines) and whose encoding is the very bytes it came from.
    @Test(arguments: 0..<4)
    func corruptedBytesAreRefusedOrCanonical(seed: UInt64) throws {
        var random = FastRandom(seed: 0xC0FF_EE00 + seed)
        var accepted = 0, refused = 0
        for _ in 0..<1500 {
            var bytes = try Support.encode(Support.change(&random, peers: 0...2))
            Self.mutate(&bytes, &random)
            guard let change = try? Support.decode(bytes) else {
                refused += 1
                continue
            }
            accepted += 1
            #expect(try Support.encode(change) == bytes, "seed \(seed)")
            #expect(try Support.reparsed(change) == change, "seed \(seed)")
        }
        #expect(accepted > 100 && refused > 100, "both ways exercised: \(accepted) accepted, \(refused) refused")
    }

    /// One to three edits: a byte changed, inserted or removed, or the tail cut off.
    static func mutate(_ bytes: inout [UInt8], _ random: inout FastRandom) {
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            let at = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<4, using: &random) {
            case 0 where !bytes.isEmpty: bytes[at] = UInt8.random(in: 0...255, using: &random)
            case 1: bytes.insert(UInt8.random(in: 0...20, using: &random), at: at)
            case 2 where !bytes.isEmpty: bytes.remove(at: at)
            case 3: bytes.removeLast(bytes.count - at)
            default: bytes.append(UInt8.random(in: 0...255, using: &random))
            }
        }
    }
}
