import Glibc
import Synchronization
import Testing
import System

/// The control channel over real socketpairs: frames whole both ways, descriptors passed, and
/// every way a peer can break the framing refused (with the descriptors it sent closed).
@Suite("ControlSocket")
struct ControlSocketTests {
    typealias Support = ControlTestSupport

    static func expectError(_ expected: ControlError, _ body: () throws(ControlError) -> Void,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        do throws(ControlError) {
            try body()
            Issue.record("no error; expected \(expected)", sourceLocation: sourceLocation)
        } catch {
            #expect(error == expected, sourceLocation: sourceLocation)
        }
    }

    static func expectViolation(containing text: String, _ body: () throws(ControlError) -> Void,
                                sourceLocation: SourceLocation = #_sourceLocation) {
        do throws(ControlError) {
            try body()
            Issue.record("no error; expected a violation about \(text)", sourceLocation: sourceLocation)
        } catch {
            guard case .protocolViolation(let reason) = error else {
                Issue.record("\(error); expected a violation about \(text)", sourceLocation: sourceLocation)
                return
            }
            #expect(reason.contains(text), "\(reason)", sourceLocation: sourceLocation)
        }
    }

    // MARK: frames

    @Test func framesArriveWholeAndInOrder() throws {
        let (a, b) = try ControlSocket.pair()
        try a.send(type: 1, payload: [])
        try a.send(type: 2, payload: [1, 2, 3])
        try b.send(type: 7, payload: [9])
        let first = try b.receive(limit: Support.anyType)
        #expect(first.type == 1 && first.payload.bytes == [] && first.descriptors.count == 0)
        let second = try b.receive(limit: Support.anyType)
        #expect(second.type == 2 && second.payload.bytes == [1, 2, 3])
        let back = try a.receive(limit: Support.anyType)
        #expect(back.type == 7 && back.payload.bytes == [9])
    }

    /// 3 MiB is many times the socket buffer: the send is written in parts while the other end reads.
    @Test func aFrameLargerThanTheSocketBufferArrivesWhole() throws {
        let (a, b) = try ControlSocket.pair()
        let payload = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
        let threads = ThreadGroup()
        _ = threads.enter()
        try Threads.spawn(name: "test-sender") {
            try? a.send(type: 5, payload: payload)
            threads.leave()
        }
        let frame = try b.receive(limit: Support.anyType)
        threads.wait()
        #expect(frame.type == 5)
        #expect(frame.payload.bytes == payload)
    }

    @Test func theHeaderIsLittleEndianTypeFlagsLength() throws {
        let (a, b) = try ControlSocket.pair()
        try a.send(type: 0x0102, payload: [0xAA, 0xBB, 0xCC])
        var bytes = [UInt8](repeating: 0, count: 11)
        let n = bytes.withUnsafeMutableBytes { read(b.rawValue, $0.baseAddress, $0.count) }
        #expect(n == 11)
        #expect(bytes == [0x02, 0x01, 0, 0, 3, 0, 0, 0, 0xAA, 0xBB, 0xCC])
    }

    /// Four threads send at once: the send lock keeps every frame whole.
    @Test func concurrentSendersNeverInterleave() throws {
        let (a, b) = try ControlSocket.pair()
        let threads = ThreadGroup()
        for sender in 0..<4 {
            _ = threads.enter()
            try Threads.spawn(name: "test-sender-\(sender)") {
                for i in 0..<50 {
                    let size = (i * 7919 + sender * 104_729) % 150_000
                    try? a.send(type: UInt16(sender), payload: [UInt8](repeating: UInt8(i), count: size))
                }
                threads.leave()
            }
        }
        var next = [0, 0, 0, 0]
        for _ in 0..<200 {
            let frame = try b.receive(limit: Support.anyType)
            let sender = Int(frame.type)
            let i = next[sender]
            #expect(frame.payload.count == (i * 7919 + sender * 104_729) % 150_000)
            #expect(frame.payload.bytes.allSatisfy { $0 == UInt8(i) })
            next[sender] += 1
        }
        threads.wait()
        #expect(next == [50, 50, 50, 50])
    }

