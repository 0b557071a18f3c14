import Glibc
import Testing
import Crypto
import Protocol
import System
@testable import Supervisor

/// Every message of both directions, in memory and over a real socketpair, and the layouts the
/// other end relies on.
@Suite("Control messages")
struct ControlMessageTests {
    typealias Support = ControlMessageSupport

    static func roundTrip<M: ControlMessage & Equatable>(_ message: M) throws -> M {
        let frame = try Support.frame(message)
        return try M.decode(from: frame)
    }

    static let supervisorMessages: [SupervisorMessage] = {
        var change = ConfigChange()
        change.append(.privateKey(PrivateKey.generate()))
        change.append(.replacePeers)
        change.append(.peer(Support.key(1)))
        change.append(.presharedKey(PresharedKey.generate()))
        change.append(.addAllowedIP(IPPrefix("10.0.0.0/8")!))
        return [
            .start(Support.options),
            .start(StartOptions(interface: "wg-long-name-15", cpus: Array(0..<1024), buffers: 1_048_576, largeBuffers: 65_536,
                                mtu: 65_535, logLevel: .verbose)),
            .start(StartOptions(interface: "a", cpus: [4095], buffers: 64, largeBuffers: 8, mtu: 68, logLevel: .silent)),
            .start({ var o = Support.options; o.restarted = true; o.udpOffload = true; return o }()),
            .sockets(port: 51820, hasV6: false), .sockets(port: 1, hasV6: true),
            .configure(id: 0, change: ConfigChange()), .configure(id: .max, change: change),
            .configure(id: 3, change: ConfigChange(replacing: DeviceConfig())),
            .mtu(68), .mtu(65_535), .status(id: 42), .releaseSockets, .stop,
        ]
    }()

    static let dataPlaneMessages: [DataPlaneMessage] = [
        .ready, .applied(id: 1, errno: 0), .applied(id: .max, errno: EADDRINUSE), .applied(id: 0, errno: 4095),
        .status(id: 9, peers: []), .status(id: 10, peers: [Support.record, PeerRecord(publicKey: Support.key(0), status: PeerStatus(
            endpoint: nil, lastHandshake: .zero, receivedBytes: 0, sentBytes: 0, persistentKeepaliveInterval: 0))]),
        .status(id: 11, peers: [PeerRecord(publicKey: Support.key(0xFF), status: PeerStatus(
            endpoint: Endpoint("[2001:db8::1]:65535"), lastHandshake: WallTime(seconds: .max, nanoseconds: 0),
            receivedBytes: .max, sentBytes: .max, persistentKeepaliveInterval: .max))]),
        .log(.error, "handshake did not complete"), .log(.verbose, ""), .log(.verbose, "ünïcödé ✓ 🚀"), .interfaceGone,
    ]

    @Test(arguments: supervisorMessages)
    func supervisorMessagesRoundTrip(_ message: SupervisorMessage) throws {
        #expect(try Self.roundTrip(message) == message)
    }

    @Test(arguments: dataPlaneMessages)
    func dataPlaneMessagesRoundTrip(_ message: DataPlaneMessage) throws {
        #expect(try Self.roundTrip(message) == message)
    }

