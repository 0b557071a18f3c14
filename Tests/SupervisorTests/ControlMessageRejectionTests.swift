import Glibc
import Testing
import Crypto
import Protocol
import System
@testable import Supervisor

/// Every way a frame can be wrong for its message, each refused with its reason (and the
/// descriptors it brought closed with it).
@Suite("Control message rejections")
struct ControlMessageRejectionTests {
    typealias Support = ControlMessageSupport

    static let start = SupervisorMessage.start(Support.options).type
    static let sockets = SupervisorMessage.sockets(port: 1, hasV6: false).type
    static let configure = SupervisorMessage.configure(id: 0, change: ConfigChange()).type
    static let mtu = SupervisorMessage.mtu(1500).type
    static let statusRequest = SupervisorMessage.status(id: 0).type
    static let stop = SupervisorMessage.stop.type
    static let applied = DataPlaneMessage.applied(id: 0, errno: 0).type
    static let status = DataPlaneMessage.status(id: 0, peers: []).type
    static let log = DataPlaneMessage.log(.error, "").type

    static func refuseSupervisor(_ frame: consuming ControlFrame, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        expectViolation(text, sourceLocation) { () throws(ControlError) in _ = try SupervisorMessage.decode(from: frame) }
    }

    static func refuseDataPlane(_ frame: consuming ControlFrame, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        expectViolation(text, sourceLocation) { () throws(ControlError) in _ = try DataPlaneMessage.decode(from: frame) }
    }

    static func expectViolation(_ text: String, _ sourceLocation: SourceLocation, _ body: () throws(ControlError) -> Void) {
        do throws(ControlError) {
            try body()
            Issue.record("accepted; expected a refusal about \(text)", sourceLocation: sourceLocation)
        } catch {
            guard case .protocolViolation(let reason) = error else {
                Issue.record("\(error)", sourceLocation: sourceLocation)
                return
            }
            #expect(reason.contains(text), "\(reason)", sourceLocation: sourceLocation)
        }
    }

    /// The start payload with `edit` applied to its bytes.
    static func startBytes(_ options: StartOptions = Support.options, _ edit: (inout [UInt8]) -> Void = { _ in }) -> [UInt8] {
        var bytes = (try? Support.payload(SupervisorMessage.start(options))) ?? []
        edit(&bytes)
        return bytes
    }

    /// A start payload written field by field, for values the encoder would refuse to send.
    static func rawStart(name: [UInt8], level: UInt8 = 1, restarted: UInt8 = 0, udpOffload: UInt8 = 0, mtu: UInt32 = 1420,
                         buffers: UInt32 = 4096, large: UInt32 = 256, cpus: [Int32] = [0]) -> [UInt8] {
        func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        return [UInt8(name.count)] + name + [level, restarted, udpOffload] + le(mtu) + le(buffers) + le(large) + le(UInt16(cpus.count)) + cpus.flatMap(le)
    }

    static func record(_ edit: (inout [UInt8]) -> Void) -> [UInt8] {
        var bytes = Array(((try? Support.payload(DataPlaneMessage.status(id: 0, peers: [Support.record]))) ?? [])[12...])
        edit(&bytes)
        return bytes
    }

    static func statusPayload(count: UInt32, _ records: [UInt8]) -> [UInt8] {
        [UInt8](repeating: 0, count: 8) + (0..<4).map { UInt8(truncatingIfNeeded: count >> (8 * $0)) } + records
    }

    // MARK: types and descriptors

    @Test func unknownTypesAreRefused() {
        Self.refuseSupervisor(Support.frame(type: 0, []), "unknown supervisor message type 0")
        Self.refuseSupervisor(Support.frame(type: Self.applied, []), "unknown supervisor message type 258")
        Self.refuseDataPlane(Support.frame(type: Self.stop, []), "unknown data plane message type 7")
        #expect(SupervisorMessage.limit(8) == nil && DataPlaneMessage.limit(0x106) == nil && DataPlaneMessage.limit(0) == nil)
    }