    // MARK: descriptors

    /// A pipe's write end goes over; what is written through the received copy comes out of the pipe.
    @Test func aPassedDescriptorWorksAtTheOtherEnd() throws {
        let (a, b) = try ControlSocket.pair()
        let pipe = Support.pipe()
        defer { close(pipe.read) }
        try a.send(type: 3, payload: [42], descriptors: [pipe.write])
        close(pipe.write)
        var frame = try b.receive(limit: Support.anyType)
        #expect(frame.descriptors.count == 1)
        guard let received = frame.descriptors.take(0) else {
            Issue.record("no descriptor")
            return
        }
        let takenTwice = Support.isSome(frame.descriptors.take(0))
        #expect(!takenTwice, "taken once")
        #expect(fcntl(received.rawValue, F_GETFD) & FD_CLOEXEC != 0, "received close-on-exec")
        try Array("through the channel".utf8).withUnsafeBytes { try received.writeAll($0) }
        var text = [UInt8](repeating: 0, count: 64)
        let n = text.withUnsafeMutableBytes { read(pipe.read, $0.baseAddress, $0.count) }
        #expect(String(decoding: text[0..<max(0, n)], as: UTF8.self) == "through the channel")
    }

    @Test func descriptorsComeInTheOrderSent() throws {
        let (a, b) = try ControlSocket.pair()
        let first = Support.pipe(), second = Support.pipe()
        defer { for fd in [first.read, first.write, second.read, second.write] { close(fd) } }
        try a.send(type: 2, payload: [], descriptors: [first.write, second.write])
        var frame = try b.receive(limit: Support.anyType)
        guard let one = frame.descriptors.take(0), let two = frame.descriptors.take(1) else {
            Issue.record("descriptors missing")
            return
        }
        _ = try [UInt8(1)].withUnsafeBytes { try one.write($0) }
        _ = try [UInt8(2)].withUnsafeBytes { try two.write($0) }
        var byte: UInt8 = 0
        #expect(read(first.read, &byte, 1) == 1 && byte == 1)
        #expect(read(second.read, &byte, 1) == 1 && byte == 2)
    }

    /// Descriptors left in a frame close with it: the pipe's last writer is gone.
    @Test func untakenDescriptorsCloseWithTheFrame() throws {
        let (a, b) = try ControlSocket.pair()
        let pipe = Support.pipe()
        defer { close(pipe.read) }
        try a.send(type: 3, payload: [], descriptors: [pipe.write])
        close(pipe.write)
        do {
            let frame = try b.receive(limit: Support.anyType)
            #expect(frame.descriptors.count == 1)
            #expect(!Support.writersAreGone(readEnd: pipe.read), "held by the frame")
        }
        #expect(Support.writersAreGone(readEnd: pipe.read))
    }

    @Test func descriptorsOnAPayloadAreRefusedAndClosed() throws {
        let (a, b) = try ControlSocket.pair()
        let pipe = Support.pipe()
        defer { close(pipe.read) }
        Support.rawSend(a.rawValue, Support.header(type: 1, length: 4))
        Support.rawSend(a.rawValue, [1, 2, 3, 4], fds: [pipe.write])
        close(pipe.write)
        Self.expectViolation(containing: "payload") { () throws(ControlError) in _ = try b.receive(limit: Support.anyType) }
        #expect(Support.writersAreGone(readEnd: pipe.read))
    }

    /// Six descriptors on one message: the receiver's room is four, the kernel says MSG_CTRUNC
    /// and closes the rest; the four that came are closed with the refusal.
    @Test func tooManyDescriptorsAreRefusedAndClosed() throws {
        let (a, b) = try ControlSocket.pair()
        let pipe = Support.pipe()
        defer { close(pipe.read) }
        Support.rawSend(a.rawValue, Support.header(type: 1, length: 0), fds: [Int32](repeating: pipe.write, count: 6))
        close(pipe.write)
        Self.expectViolation(containing: "more descriptors") { () throws(ControlError) in _ = try b.receive(limit: Support.anyType) }
        #expect(Support.writersAreGone(readEnd: pipe.read))
    }

