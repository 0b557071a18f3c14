import Foundation
import Testing
import Crypto
@testable import Protocol

/// Bytes from hex text (test literals and fixtures).
func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8)
    precondition(digits.count % 2 == 0, "odd hex")
    func value(_ c: UInt8) -> UInt8 {
        switch c {
        case 48...57: c - 48
        case 97...102: c - 87
        case 65...70: c - 55
        default: preconditionFailure("bad hex digit")
        }
    }
    return stride(from: 0, to: digits.count, by: 2).map { value(digits[$0]) << 4 | value(digits[$0 + 1]) }
}

func hexString(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

/// A JSON fixture beside this file, in Fixtures/.
func fixture(_ name: String) throws -> [String: Any] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
    let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
    return try #require(object as? [String: Any])
}

func secret(_ bytes: [UInt8]) -> SecretKey {
    var key = SecretKey()
    bytes.withUnsafeBytes { source in key.withUnsafeMutableBytes { $0.copyMemory(from: source) } }
    return key
}
func privateKey(_ bytes: [UInt8]) -> PrivateKey { bytes.withUnsafeBytes { PrivateKey(copying: $0) } }
func publicKey(_ bytes: [UInt8]) -> PublicKey { PublicKey(bytes.withUnsafeBytes { Bytes32($0) }) }

extension Instant {
    static func seconds(_ s: Double) -> Instant { Instant(nanoseconds: UInt64(s * 1e9)) }
}

let wall0 = WallTime(seconds: 1_700_000_000, nanoseconds: 0)

/// The wall clock `offset` seconds (possibly negative) after wall0.
func wall(_ offset: Double) -> WallTime {
    let whole = offset.rounded(.down)
    return WallTime(seconds: UInt64(Int64(wall0.seconds) + Int64(whole)), nanoseconds: UInt32((offset - whole) * 1e9))
}

/// A minimal IPv4 packet (no options, checksum not filled: the tunnel does not look at it).
func ipv4Packet(from source: String, to destination: String, payload: [UInt8]) -> [UInt8] {
    var packet = [UInt8](repeating: 0, count: 20) + payload
    packet[0] = 0x45
    packet[2] = UInt8(packet.count >> 8); packet[3] = UInt8(packet.count & 0xff)
    packet[8] = 64; packet[9] = 17
    let s = IPv4Address(source)!.value, d = IPv4Address(destination)!.value
    for i in 0..<4 {
        packet[12 + i] = UInt8(truncatingIfNeeded: s >> (24 - 8 * UInt32(i)))
        packet[16 + i] = UInt8(truncatingIfNeeded: d >> (24 - 8 * UInt32(i)))
    }
    return packet
}

/// A minimal IPv6 packet.
func ipv6Packet(from source: String, to destination: String, payload: [UInt8]) -> [UInt8] {
    var packet = [UInt8](repeating: 0, count: 40) + payload
    packet[0] = 0x60
    packet[4] = UInt8(payload.count >> 8); packet[5] = UInt8(payload.count & 0xff)
    packet[6] = 17; packet[7] = 64
    let s = IPv6Address(source)!, d = IPv6Address(destination)!
    for i in 0..<8 {
        packet[8 + i] = UInt8(truncatingIfNeeded: s.high >> (56 - 8 * UInt64(i)))
        packet[16 + i] = UInt8(truncatingIfNeeded: s.low >> (56 - 8 * UInt64(i)))
        packet[24 + i] = UInt8(truncatingIfNeeded: d.high >> (56 - 8 * UInt64(i)))
        packet[32 + i] = UInt8(truncatingIfNeeded: d.low >> (56 - 8 * UInt64(i)))
    }
    return packet
}

/// One side of an in-memory tunnel: a Device, its key, its outer endpoint and inner addresses.
final class Side {
    let device = Device()
    let key: PrivateKey
    let endpoint: Endpoint
    let inner4: String
    let inner6: String
    let aead = ChaCha20Poly1305()
    var config = DeviceConfig()

    init(key: PrivateKey = .generate(), endpoint: String, inner4: String, inner6: String) {
        self.key = key
        self.endpoint = Endpoint(endpoint)!
        self.inner4 = inner4
        self.inner6 = inner6
        config.setPrivateKey(key)
    }

    var publicKey: PublicKey { key.publicKey }