    /// Over the socket: an unknown type is refused by its header alone.
    @Test func unknownTypesAreRefusedOnReceipt() throws {
        let (a, b) = try ControlSocket.pair()
        try a.send(type: 0x0105, payload: [])
        #expect(throws: ControlError.protocolViolation("unknown frame type 261")) { try SupervisorMessage.receive(from: b) }
    }

    @Test func descriptorsOnAMessageThatTakesNoneAreRefusedAndClosed() {
        let fds = Support.descriptors(1)
        Self.refuseSupervisor(ControlFrame(type: Self.mtu, payload: ZeroingBuffer(copying: [0xDC, 5, 0, 0]),
                                           descriptors: ReceivedDescriptors(taking: fds)),
                              "mtu came with 1 descriptors; it takes 0")
        #expect(fcntl(fds[0], F_GETFD) == -1, "closed with the frame")
        Self.refuseSupervisor(Support.frame(type: Self.stop, [], descriptors: 2), "stop came with 2 descriptors")
        Self.refuseDataPlane(Support.frame(type: DataPlaneMessage.ready.type, [], descriptors: 1), "ready came with 1 descriptors")
    }

    @Test func theWrongDescriptorCountIsRefused() {
        Self.refuseSupervisor(Support.frame(type: Self.start, Self.startBytes(), descriptors: 0), "start came with 0 descriptors; it takes 1")
        Self.refuseSupervisor(Support.frame(type: Self.start, Self.startBytes(), descriptors: 2), "start came with 2 descriptors; it takes 1")
        Self.refuseSupervisor(Support.frame(type: Self.sockets, [0x6C, 0xCA, 1], descriptors: 1), "sockets came with 1 descriptors; it takes 2")
        Self.refuseSupervisor(Support.frame(type: Self.sockets, [0x6C, 0xCA, 0], descriptors: 2), "sockets came with 2 descriptors; it takes 1")
        Self.refuseSupervisor(Support.frame(type: Self.sockets, [0x6C, 0xCA, 0], descriptors: 0), "sockets came with 0 descriptors")
    }

    // MARK: lengths

    @Test func trailingBytesAreRefused() {
        Self.refuseSupervisor(Support.frame(type: Self.mtu, [0xDC, 5, 0, 0, 0]), "mtu of 5 bytes; it has at most 4")
        Self.refuseSupervisor(Support.frame(type: Self.stop, [0]), "stop of 1 bytes; it has at most 0")
        Self.refuseSupervisor(Support.frame(type: Self.start, Self.startBytes { $0 += [0, 0, 0, 0] }, descriptors: 1), "2 CPUs in 12 bytes")
        Self.refuseDataPlane(Support.frame(type: DataPlaneMessage.interfaceGone.type, [1]), "interfaceGone of 1 bytes")
        Self.refuseDataPlane(Support.frame(type: Self.applied, [UInt8](repeating: 0, count: 13)), "applied of 13 bytes")
    }

    @Test func shortPayloadsAreRefused() {
        Self.refuseSupervisor(Support.frame(type: Self.mtu, [0xDC, 5, 0]), "ends inside a field")
        Self.refuseSupervisor(Support.frame(type: Self.statusRequest, [1, 2, 3, 4, 5, 6, 7]), "ends inside a field")
        Self.refuseSupervisor(Support.frame(type: Self.configure, [1, 2, 3]), "ends inside a field")
        Self.refuseSupervisor(Support.frame(type: Self.start, Array(Self.startBytes().dropLast()), descriptors: 1), "2 CPUs in 7 bytes")
        Self.refuseSupervisor(Support.frame(type: Self.sockets, [1, 0]), "ends inside a field")
        Self.refuseDataPlane(Support.frame(type: Self.applied, [UInt8](repeating: 0, count: 11)), "ends inside a field")
        Self.refuseDataPlane(Support.frame(type: Self.log, []), "ends inside a field")
    }