    /// A header in two parts with four descriptors each: eight in all, more than a frame may carry.
    @Test func descriptorsAcrossASplitHeaderCountTogether() throws {
        let (a, b) = try ControlSocket.pair()
        let pipe = Support.pipe()
        defer { close(pipe.read) }
        let header = Support.header(type: 1, length: 0)
        Support.rawSend(a.rawValue, Array(header[0..<4]), fds: [Int32](repeating: pipe.write, count: 4))
        Support.rawSend(a.rawValue, Array(header[4...]), fds: [Int32](repeating: pipe.write, count: 4))
        close(pipe.write)
        Self.expectViolation(containing: "more descriptors") { () throws(ControlError) in _ = try b.receive(limit: Support.anyType) }
        #expect(Support.writersAreGone(readEnd: pipe.read))
    }

    /// A refused frame's header descriptors are closed too.
    @Test func aRefusedHeaderClosesItsDescriptors() throws {
        let (a, b) = try ControlSocket.pair()
        let pipe = Support.pipe()
        defer { close(pipe.read) }
        try a.send(type: 500, payload: [], descriptors: [pipe.write])
        close(pipe.write)
        Self.expectViolation(containing: "unknown frame type 500") { () throws(ControlError) in _ = try b.receive(limit: Support.anyType) }
        #expect(Support.writersAreGone(readEnd: pipe.read))
    }

    // MARK: framing errors

    @Test func anUnknownTypeIsRefused() throws {
        let (a, b) = try ControlSocket.pair()
        try a.send(type: 100, payload: [1])
        Self.expectViolation(containing: "unknown frame type 100") { () throws(ControlError) in _ = try b.receive(limit: Support.anyType) }
    }

    @Test func flagsAreRefused() throws {
        let (a, b) = try ControlSocket.pair()
        Support.rawSend(a.rawValue, Support.header(type: 1, flags: 0x8000, length: 0))
        Self.expectViolation(containing: "flags 32768") { () throws(ControlError) in _ = try b.receive(limit: Support.anyType) }
    }

    /// A header claiming 4 GiB: refused from the header alone. Nothing follows it and the writer
    /// stays open, so a receiver that tried to read the payload would time out instead.
    @Test func anOverLongFrameIsRefusedBeforeItsPayloadIsRead() throws {
        let (a, b) = try ControlSocket.pair()
        try b.setReceiveTimeout(milliseconds: 2000)
        Support.rawSend(a.rawValue, Support.header(type: 1, length: UInt32.max))
        Self.expectViolation(containing: "at most 16") { () throws(ControlError) in _ = try b.receive(limit: { _ in 16 }) }
        Support.rawSend(a.rawValue, Support.header(type: 1, length: 17))
        Self.expectViolation(containing: "at most 16") { () throws(ControlError) in _ = try b.receive(limit: { _ in 16 }) }
    }

    @Test func aFrameAtItsLimitIsTaken() throws {
        let (a, b) = try ControlSocket.pair()
        try a.send(type: 1, payload: [UInt8](repeating: 7, count: 16))
        #expect(try b.receive(limit: { _ in 16 }).payload.count == 16)
    }

    @Test func endOfStreamBetweenFramesIsClosed() throws {
        let (a, b) = try ControlSocket.pair()
        try a.send(type: 1, payload: [1])
        a.shutdown()
        _ = try b.receive(limit: Support.anyType)
        Self.expectError(.closed) { () throws(ControlError) in _ = try b.receive(limit: Support.anyType) }
    }

    @Test func endOfStreamInsideAHeaderIsTruncated() throws {
        let (a, b) = try ControlSocket.pair()
        Support.rawSend(a.rawValue, Array(Support.header(type: 1, length: 0)[0..<5]))
        a.shutdown()
        Self.expectError(.truncated) { () throws(ControlError) in _ = try b.receive(limit: Support.anyType) }
    }