    /// Adds `other` as a peer owning its inner /32 and /128, and applies the config.
    func addPeer(_ other: Side, psk: PresharedKey? = nil, keepalive: UInt16 = 0, now: Instant = .zero) {
        config.addPeer(other.publicKey)
        config.updatePeer(other.publicKey) {
            $0.presharedKey = psk
            $0.endpoint = other.endpoint
            $0.persistentKeepaliveInterval = keepalive
        }
        config.addAllowedIP(IPPrefix("\(other.inner4)/32")!, to: other.publicKey)
        config.addAllowedIP(IPPrefix("\(other.inner6)/128")!, to: other.publicKey)
        device.apply(config, now: now)
    }

    func peer(_ other: Side) -> Peer<NoRuntime> { device.peer(other.publicKey)! }

    /// A fresh initiation to `other`, or nil if the rate limit or a missing key stops it.
    func initiation(to other: Side, now: Instant, wallClock: WallTime? = nil, isRetry: Bool = false) -> [UInt8]? {
        var packet = [UInt8](repeating: 0, count: InitiationLayout.length)
        let made = packet.withUnsafeMutableBytes {
            device.createInitiation(for: peer(other), into: $0, isRetry: isRetry, now: now,
                                    wallClock: wallClock ?? wall(Double(now.nanoseconds) / 1e9), using: aead)
        }
        return made ? packet : nil
    }

    /// Encrypts `inner` for `other` as the data plane would; nil when there is no session.
    func seal(_ inner: [UInt8], to other: Side, now: Instant) -> [UInt8]? {
        let peer = peer(other)
        guard let (keypair, counter) = peer.reserveNonce(now: now) else { return nil }
        let padded = Padding.paddedLength(inner.count, mtu: config.mtu)
        var message = [UInt8](repeating: 0, count: DataLayout.headerLength + padded + DataLayout.tagLength)
        message.replaceSubrange(DataLayout.headerLength..<DataLayout.headerLength + inner.count, with: inner)
        message.withUnsafeMutableBytes { keypair.seal($0, plaintextLength: padded, counter: counter, using: aead) }
        _ = peer.sentData(bytes: message.count, isKeepalive: inner.isEmpty, keypair: keypair, now: now)
        return message
    }

    /// Hands a datagram from `source` to this device. Returns the outcome, the (possibly
    /// decrypted) datagram and any reply.
    @discardableResult
    func receive(_ datagram: [UInt8], from source: Side, underLoad: Bool = false, now: Instant,
                 wallClock: WallTime? = nil) -> (outcome: ReceiveOutcome<NoRuntime>, packet: [UInt8], reply: [UInt8]) {
        var packet = datagram
        var reply = [UInt8](repeating: 0, count: InitiationLayout.length)
        let outcome = packet.withUnsafeMutableBytes { p in
            reply.withUnsafeMutableBytes { r in
                device.receive(p, from: source.endpoint, underLoad: underLoad, reply: r, now: now,
                               wallClock: wallClock ?? wall(Double(now.nanoseconds) / 1e9), using: aead)
            }
        }
        if case .reply(let length, _) = outcome { reply = Array(reply[0..<length]) } else { reply = [] }
        return (outcome, packet, reply)
    }
}

/// Two sides configured as each other's peers: a (initiator in most tests) and b.
func makePair(psk: PresharedKey? = nil) -> (Side, Side) {
    let a = Side(endpoint: "198.51.100.1:51820", inner4: "192.0.2.1", inner6: "fd00::1")
    let b = Side(endpoint: "198.51.100.2:51820", inner4: "192.0.2.2", inner6: "fd00::2")
    a.addPeer(b, psk: psk)
    b.addPeer(a, psk: psk)
    return (a, b)
}

/// Runs the handshake a → b at `now`; returns after a has its session (b still waits in next).
func handshake(_ a: Side, _ b: Side, now: Instant) throws {
    let initiation = try #require(a.initiation(to: b, now: now))
    let (outcome, _, response) = b.receive(initiation, from: a, now: now)
    guard case .reply(let length, _) = outcome, length == ResponseLayout.length else {
        Issue.record("expected a response, got \(outcome)")
        return
    }
    let (ready, _, _) = a.receive(response, from: b, now: now)
    guard case .sessionReady = ready else {
        Issue.record("expected sessionReady, got \(ready)")
        return
    }
}

extension ReceiveOutcome<NoRuntime> {
    var dropReason: DropReason? {
        switch self {
        case .dropped(let reason), .rejectedAfterAuthentication(_, let reason, _): reason
        default: nil
        }
    }

    var deliveredRange: Range<Int>? {
        if case .data(_, let range, _) = self { return range }
        return nil
    }
}
