import Testing
import Crypto
@testable import Protocol

/// Under load the responder spends no DH on a sender until it proves its address (mac2).
@Suite struct CookieLoadTests {
    @Test func initiationUnderLoadGetsACookieThenTheRetryIsAccepted() throws {
        let (a, b) = makePair()
        let first = try #require(a.initiation(to: b, now: .zero))
        let (refused, _, cookieReply) = b.receive(first, from: a, underLoad: true, now: .zero)
        guard case .reply(64, nil) = refused else { Issue.record("expected a cookie reply, got \(refused)"); return }
        #expect(Messages.classify(cookieReply.withUnsafeBytes { $0 }) == .cookieReply)
        // The responder did no handshake work for it.
        #expect(b.peer(a).keypairs.next == nil)

        guard case .cookieStored(let peer) = a.receive(cookieReply, from: b, now: .zero).outcome else { Issue.record("cookie refused"); return }
        #expect(peer === a.peer(b))

        // The retry (after REKEY_TIMEOUT, as the retransmit timer would) carries mac2.
        let retry = try #require(a.initiation(to: b, now: .seconds(5.2), isRetry: true))
        #expect(retry[InitiationLayout.mac2...].contains { $0 != 0 })
        let (accepted, _, response) = b.receive(retry, from: a, underLoad: true, now: .seconds(5.2))
        guard case .reply(92, _) = accepted else { Issue.record("retry refused: \(accepted)"); return }
        guard case .sessionReady = a.receive(response, from: b, now: .seconds(5.2)).outcome else { Issue.record("no session"); return }
    }

    @Test func notUnderLoadNoCookieIsNeeded() throws {
        let (a, b) = makePair()
        let initiation = try #require(a.initiation(to: b, now: .zero))
        #expect(initiation[InitiationLayout.mac2...].allSatisfy { $0 == 0 })
        guard case .reply(92, _) = b.receive(initiation, from: a, underLoad: false, now: .zero).outcome else { Issue.record("refused"); return }
    }

    @Test func cookieIsBoundToTheSourceAddress() throws {
        let (a, b) = makePair()
        let first = try #require(a.initiation(to: b, now: .zero))
        let cookieReply = b.receive(first, from: a, underLoad: true, now: .zero).reply
        a.receive(cookieReply, from: b, now: .zero)
        let retry = try #require(a.initiation(to: b, now: .seconds(6), isRetry: true))
        // Replayed from another address, the mac2 proves nothing: another cookie reply.
        let thief = Side(endpoint: "203.0.113.13:999", inner4: "192.0.2.13", inner6: "fd00::13")
        guard case .reply(64, nil) = b.receive(retry, from: thief, underLoad: true, now: .seconds(6)).outcome else {
            Issue.record("mac2 accepted from another address"); return
        }
    }

    @Test func cookieReplyIsOnlyAcceptedForTheLastMessageSent() throws {
        let (a, b) = makePair()
        let first = try #require(a.initiation(to: b, now: .zero))
        var cookieReply = b.receive(first, from: a, underLoad: true, now: .zero).reply
        var tampered = cookieReply
        tampered[40] ^= 1
        #expect(a.receive(tampered, from: b, now: .zero).outcome.dropReason == .cookie(.decryptionFailed))
        guard case .cookieStored = a.receive(cookieReply, from: b, now: .zero).outcome else { Issue.record("refused"); return }
        #expect(a.receive(cookieReply, from: b, now: .zero).outcome.dropReason == .cookie(.unexpected))
        cookieReply[4] ^= 1  // unknown receiver index
        #expect(a.receive(cookieReply, from: b, now: .zero).outcome.dropReason == .unknownIndex)
    }

    @Test func rateLimiterCapsAProvenSourceUnderLoad() throws {
        let (a, b) = makePair()
        let first = try #require(a.initiation(to: b, now: .zero))
        a.receive(b.receive(first, from: a, underLoad: true, now: .zero).reply, from: b, now: .zero)
        // Initiations with good cookies from one source, 21 ms apart as b sees them (just past the
        // per-peer flood limit): about 47/s against a budget of a burst of 5 plus 20/s.
        var accepted = 0, limited = 0
        let count = 20
        for i in 0..<count {
            let t = Instant.seconds(5.0 + 5.0 * Double(i))   // a's own one-per-REKEY_TIMEOUT limit
            let retry = try #require(a.initiation(to: b, now: t, wallClock: wall(Double(i) + 10), isRetry: true))
            switch b.receive(retry, from: a, underLoad: true, now: .seconds(1 + 0.021 * Double(i))).outcome.dropReason {
            case nil: accepted += 1
            case .rateLimited?: limited += 1
            case let other?: Issue.record("unexpected drop \(other)")
            }
            if i < WireGuard.packetsBurstPerSource { #expect(limited == 0, "the burst passes whole") }
        }
        let elapsed = 0.021 * Double(count - 1)
        #expect(limited > 0)
        #expect(accepted <= WireGuard.packetsBurstPerSource + Int(elapsed * Double(WireGuard.packetsPerSecondPerSource)) + 1,
                "accepted \(accepted) of \(count)")
    }
}