    @Test func endOfStreamInsideAPayloadIsTruncated() throws {
        let (a, b) = try ControlSocket.pair()
        Support.rawSend(a.rawValue, Support.header(type: 1, length: 10) + [1, 2, 3, 4])
        a.shutdown()
        Self.expectError(.truncated) { () throws(ControlError) in _ = try b.receive(limit: Support.anyType) }
    }

    // MARK: timeouts, waiting, shutdown

    /// Nobody reads: the send stops with EAGAIN after its timeout instead of blocking forever.
    @Test func aSendToAStuckPeerTimesOut() throws {
        let (a, b) = try ControlSocket.pair()
        try a.setSendTimeout(milliseconds: 100)
        Self.expectError(.system(.again)) { () throws(ControlError) in
            try a.send(type: 1, payload: [UInt8](repeating: 0, count: 8 << 20))
        }
        _ = b
    }

    @Test func aReceiveFromASilentPeerTimesOut() throws {
        let (a, b) = try ControlSocket.pair()
        try b.setReceiveTimeout(milliseconds: 50)
        Self.expectError(.system(.again)) { () throws(ControlError) in _ = try b.receive(limit: Support.anyType) }
        _ = a
    }

    @Test func waitReadableSeesAFrameComing() throws {
        let (a, b) = try ControlSocket.pair()
        #expect(try !b.waitReadable(milliseconds: 10))
        try a.send(type: 1, payload: [])
        #expect(try b.waitReadable(milliseconds: 1000))
    }

    /// shutdown wakes a reader blocked in receive, which then sees the end of the stream.
    @Test func shutdownWakesABlockedReader() throws {
        let (a, b) = try ControlSocket.pair()
        let result = Mutex<ControlError?>(nil)
        let threads = ThreadGroup()
        _ = threads.enter()
        try Threads.spawn(name: "test-reader") {
            do throws(ControlError) {
                _ = try b.receive(limit: Support.anyType)
            } catch {
                result.withLock { $0 = error }
            }
            threads.leave()
        }
        usleep(50_000)
        b.shutdown()
        threads.wait()
        #expect(result.withLock { $0 } == .closed)
        _ = a
    }

    // MARK: inheriting

    @Test func anInheritedStreamSocketWorks() throws {
        var ends: (Int32, Int32) = (-1, -1)
        _ = withUnsafeMutableBytes(of: &ends) { socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, $0.baseAddress!.assumingMemoryBound(to: Int32.self)) }
        let a = try ControlSocket(inheriting: ends.0), b = try ControlSocket(inheriting: ends.1)
        #expect(fcntl(ends.1, F_GETFD) & FD_CLOEXEC != 0)
        try a.send(type: 9, payload: [1])
        #expect(try b.receive(limit: Support.anyType).type == 9)
    }

    @Test func anInheritedDescriptorMustBeAUnixStreamSocket() throws {
        let pipe = Support.pipe()
        defer { close(pipe.write) }
        #expect(throws: Errno(ENOTSOCK)) { try ControlSocket(inheriting: pipe.read) }
        #expect(!Support.isOpen(pipe.read), "closed when refused")
        var ends: (Int32, Int32) = (-1, -1)
        _ = withUnsafeMutableBytes(of: &ends) { socketpair(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0, $0.baseAddress!.assumingMemoryBound(to: Int32.self)) }
        defer { close(ends.1) }
        #expect(throws: Errno(EPROTOTYPE)) { try ControlSocket(inheriting: ends.0) }
    }

    @Test func receivedDescriptorsCloseWhatIsNotTaken() {
        let first = Support.pipe(), second = Support.pipe()
        defer { close(first.read); close(second.read) }
        var kept: FileDescriptor?
        do {
            var descriptors = ReceivedDescriptors(taking: [first.write, second.write])
            kept = descriptors.take(1)
        }
        #expect(Support.writersAreGone(readEnd: first.read))
        #expect(!Support.writersAreGone(readEnd: second.read))
        let wasKept = Support.isSome(kept)   // and closes it
        #expect(wasKept)
        #expect(Support.writersAreGone(readEnd: second.read))
    }
}