    @Test func recordCountsMustMatchTheLength() {
        let one = Self.record { _ in }
        Self.refuseDataPlane(Support.frame(type: Self.status, Self.statusPayload(count: 2, one)), "2 peer records in 81 bytes")
        Self.refuseDataPlane(Support.frame(type: Self.status, Self.statusPayload(count: 1, one + one)), "1 peer records in 162 bytes")
        Self.refuseDataPlane(Support.frame(type: Self.status, Self.statusPayload(count: 0, [0])), "0 peer records in 1 bytes")
        Self.refuseDataPlane(Support.frame(type: Self.status, Self.statusPayload(count: 1, Array(one.dropLast()))), "1 peer records in 80 bytes")
        // A data plane has no more peers than an interface may: the bound of the status frame.
        Self.refuseDataPlane(Support.frame(type: Self.status, Self.statusPayload(count: 4097, one)), "4097 peers, over 4096")
        Self.refuseDataPlane(Support.frame(type: Self.status, Self.statusPayload(count: .max, [])), "peers, over 4096")
    }

    @Test func configureTrailingGarbageIsRefused() {
        Self.refuseSupervisor(Support.frame(type: Self.configure, [UInt8](repeating: 0, count: 8) + [2, 1]), "ends inside a field")
        Self.refuseSupervisor(Support.frame(type: Self.configure, [UInt8](repeating: 0, count: 8) + [99]), "unknown operation 99 at byte 8")
    }

    // MARK: fields

    @Test func badEnumValuesAreRefused() {
        Self.refuseSupervisor(Support.frame(type: Self.sockets, [0x6C, 0xCA, 2], descriptors: 1), "hasV6 is 2, not 0 or 1")
        Self.refuseSupervisor(Support.frame(type: Self.start, Self.rawStart(name: Array("wg0".utf8), restarted: 2), descriptors: 1),
                              "restarted is 2, not 0 or 1")
        Self.refuseSupervisor(Support.frame(type: Self.start, Self.rawStart(name: Array("wg0".utf8), udpOffload: 2), descriptors: 1),
                              "UDP offload is 2, not 0 or 1")
        Self.refuseSupervisor(Support.frame(type: Self.start, Self.rawStart(name: Array("wg0".utf8), level: 3), descriptors: 1),
                              "log level 3 is not 0, 1 or 2")
        Self.refuseDataPlane(Support.frame(type: Self.log, [3] + Array("x".utf8)), "log level 3")
        Self.refuseDataPlane(Support.frame(type: Self.log, [0] + Array("x".utf8)), "a log message at level silent")
        Self.refuseDataPlane(Support.frame(type: Self.status, Self.statusPayload(count: 1, Self.record { $0[32] = 5 })),
                             "endpoint family 5 is not 0, 4 or 6")
    }

    @Test func recordsAreCanonical() {
        Self.refuseDataPlane(Support.frame(type: Self.status, Self.statusPayload(count: 1, Self.record { $0[32] = 0 })),
                             "no endpoint, but an address or port")
        Self.refuseDataPlane(Support.frame(type: Self.status, Self.statusPayload(count: 1, Self.record { $0[40] = 1 })),
                             "an IPv4 endpoint with bytes past its address")
        // Nanoseconds at offset 32 + 19 + 8: 1,000,000,000 = 0x3B9ACA00.
        Self.refuseDataPlane(Support.frame(type: Self.status, Self.statusPayload(count: 1, Self.record { $0.replaceSubrange(59..<63, with: [0x00, 0xCA, 0x9A, 0x3B]) })),
                             "nanoseconds 1000000000 are a second or more")
        var none = Self.record { _ in }
        none.replaceSubrange(32..<51, with: [UInt8](repeating: 0, count: 19))
        #expect(throws: Never.self) { try DataPlaneMessage.decode(from: Support.frame(type: Self.status, Self.statusPayload(count: 1, none))) }
    }

    @Test func errnoOutsideItsRangeIsRefused() {
        func applied(_ errno: Int32) -> [UInt8] { [UInt8](repeating: 0, count: 8) + (0..<4).map { UInt8(truncatingIfNeeded: errno >> (8 * $0)) } }
        Self.refuseDataPlane(Support.frame(type: Self.applied, applied(-22)), "errno -22 is not in 0...4095")
        Self.refuseDataPlane(Support.frame(type: Self.applied, applied(4096)), "errno 4096")
    }

