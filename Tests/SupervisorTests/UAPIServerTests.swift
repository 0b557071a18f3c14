import Foundation
import Glibc
import System
import Synchronization
import Testing
import Crypto
import DataPlane
import Protocol
import Supervisor

/// The UAPI socket as the stock `wg` tool and wireguard-go see it: framing, errors, limits,
/// concurrency, the socket file's life cycle and who may connect. Every server runs in its own
/// directory with a short read timeout, and every client read has a timeout: no test can hang.
@Suite struct UAPIServerTests {
    let peerA = keyHex(0xAA)
    let peerB = keyHex(0xBB)

    /// What `wg setconf` sends for a two-peer file.
    var setconf: String {
        """
        private_key=\(devicePrivateKeyHex)
        listen_port=51820
        fwmark=0
        replace_peers=true
        public_key=\(peerA)
        preshared_key=\(keyHex(0))
        endpoint=192.0.2.1:51820
        persistent_keepalive_interval=25
        replace_allowed_ips=true
        allowed_ip=10.0.0.2/32
        allowed_ip=fd00::2/128
        public_key=\(peerB)
        endpoint=[fd00::99]:4500
        replace_allowed_ips=true
        allowed_ip=10.0.1.0/24
        """
    }

    var setconfGet: String {
        "private_key=\(devicePrivateKeyHex)\nlisten_port=51820\n"
            + peerBlock(peerA, endpoint: "192.0.2.1:51820", keepalive: 25, allowedIPs: ["10.0.0.2/32", "fd00::2/128"])
            + peerBlock(peerB, endpoint: "[fd00::99]:4500", allowedIPs: ["10.0.1.0/24"])
            + "errno=0\n\n"
    }

    // MARK: framing

    @Test func probeConnectionThenGet() throws {
        let h = try Harness()
        do { _ = try h.client() }  // wg's probe: connect, send nothing, close
        #expect(try h.get() == "errno=0\n\n")
        #expect(h.target.applyCalls == 0)
    }