    /// The two directions' types are apart: a frame sent the wrong way is refused as unknown.
    @Test func theDirectionsShareNoType() {
        for message in Self.supervisorMessages { #expect(DataPlaneMessage.limit(message.type) == nil) }
        for message in Self.dataPlaneMessages { #expect(SupervisorMessage.limit(message.type) == nil) }
    }

    @Test func layouts() throws {
        #expect(PeerRecord.size == 81)
        #expect(try Support.payload(DataPlaneMessage.status(id: 0x0102, peers: [Support.record])).count == 12 + 81)
        #expect(try Support.payload(DataPlaneMessage.applied(id: 1, errno: 22)) == [1, 0, 0, 0, 0, 0, 0, 0, 22, 0, 0, 0])
        #expect(try Support.payload(SupervisorMessage.sockets(port: 0x1234, hasV6: true)) == [0x34, 0x12, 1])
        #expect(try Support.payload(SupervisorMessage.start(Support.options))
            == [3] + Array("wg0".utf8) + [1, 0, 0] + [0x8C, 0x05, 0, 0] + [0, 0x10, 0, 0] + [0, 1, 0, 0] + [2, 0] + [0, 0, 0, 0, 1, 0, 0, 0])
        #expect(DataPlaneMessage.limit(DataPlaneMessage.status(id: 0, peers: []).type) == 12 + 4096 * 81)
        #expect(SupervisorMessage.limit(SupervisorMessage.configure(id: 0, change: ConfigChange()).type) == 64 << 20)
        // The record's address field: an IPv4 endpoint in the first 4 bytes, port little-endian.
        let bytes = try Support.payload(DataPlaneMessage.status(id: 0, peers: [Support.record]))
        #expect(Array(bytes[44..<(44 + 19)]) == [4, 192, 0, 2, 1] + [UInt8](repeating: 0, count: 12) + [0x6C, 0xCA])
    }

    @Test func startOptionsMakeInterfaceOptions() {
        let options = Support.options.interfaceOptions
        #expect(options.cpus == [0, 1] && options.buffers == 4096 && options.largeBuffers == 256 && options.mtu == 1420)
    }

    // MARK: over a socketpair

    /// start with a TUN stand-in (a pipe's write end): the data plane writes through what it took.
    @Test func startCarriesItsDescriptorAcrossTheChannel() throws {
        let (supervisor, dataPlane) = try ControlSocket.pair()
        var ends: (Int32, Int32) = (-1, -1)
        _ = withUnsafeMutableBytes(of: &ends) { pipe($0.baseAddress!.assumingMemoryBound(to: Int32.self)) }
        defer { close(ends.0) }
        try SupervisorMessage.start(Support.options).encode(to: supervisor, descriptors: [ends.1])
        close(ends.1)
        var frame = try SupervisorMessage.receive(from: dataPlane)
        #expect(try SupervisorMessage.decode(from: frame) == .start(Support.options))
        guard let tun = frame.descriptors.take(0) else {
            Issue.record("no TUN descriptor")
            return
        }
        try [UInt8(0x45)].withUnsafeBytes { try tun.writeAll($0) }
        var byte: UInt8 = 0
        #expect(read(ends.0, &byte, 1) == 1 && byte == 0x45)
    }

    @Test func socketsCarryOneOrTwoDescriptors() throws {
        let (supervisor, dataPlane) = try ControlSocket.pair()
        let fds = Support.descriptors(2)
        defer { for fd in fds { close(fd) } }
        try SupervisorMessage.sockets(port: 51820, hasV6: true).encode(to: supervisor, descriptors: fds)
        try SupervisorMessage.sockets(port: 51821, hasV6: false).encode(to: supervisor, descriptors: [fds[0]])
        var frame = try SupervisorMessage.receive(from: dataPlane)
        #expect(try SupervisorMessage.decode(from: frame) == .sockets(port: 51820, hasV6: true))
        let v4 = frame.descriptors.take(0)?.rawValue ?? -1, v6 = frame.descriptors.take(1)?.rawValue ?? -1
        #expect(v4 >= 0 && v6 >= 0)
        let second = try SupervisorMessage.receive(from: dataPlane)
        #expect(try SupervisorMessage.decode(from: second) == .sockets(port: 51821, hasV6: false))
        #expect(second.descriptors.count == 1)
    }

    /// A whole configuration with keys goes over and comes back equal, keys and all.
    @Test func aConfigurationCrossesTheChannel() throws {
        let (supervisor, dataPlane) = try ControlSocket.pair()
        var config = DeviceConfig()
        config.setPrivateKey(PrivateKey.generate())
        config.listenPort = 51820
        for n in 1...50 {
            let key = Support.key(UInt8(n))
            config.addPeer(key)
            config.updatePeer(key) { $0.presharedKey = PresharedKey.generate(); $0.endpoint = Endpoint("192.0.2.\(n):51820") }
            config.addAllowedIP(IPPrefix("10.\(n).0.0/16")!, to: key)
        }
        try SupervisorMessage.configure(id: 77, change: ConfigChange(replacing: config)).encode(to: supervisor)
        let frame = try SupervisorMessage.receive(from: dataPlane)
        guard case .configure(let id, let change) = try SupervisorMessage.decode(from: frame) else {
            Issue.record("not a configure")
            return
        }
        var applied = DeviceConfig()
        change.apply(to: &applied)
        #expect(id == 77 && applied == config)
    }

    @Test func dataPlaneMessagesCrossTheChannel() throws {
        let (supervisor, dataPlane) = try ControlSocket.pair()
        for message in Self.dataPlaneMessages { try message.encode(to: dataPlane) }
        for message in Self.dataPlaneMessages {
            let frame = try DataPlaneMessage.receive(from: supervisor)
            #expect(try DataPlaneMessage.decode(from: frame) == message)
        }
    }

    /// What the receiver would refuse, the sender refuses first (and sends nothing).
    @Test func theSenderRefusesWhatTheReceiverWould() throws {
        let (supervisor, dataPlane) = try ControlSocket.pair()
        #expect(throws: ControlError.self) { try SupervisorMessage.start(Support.options).encode(to: supervisor) }
        #expect(throws: ControlError.self) { try SupervisorMessage.stop.encode(to: supervisor, descriptors: Support.descriptors(1)) }
        var bad = Support.options
        bad.mtu = 67
        #expect(throws: ControlError.protocolViolation("refusing to send start: MTU 67 is not in 68...65535")) {
            try SupervisorMessage.start(bad).encodedPayload()
        }
        #expect(throws: ControlError.self) { try DataPlaneMessage.applied(id: 1, errno: -22).encode(to: dataPlane) }
        #expect(throws: ControlError.self) { try DataPlaneMessage.log(.silent, "x").encode(to: dataPlane) }
        var misordered = ConfigChange()
        misordered.append(.removePeer)
        #expect(throws: ControlError.protocolViolation("refusing to send configure: a peer setting before any peer")) {
            try SupervisorMessage.configure(id: 1, change: misordered).encodedPayload()
        }
        #expect(try !dataPlane.waitReadable(milliseconds: 0) && !supervisor.waitReadable(milliseconds: 0), "nothing was sent")
    }

    // MARK: log text

    @Test func logTextIsCutToItsBoundBetweenScalars() throws {
        let text = String(repeating: "a", count: 1023) + "é" + "tail"
        let payload = try Support.payload(DataPlaneMessage.log(.error, text))
        #expect(payload.count == 1 + 1023)
        let exact = String(repeating: "b", count: 1022) + "é"
        #expect(try Self.roundTrip(DataPlaneMessage.log(.error, exact)) == .log(.error, exact))
    }

    /// Newlines, escapes, C1 controls and line separators cannot reach the supervisor's log.
    @Test func controlCharactersInLogTextAreReplaced() throws {
        let frame = Support.frame(type: DataPlaneMessage.log(.error, "").type,
                                  [1] + Array("ok\nFAKE: line\u{1B}[31m\r\u{7F}\u{85}\u{2028}\u{2029}\u{0}\t end ✓".utf8))
        #expect(try DataPlaneMessage.decode(from: frame) == .log(.error, "ok?FAKE: line?[31m??????? end ✓"))
    }
}
