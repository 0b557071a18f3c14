import Crypto
import Glibc
import Protocol
import Synchronization
import Testing
@testable import Supervisor

/// The resolver for real: "localhost" comes from /etc/hosts; ".invalid" never resolves
/// (RFC 6761), whatever the DNS server (none, or one that answers NXDOMAIN).
@Suite("Endpoint resolver")
struct EndpointResolverTests {
    static let loopbacks: Set<IPAddress> = [IPAddress("127.0.0.1")!, IPAddress("::1")!]

    @Test func localhostResolvesToALoopbackAddress() throws {
        let endpoint = try EndpointResolver.resolve(host: "localhost", port: 51820)
        #expect(Self.loopbacks.contains(endpoint.address))
        #expect(endpoint.port == 51820)
    }

    @Test func aNameThatCannotExistIsAnError() {
        #expect {
            try EndpointResolver.resolve(host: "nonexistent.invalid", port: 1)
        } throws: { error in
            guard case .lookup(let host, let code, let message)? = error as? ResolveError else { return false }
            return host == "nonexistent.invalid" && code != 0 && !message.isEmpty
        }
    }

    @Test func theThreadReportsTheAnswerAndStops() throws {
        let changes = Mutex<[Endpoint]>([])
        let resolver = try ResolverThread { _, endpoint in changes.withLock { $0.append(endpoint) } }
        try resolver.start()
        let peer = HostEndpointPeer(interface: "wg0", peer: PrivateKey.generate().publicKey)
        resolver.set([HostEndpoint(peer: peer, host: "localhost", port: 51820)])
        for _ in 0..<500 where changes.withLock({ $0.isEmpty }) { usleep(10_000) }
        resolver.stop()
        let reported = changes.withLock { $0 }
        #expect(reported.count == 1)
        #expect(reported.allSatisfy { Self.loopbacks.contains($0.address) && $0.port == 51820 })
    }

    /// A fake resolver that answers a new address every time, with a schedule of milliseconds:
    /// changes keep coming until stop(), and none after it returns.
    @Test func noChangeIsReportedAfterStop() throws {
        let calls = Mutex(0)
        let changes = Mutex(0)
        var policy = ResolveSchedule.Policy()
        policy.resolveInterval = .milliseconds(1)
        policy.staleHandshake = .zero
        let resolver = try ResolverThread(policy: policy, resolve: { _, port throws(ResolveError) in
            let n = calls.withLock { $0 += 1; return $0 }
            return Endpoint(address: IPAddress("192.0.2.1")!, port: UInt16(truncatingIfNeeded: n) | 1)
        }) { _, _ in changes.withLock { $0 += 1 } }
        try resolver.start()
        resolver.set([HostEndpoint(peer: HostEndpointPeer(interface: "wg0", peer: PrivateKey.generate().publicKey), host: "peer.invalid", port: 1)])
        for _ in 0..<500 where changes.withLock({ $0 < 5 }) { usleep(10_000) }
        resolver.stop()
        let atStop = changes.withLock { $0 }
        usleep(50_000)
        #expect(atStop >= 5)
        #expect(changes.withLock { $0 } == atStop)
    }

    @Test func failuresAreRetriedAndLoggedOnce() throws {
        let calls = Mutex(0)
        let logged = Mutex<[String]>([])
        var policy = ResolveSchedule.Policy()
        policy.firstRetry = .milliseconds(5)
        policy.maximumRetry = .milliseconds(5)
        let resolver = try ResolverThread(policy: policy, resolve: { host, _ throws(ResolveError) in
            calls.withLock { $0 += 1 }
            throw .lookup(host: host, code: EAI_AGAIN, message: "Temporary failure in name resolution")
        }, log: { line in logged.withLock { $0.append(line) } }) { _, _ in }
        try resolver.start()
        resolver.set([HostEndpoint(peer: HostEndpointPeer(interface: "wg0", peer: PrivateKey.generate().publicKey), host: "peer.invalid", port: 1)])
        for _ in 0..<500 where calls.withLock({ $0 < 4 }) { usleep(10_000) }
        resolver.stop()
        #expect(calls.withLock { $0 } >= 4)
        let lines = logged.withLock { $0 }
        #expect(lines.count == 1)
        #expect(lines.first?.contains("peer.invalid: Temporary failure") == true)
    }
}