    @Test func setconfThenGetRoundTrip() throws {
        let h = try Harness()
        #expect(try h.set(setconf) == "errno=0\n\n")
        #expect(try h.get() == setconfGet)

        // wg set wg0 peer A endpoint … persistent-keepalive 0 allowed-ips 10.9.0.0/16
        let wgSet = "public_key=\(peerA)\nendpoint=198.51.100.7:1234\npersistent_keepalive_interval=0\nreplace_allowed_ips=true\nallowed_ip=10.9.0.0/16"
        #expect(try h.set(wgSet) == "errno=0\n\n")
        // wg set wg0 peer B remove
        #expect(try h.set("public_key=\(peerB)\nremove=true") == "errno=0\n\n")
        #expect(try h.get() == "private_key=\(devicePrivateKeyHex)\nlisten_port=51820\n"
            + peerBlock(peerA, endpoint: "198.51.100.7:1234", allowedIPs: ["10.9.0.0/16"]) + "errno=0\n\n")
        #expect(h.target.applyCalls == 3)
    }

    @Test func twoOperationsOnOneConnection() throws {
        let h = try Harness()
        let client = try h.client()
        #expect(try client.request("set=1\n\(setconf)\n\n") == "errno=0\n\n")
        #expect(try client.request("get=1\n\n") == setconfGet)
        client.shutdownWrite()
        #expect(try client.readUntilClosed() == "")
    }

    @Test func setCutShortByEOFChangesNothing() throws {
        // wg always ends a set with an empty line; without it the client went away mid-request.
        let h = try Harness()
        let client = try h.client()
        try client.send("set=1\nlisten_port=5555\n")
        client.shutdownWrite()
        #expect(try client.readUntilClosed() == "errno=-71\n\n")
        #expect(try h.get() == "errno=0\n\n")
        #expect(h.target.applyCalls == 0)
    }

    @Test func getWithTrailingDataIsInvalid() throws {
        let h = try Harness()
        #expect(try h.client().request("get=1\nx\n") == "errno=-22\n\n")
    }

    @Test func unknownOperationClosesWithoutReply() throws {
        let h = try Harness()
        let client = try h.client()
        try client.send("foo=1\n\n")
        #expect(try client.readUntilClosed() == "")
        #expect(h.logs.waitFor("invalid operation"))
    }

    // MARK: rejected requests change nothing

    struct BadRequest: Sendable, CustomTestStringConvertible {
        let name: String
        let body: [UInt8]
        let errno: Int32
        var testDescription: String { name }

        init(_ name: String, _ body: String, _ errno: Int32 = -22) { self.init(name, Array(body.utf8), errno) }
        init(_ name: String, _ body: [UInt8], _ errno: Int32 = -22) {
            self.name = name
            self.body = body
            self.errno = errno
        }
    }

    static let badRequests: [BadRequest] = [
        BadRequest("bad hex", "private_key=\(String(repeating: "zz", count: 32))"),
        BadRequest("key too short", "listen_port=4000\npublic_key=\(String(repeating: "aa", count: 31))"),
        BadRequest("unknown device key", "listen_port=4000\nfoo=bar"),
        BadRequest("allowed_ip before public_key", "allowed_ip=10.0.0.1/32"),
        BadRequest("garbage endpoint", "public_key=\(keyHex(0xCC))\nendpoint=not.an.endpoint:99999"),
        BadRequest("port 70000", "listen_port=70000"),
        BadRequest("get-only key", "public_key=\(keyHex(0xCC))\nrx_bytes=5"),
        BadRequest("line without =", "listen_port=4000\nlisten_port", -71),
        BadRequest("overlong line", "listen_port=4000\nprivate_key=" + String(repeating: "a", count: 5000)),
        BadRequest("bad line then more lines", "fwmark=x\npublic_key=\(keyHex(0xCC))\nallowed_ip=10.3.0.0/16"),
        BadRequest("binary garbage", Array("listen_port=4000\n".utf8) + [0x00, 0xFF, 0xFE, 0x3D, 0x01, 0x80, 0xC3]),
    ]

    @Test(arguments: badRequests)
    func invalidRequestIsRejectedAndChangesNothing(_ bad: BadRequest) throws {
        let h = try Harness()
        #expect(try h.set(setconf) == "errno=0\n\n")
        let client = try h.client()
        try client.send(Array("set=1\n".utf8) + bad.body + Array("\n\n".utf8))
        #expect(try client.readReply().text == "errno=\(bad.errno)\n\n")
        // The connection stays usable: the rest of the request was read and dropped.
        #expect(try client.request("get=1\n\n") == setconfGet)
        #expect(try h.get() == setconfGet)
        #expect(h.target.applyCalls == 1)
        #expect(h.logs.waitFor("set rejected"))
    }

    @Test func portInUseIsEADDRINUSEAndChangesNothing() throws {
        let h = try Harness()
        #expect(try h.set(setconf) == "errno=0\n\n")
        #expect(try h.set("listen_port=1\npublic_key=\(keyHex(0xCC))") == "errno=-98\n\n")
        #expect(try h.get() == setconfGet)
        #expect(h.target.applyCalls == 2)  // called, and it refused
        #expect(h.logs.waitFor("set failed"))
    }

    // MARK: size and abuse

    /// The kernel selftest's 130,560 allowed IPs in one request.
    @Test func hugeSetInOneRequest() throws {
        let h = try Harness()
        var body = "public_key=\(peerA)\n"
        body.reserveCapacity(4_000_000)
        for a in 0..<255 {
            for b in 0..<256 {
                body += "allowed_ip=10.\(a).\(b).1/32\nallowed_ip=fd00::\(String(a, radix: 16)):\(String(b, radix: 16))/128\n"
            }
        }
        let client = try h.client(timeoutSeconds: 60)
        #expect(try client.request("set=1\n" + body + "\n") == "errno=0\n\n")
        let reply = try client.request("get=1\n\n")
        #expect(reply.utf8.count > 3_000_000)
        #expect(reply.split(separator: "\n").count { $0.hasPrefix("allowed_ip=") } == 130_560)
        #expect(h.target.configuration.peers.first?.allowedIPs.count == 130_560)
    }

    @Test func requestOverTheLengthLimitIsRefusedWhole() throws {
        let h = try Harness(maxRequestLength: 4096)
        #expect(try h.set(setconf) == "errno=0\n\n")
        func lines(_ n: Int) -> String { (0..<n).map { "allowed_ip=10.1.\($0 / 256).\($0 % 256)/32\n" }.joined() }
        let client = try h.client()
        #expect(try client.request("set=1\npublic_key=\(peerB)\n" + lines(300) + "\n") == "errno=-90\n\n")
        // Read to its end: the connection is still in step, and nothing changed.
        #expect(try client.request("get=1\n\n") == setconfGet)
        #expect(h.logs.waitFor("request longer than 4096 bytes"))
        #expect(try h.set("public_key=\(peerB)\n" + lines(100)) == "errno=0\n\n")
        #expect(h.target.configuration.peers.last?.allowedIPs.count == 101)
    }

    @Test func tenMegabytesWithoutNewlineAreDropped() throws {
        let h = try Harness()
        var junk = JunkGenerator(state: 1)
        let garbage = junk.bytes(10 << 20).map { $0 == 0x0A ? 0x20 : $0 }
        let client = try h.client(timeoutSeconds: 30)
        try client.send(Array("set=1\n".utf8) + garbage)
        client.shutdownWrite()
        // The request never ended properly: nothing to apply, nobody to answer.
        #expect(try client.readUntilClosed() == "")
        #expect(try h.get() == "errno=0\n\n")
        #expect(h.target.applyCalls == 0)
    }

    @Test func tenMegabytesOfGarbageLinesAreRejected() throws {
        let h = try Harness()
        var junk = JunkGenerator(state: 2)
        var garbage = junk.bytes(10 << 20)
        for i in 1..<garbage.count where garbage[i] == 0x0A && garbage[i - 1] == 0x0A { garbage[i] = 0x20 }
        if garbage.last == 0x0A { garbage.removeLast() }
        let client = try h.client(timeoutSeconds: 30)
        try client.send(Array("set=1\n".utf8) + garbage + Array("\n\n".utf8))
        #expect(try client.readReply().text.hasPrefix("errno=-"))
        #expect(try h.get() == "errno=0\n\n")
        #expect(h.target.applyCalls == 0)
    }

    @Test func overlongOperationLineCloses() throws {
        let h = try Harness()
        let client = try h.client()
        try client.send(String(repeating: "g", count: 10_000) + "\n\n")
        #expect(try client.readUntilClosed() == "")
        #expect(try h.get() == "errno=0\n\n")
    }

    // MARK: clients that stall or vanish

    @Test func stalledSetTimesOutWithoutBlockingGets() throws {
        let h = try Harness(readTimeout: 3000)
        let stalled = try h.client(timeoutSeconds: 10)
        try stalled.send("set=1\nlisten_port=7777\n")
        usleep(50_000)  // let the server start reading the stalled set
        // A get does not wait for it (nor does a set: aStalledSetDelaysNoOtherSet).
        #expect(try h.get() == "errno=0\n\n")
        #expect(!stalled.hasPendingInput, "the stalled client was closed before the get completed")
        // The stalled set times out and changes nothing.
        #expect(try stalled.readUntilClosed() == "")
        #expect(try h.get() == "errno=0\n\n")
        #expect(h.target.applyCalls == 0)
        #expect(h.logs.waitFor("no data for 3000 ms"))
    }

    /// A set is read whole before it takes the lock other sets need, so a client that stops in
    /// the middle of one delays only itself: another client's set completes while the stalled
    /// one is still connected (far from its 10 s timeout), and the stalled set, once finished,
    /// is applied on top.
    @Test func aStalledSetDelaysNoOtherSet() throws {
        let h = try Harness(readTimeout: 10_000)
        let stalled = try h.client(timeoutSeconds: 15)
        try stalled.send("set=1\nlisten_port=7777\npublic_key=\(peerA)\n")
        usleep(100_000)  // the server is reading the stalled request
        #expect(try h.client(timeoutSeconds: 8).request("set=1\nlisten_port=8888\n\n") == "errno=0\n\n")
        #expect(try h.get() == "listen_port=8888\nerrno=0\n\n")
        #expect(!stalled.hasPendingInput, "the other set waited for the stalled client's timeout")
        // The stalled client goes on; its set was not lost, only later.
        #expect(try stalled.request("allowed_ip=10.0.0.0/8\n\n") == "errno=0\n\n")
        #expect(try h.get() == "listen_port=7777\n" + peerBlock(peerA, allowedIPs: ["10.0.0.0/8"]) + "errno=0\n\n")
        #expect(h.target.applyCalls == 2)
    }

    @Test func clientDroppingMidSetAppliesNothing() throws {
        let h = try Harness()
        do {
            let client = try h.client()
            try client.send("set=1\nlisten_port=4444\nfwmark=12")
        }
        #expect(h.logs.waitFor("set abandoned"))
        #expect(try h.get() == "errno=0\n\n")
        #expect(h.target.applyCalls == 0)
    }

    @Test func stopEndsStalledConnectionsPromptly() throws {
        let h = try Harness(readTimeout: 10_000)
        let stalled = try h.client(timeoutSeconds: 10)
        try stalled.send("set=1\nlisten_port=7777\n")
        usleep(100_000)
        let started = Date()
        h.server.stop()
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(try stalled.readUntilClosed() == "")
        #expect(h.target.applyCalls == 0)
    }

    @Test func stopInterruptsAClientThatNeverPauses() throws {
        let h = try Harness(readTimeout: 10_000)
        let client = try h.client(timeoutSeconds: 10)
        try client.send("set=1\n")
        let finished = DispatchSemaphore(value: 0)
        let fd = client.fd
        try Threads.spawn(name: "test-streamer") {
            let chunk = [UInt8](repeating: 0x41, count: 65536)
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                if chunk.withUnsafeBytes({ Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) < 0 { break }
            }
            finished.signal()
        }
        usleep(200_000)
        let started = Date()
        h.server.stop()
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(finished.wait(timeout: .now() + 10) == .success, "the server closed the connection")
        #expect(h.target.applyCalls == 0)
    }

    // MARK: concurrency

    @Test func twentyConcurrentClients() throws {
        let h = try Harness(readTimeout: 5000)
        let results = Mutex<[Int: (set: String, get: String)]>([:])
        let done = DispatchSemaphore(value: 0)
        for i in 0..<20 {
            let path = h.server.socketPath
            try Threads.spawn(name: "test-client") {
                var outcome = (set: "", get: "")
                if let client = try? TestClient(path: path, timeoutSeconds: 10) {
                    let body = "public_key=\(keyHex(UInt8(i + 1)))\nallowed_ip=10.77.\(i).0/24\n"
                    outcome.set = (try? client.request("set=1\n" + body + "\n")) ?? "failed"
                    outcome.get = (try? client.request("get=1\n\n")) ?? "failed"
                }
                results.withLock { $0[i] = outcome }
                done.signal()
            }
        }
        for _ in 0..<20 { #expect(done.wait(timeout: .now() + 30) == .success) }
        let all = results.withLock { $0 }
        #expect(all.count == 20)
        for (_, outcome) in all {
            #expect(outcome.set == "errno=0\n\n")
            #expect(outcome.get.hasSuffix("errno=0\n\n"))
        }
        let peers = h.target.configuration.peers
        #expect(peers.count == 20)
        for i in 0..<20 {
            let peer = peers.first { KeyEncoding.hex($0.publicKey.bytes) == keyHex(UInt8(i + 1)) }
            #expect(peer?.allowedIPs.map(\.description) == ["10.77.\(i).0/24"])
        }
        #expect(h.target.applyCalls == 20)
    }

    @Test func connectionsBeyondTheLimitWaitTheirTurn() throws {
        let h = try Harness(readTimeout: 1000, maxConnections: 2)
        var idle = try [h.client(), h.client()]
        // Two idle clients hold both slots; the third waits in the backlog, then is served once
        // one of them goes.
        let third = try h.client()
        try third.send("get=1\n\n")
        idle.removeFirst()
        #expect(try third.readReply().text == "errno=0\n\n")
        _ = idle
    }

    /// Stalled clients that take every slot (one silent, one half-way through a set) must not
    /// make the next client wait for their read timeout: while it waits, they are cut once they
    /// have been silent for the busy timeout, and the half set is not applied.
    @Test func stalledClientsHoldingEverySlotAreCutForAWaitingOne() throws {
        let h = try Harness(readTimeout: 10_000, busyIdleTimeout: 300, maxConnections: 2)
        let connected = Date()
        let silent = try h.client(timeoutSeconds: 15)
        let halfSet = try h.client(timeoutSeconds: 15)
        try halfSet.send("set=1\nlisten_port=7777\n")
        usleep(100_000)  // both taken by the server
        let waiting = try h.client(timeoutSeconds: 8)
        #expect(try waiting.request("get=1\n\n") == "errno=0\n\n")
        let waited = Date().timeIntervalSince(connected)
        #expect(waited < 5, "the waiting client was served \(waited) s later: it waited for the read timeout")
        #expect(waited >= 0.3, "served after \(waited) s: the stalled clients were cut before the busy timeout")
        // Both stalled clients were closed on (nothing sent to them), and the half set changed nothing.
        #expect(try silent.readUntilClosed() == "")
        #expect(try halfSet.readUntilClosed() == "")
        #expect(Date().timeIntervalSince(connected) < 5)
        #expect(h.logs.waitFor("connections taken and clients waiting: cut"))
        #expect(h.logs.waitFor("set abandoned, nothing applied: cut: silent for 300 ms"))
        #expect(h.target.applyCalls == 0)
        #expect(try h.get() == "errno=0\n\n")
    }

    /// The busy timeout applies only while every slot is taken and someone waits: a silent client
    /// alone, or holding the last slot with no one behind it, keeps its connection until the read
    /// timeout, and can still finish its request.
    @Test func silentClientsAreNotCutWhileNoOneWaits() throws {
        let h = try Harness(readTimeout: 10_000, busyIdleTimeout: 200, maxConnections: 2)
        let first = try h.client(timeoutSeconds: 15)
        let second = try h.client(timeoutSeconds: 15)
        try second.send("set=1\n")
        usleep(800_000)  // four busy timeouts, all slots taken, nobody waiting
        #expect(!first.hasPendingInput, "a silent client was cut with no one waiting")
        #expect(!second.hasPendingInput, "a client mid-set was cut with no one waiting")
        #expect(try second.request("listen_port=4242\n\n") == "errno=0\n\n")
        #expect(try first.request("get=1\n\n") == "listen_port=4242\nerrno=0\n\n")
        #expect(!h.logs.all.contains { $0.contains("cut") })
    }

    /// A client busy with its request (here streaming a large set without pause) is not silent
    /// and is never cut, even while others wait for its slot.
    @Test func aClientThatKeepsSendingIsNotCut() throws {
        let h = try Harness(readTimeout: 10_000, busyIdleTimeout: 500, maxConnections: 1)
        // 40,000 allowed IPs for one peer, in lines of ~30 bytes, sent over about 1.5 s.
        var body = "public_key=\(keyHex(5))\n"
        for i in 0..<40_000 { body += "allowed_ip=fd00:77::\(String(i, radix: 16))/128\n" }
        let bytes = Array(body.utf8)
        let streaming = try h.client(timeoutSeconds: 15)
        try streaming.send("set=1\n")
        let fd = streaming.fd
        let finished = DispatchSemaphore(value: 0)
        try Threads.spawn(name: "test-streamer") {
            var done = 0
            while done < bytes.count {
                let n = min(16_384, bytes.count - done)
                let count = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + done, n, Int32(MSG_NOSIGNAL)) }
                if count <= 0 { break }
                done += count
                usleep(20_000)
            }
            finished.signal()
        }
        usleep(100_000)
        let waiting = try h.client(timeoutSeconds: 15)
        try waiting.send("get=1\n\n")
        #expect(finished.wait(timeout: .now() + 20) == .success)
        #expect(try streaming.request("\n") == "errno=0\n\n", "the streaming client was cut")
        // Silent now, with the other client still waiting: cut, and the other served.
        #expect(try streaming.readUntilClosed() == "")
        #expect(try waiting.readReply().text.hasSuffix("allowed_ip=fd00:77::9c3f/128\nerrno=0\n\n"))
    }

    // MARK: the socket file

    @Test func secondServerOnSameNameIsAlreadyRunning() throws {
        let h = try Harness()
        #expect(throws: UAPIServerError.alreadyRunning(h.server.socketPath)) {
            _ = try UAPIServer(interface: "wgtest0", directory: h.directory, target: FakeTarget())
        }
        #expect(try h.set("listen_port=9") == "errno=0\n\n")
        #expect(try h.get() == "listen_port=9\nerrno=0\n\n")
    }

    @Test func staleSocketIsReplaced() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "/wgtest0.sock"
        let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { bytes in
            for (i, byte) in path.utf8.enumerated() { bytes[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(stale, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        close(stale)
        #expect(access(path, F_OK) == 0)

        let target = FakeTarget()
        let server = try UAPIServer(interface: "wgtest0", directory: root, target: target)
        try server.start()
        defer { server.stop() }
        #expect(try TestClient(path: path).request("get=1\n\n") == "errno=0\n\n")
    }

    @Test func invalidNamesAreRejected() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        for name in ["a/b", "", "sixteen-chars-xx", "../wg0"] {
            #expect(throws: UAPIServerError.invalidName(name)) {
                _ = try UAPIServer(interface: name, directory: root, target: FakeTarget())
            }
        }
        // Fifteen bytes is IFNAMSIZ - 1: fine.
        let server = try UAPIServer(interface: "fifteen-chars-x", directory: root, target: FakeTarget())
        server.stop()
    }

    @Test func socketIs0700AndDirectoryIs0755() throws {
        let h = try Harness()
        var info = stat()
        #expect(lstat(h.server.socketPath, &info) == 0)
        #expect(info.st_mode & S_IFMT == S_IFSOCK)
        #expect(info.st_mode & 0o7777 == 0o700)
        #expect(stat(h.directory, &info) == 0)
        #expect(info.st_mode & 0o7777 == 0o755)
        #expect(h.server.socketPath == h.directory + "/wgtest0.sock")
    }

    @Test func deletingTheSocketFiresTheCallback() throws {
        let fired = DispatchSemaphore(value: 0)
        let server = Mutex<UAPIServer?>(nil)
        let h = try Harness {
            // The daemon shuts down from here: stop() must not deadlock on the accept thread.
            server.withLock { $0 }?.stop()
            fired.signal()
        }
        server.withLock { $0 = h.server }
        #expect(unlink(h.server.socketPath) == 0)
        #expect(fired.wait(timeout: .now() + 5) == .success)
        server.withLock { $0 = nil }
    }

    @Test func renamingTheSocketFiresTheCallback() throws {
        let fired = DispatchSemaphore(value: 0)
        let h = try Harness { fired.signal() }
        #expect(rename(h.server.socketPath, h.directory + "/moved.sock") == 0)
        #expect(fired.wait(timeout: .now() + 5) == .success)
    }

    @Test func stopRemovesTheSocketAndDoesNotFireTheCallback() throws {
        let fired = Flag()
        let h = try Harness { fired.raise() }
        #expect(try h.get() == "errno=0\n\n")
        h.server.stop()
        #expect(access(h.server.socketPath, F_OK) != 0)
        #expect(throws: ClientError.self) { _ = try h.client() }
        usleep(50_000)
        #expect(!fired.isRaised)
    }

    @Test func stopLeavesASuccessorsSocketAlone() throws {
        let h = try Harness()
        #expect(unlink(h.server.socketPath) == 0)
        let successor = try UAPIServer(interface: "wgtest0", directory: h.directory, target: FakeTarget())
        try successor.start()
        h.server.stop()
        #expect(try TestClient(path: successor.socketPath).request("get=1\n\n") == "errno=0\n\n")
        successor.stop()
    }

    // MARK: who may connect

    /// Needs root, to run the client as another user (uid 65534); the 0700 socket is opened up so
    /// that only SO_PEERCRED stands between that user and the device.
    @Test(.enabled(if: geteuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0 && access("/usr/bin/python3", X_OK) == 0,
                   "needs root, setpriv (util-linux) and /usr/bin/python3 to connect as uid 65534"))
    func otherUsersAreClosedWithoutReply() throws {
        let h = try Harness()
        #expect(chmod(h.server.socketPath, 0o777) == 0)
        let script = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(sys.argv[1])
            try:
                s.sendall(b"get=1\\n\\n")
                data = s.recv(4096)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            print("closed" if data == b"" else "reply:" + data.decode(errors="replace"))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script, h.server.socketPath]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        try process.run()
        if finished.wait(timeout: .now() + 20) != .success { process.terminate() }
        // Foundation's Process is in a reference cycle with its run-loop source until
        // waitUntilExit clears it (LeakSanitizer reports it otherwise: scripts/sanitize).
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == "closed")
        #expect(h.logs.waitFor("refused a connection from uid 65534"))
    }
}
