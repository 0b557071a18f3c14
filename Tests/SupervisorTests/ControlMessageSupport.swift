import Glibc
import Crypto
import Protocol
import System
@testable import Supervisor

/// Frames made in memory from messages, real descriptors to put in them, and random messages of
/// both directions for the round-trip and mutation tests.
enum ControlMessageSupport {
    /// `count` fresh descriptors (/dev/null), for frames that must carry some.
    static func descriptors(_ count: Int) -> [Int32] {
        (0..<count).map { _ in open("/dev/null", O_RDONLY | O_CLOEXEC) }
    }

    static func frame(type: UInt16, _ payload: [UInt8], descriptors count: Int = 0) -> ControlFrame {
        ControlFrame(type: type, payload: ZeroingBuffer(copying: payload), descriptors: ReceivedDescriptors(taking: descriptors(count)))
    }

    static func payload(_ message: some ControlMessage) throws(ControlError) -> [UInt8] { try message.encodedPayload().bytes }

    /// The message's own frame: its type, its payload and as many descriptors as it takes.
    static func frame(_ message: some ControlMessage) throws(ControlError) -> ControlFrame {
        frame(type: message.type, try payload(message), descriptors: message.descriptorCount)
    }

    static func key(_ n: UInt8) -> PublicKey { PublicKey([UInt8](repeating: n, count: 32).withUnsafeBytes { Bytes32($0) }) }

    static let options = StartOptions(interface: "wg0", cpus: [0, 1], buffers: 4096, largeBuffers: 256, mtu: 1420, logLevel: .error)

    static let record = PeerRecord(publicKey: key(7), status: PeerStatus(
        endpoint: Endpoint("192.0.2.1:51820"), lastHandshake: WallTime(seconds: 1_700_000_000, nanoseconds: 999_999_999),
        receivedBytes: 1 << 40, sentBytes: 12345, persistentKeepaliveInterval: 25))

    // MARK: random messages

    static func random<T: FixedWidthInteger>(_ random: inout FastRandom) -> T { T.random(in: T.min...T.max, using: &random) }

    static func endpoint(_ random: inout FastRandom) -> Endpoint? {
        switch Int.random(in: 0..<3, using: &random) {
        case 0: nil
        case 1: Endpoint(address: .v4(IPv4Address(value: Self.random(&random))), port: Self.random(&random))
        default: Endpoint(address: .v6(IPv6Address(high: Self.random(&random), low: Self.random(&random))), port: Self.random(&random))
        }
    }

    static func peerRecord(_ random: inout FastRandom) -> PeerRecord {
        PeerRecord(publicKey: key(UInt8.random(in: 0...255, using: &random)), status: PeerStatus(
            endpoint: endpoint(&random), lastHandshake: WallTime(seconds: Self.random(&random), nanoseconds: UInt32.random(in: 0..<1_000_000_000, using: &random)),
            receivedBytes: Self.random(&random), sentBytes: Self.random(&random), persistentKeepaliveInterval: Self.random(&random)))
    }

    static func change(_ random: inout FastRandom) -> ConfigChange {
        var change = ConfigChange()
        if Bool.random(using: &random) { change.append(.privateKey(Bool.random(using: &random) ? PrivateKey.generate() : nil)) }
        if Bool.random(using: &random) { change.append(.listenPort(Self.random(&random))) }
        for _ in 0..<Int.random(in: 0...2, using: &random) {
            change.append(.peer(key(UInt8.random(in: 0...3, using: &random))))
            if Bool.random(using: &random) { change.append(.presharedKey(PresharedKey.generate())) }
            if let endpoint = endpoint(&random) { change.append(.endpoint(endpoint)) }
            let prefix = IPPrefix(address: .v4(IPv4Address(value: Self.random(&random))), length: Int.random(in: 0...32, using: &random))!
            change.append(Bool.random(using: &random) ? .addAllowedIP(prefix) : .removeAllowedIP(prefix))
        }
        return change
    }

    static func startOptions(_ random: inout FastRandom) -> StartOptions {
        let names = ["wg0", "a", "wg-router-15chr", "tün0"]
        var cpus = Array(Set((0..<Int.random(in: 1...6, using: &random)).map { _ in Int32.random(in: 0...4095, using: &random) }))
        cpus.sort()
        return StartOptions(interface: names[Int.random(in: 0..<names.count, using: &random)], cpus: cpus,
                            buffers: Int.random(in: StartOptions.bufferCounts, using: &random),
                            largeBuffers: Int.random(in: StartOptions.largeBufferCounts, using: &random),
                            mtu: Int.random(in: 68...65_535, using: &random), logLevel: LogLevel(rawValue: Int.random(in: 0...2, using: &random))!)
    }

    static func supervisorMessage(_ random: inout FastRandom) -> SupervisorMessage {
        switch Int.random(in: 0..<7, using: &random) {
        case 0: .start(startOptions(&random))
        case 1: .sockets(port: UInt16.random(in: 1...UInt16.max, using: &random), hasV6: Bool.random(using: &random))
        case 2: .configure(id: Self.random(&random), change: change(&random))
        case 3: .mtu(UInt32.random(in: 68...65_535, using: &random))
        case 4: .status(id: Self.random(&random))
        case 5: .releaseSockets
        default: .stop
        }
    }

    static func dataPlaneMessage(_ random: inout FastRandom) -> DataPlaneMessage {
        let texts = ["handshake with peer 3 completed", "", "naïve ünïcödé ✓ 🚀", "line\nbreak", String(repeating: "x", count: 40)]
        switch Int.random(in: 0..<5, using: &random) {
        case 0: return .ready
        case 1: return .applied(id: Self.random(&random), errno: Int32.random(in: 0...4095, using: &random))
        case 2: return .status(id: Self.random(&random), peers: (0..<Int.random(in: 0...4, using: &random)).map { _ in peerRecord(&random) })
        case 3: return .log(Bool.random(using: &random) ? .error : .verbose, texts[Int.random(in: 0..<texts.count, using: &random)])
        default: return .interfaceGone
        }
    }
}