    @Test func badUTF8IsRefused() {
        Self.refuseSupervisor(Support.frame(type: Self.start, Self.rawStart(name: [0x77, 0xC3]), descriptors: 1), "the interface name is not UTF-8")
        Self.refuseSupervisor(Support.frame(type: Self.start, Self.rawStart(name: [0xFF]), descriptors: 1), "not UTF-8")
        Self.refuseDataPlane(Support.frame(type: Self.log, [1, 0x61, 0xED, 0xA0, 0x80]), "the text is not UTF-8")   // a surrogate
        Self.refuseDataPlane(Support.frame(type: Self.log, [1, 0xC0, 0xAF]), "not UTF-8")                          // overlong "/"
    }

    @Test func logTextOverItsBoundIsRefused() {
        Self.refuseDataPlane(Support.frame(type: Self.log, [1] + [UInt8](repeating: 0x61, count: 1025)), "log of 1026 bytes; it has at most 1025")
    }

    @Test(arguments: [
        (ControlMessageRejectionTests.rawStart(name: Array("a/b".utf8)), "is not an interface name"),
        (ControlMessageRejectionTests.rawStart(name: []), "is not an interface name"),
        (ControlMessageRejectionTests.rawStart(name: Array("sixteen-bytes-xx".utf8)), "is not an interface name"),
        (ControlMessageRejectionTests.rawStart(name: Array("..".utf8)), "is not an interface name"),
        (ControlMessageRejectionTests.rawStart(name: Array("wg0".utf8), cpus: []), "0 CPUs, not 1...1024"),
        (ControlMessageRejectionTests.rawStart(name: Array("wg0".utf8), cpus: Array(0..<1025)), "1025 CPUs"),
        (ControlMessageRejectionTests.rawStart(name: Array("wg0".utf8), cpus: [4096]), "CPU 4096 is not in 0...4095"),
        (ControlMessageRejectionTests.rawStart(name: Array("wg0".utf8), cpus: [-1]), "CPU -1 is not in 0...4095"),
        (ControlMessageRejectionTests.rawStart(name: Array("wg0".utf8), cpus: [3, 1, 3]), "CPU 3 is listed twice"),
        (ControlMessageRejectionTests.rawStart(name: Array("wg0".utf8), buffers: 63), "buffers 63 is not in 64...1048576"),
        (ControlMessageRejectionTests.rawStart(name: Array("wg0".utf8), buffers: 1_048_577), "buffers 1048577"),
        (ControlMessageRejectionTests.rawStart(name: Array("wg0".utf8), large: 7), "large buffers 7 is not in 8...65536"),
        (ControlMessageRejectionTests.rawStart(name: Array("wg0".utf8), large: 65_537), "large buffers 65537"),
        (ControlMessageRejectionTests.rawStart(name: Array("wg0".utf8), mtu: 67), "MTU 67 is not in 68...65535"),
        (ControlMessageRejectionTests.rawStart(name: Array("wg0".utf8), mtu: 65_536), "MTU 65536"),
        (ControlMessageRejectionTests.rawStart(name: Array("wg0".utf8), mtu: .max), "MTU 4294967295"),
    ])
    func startFieldsOutOfRangeAreRefused(_ payload: [UInt8], _ reason: String) {
        Self.refuseSupervisor(Support.frame(type: Self.start, payload, descriptors: 1), reason)
    }

    @Test func otherSupervisorFieldsOutOfRangeAreRefused() {
        Self.refuseSupervisor(Support.frame(type: Self.mtu, [67, 0, 0, 0]), "MTU 67 is not in 68...65535")
        Self.refuseSupervisor(Support.frame(type: Self.mtu, [0, 0, 1, 0]), "MTU 65536")
        Self.refuseSupervisor(Support.frame(type: Self.sockets, [0, 0, 0], descriptors: 1), "port 0")
    }
}
