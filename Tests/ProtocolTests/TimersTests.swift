import Testing
@testable import Protocol

/// PeerTimers against the contract of the kernel's drivers/net/wireguard/timers.c, driven by a
/// fake clock: every `now` is an `Instant` advanced by hand, nothing reads the real clock.
@Suite("PeerTimers")
struct TimersTests {
    /// An arbitrary, non-zero origin, so that nothing passes by accident because time starts at 0.
    static let t0 = Instant(nanoseconds: 7_000_000_000_000)
    static let jitter: Duration = .milliseconds(100)
    static let oneNanosecond: Duration = .nanoseconds(1)

    var t0: Instant { Self.t0 }
    var jitter: Duration { Self.jitter }

    /// The moment just before `instant`.
    static func justBefore(_ instant: Instant) -> Instant { Instant(nanoseconds: instant.nanoseconds - 1) }

    // MARK: retransmit handshake

    @Test func retransmitIsArmedAtRekeyTimeoutPlusJitter() {
        var timers = PeerTimers()
        timers.handshakeInitiated(now: t0, jitter: jitter)
        #expect(timers.nextDeadline == t0 + .milliseconds(5_100))
        #expect(timers.expire(now: t0 + .seconds(5)) == [])
        #expect(timers.expire(now: Self.justBefore(t0 + .milliseconds(5_100))) == [])
        #expect(timers.handshakeAttempts == 0)
        #expect(timers.expire(now: t0 + .milliseconds(5_100)) == .retransmitInitiation)
        #expect(timers.handshakeAttempts == 1)
        // The timer is one-shot: only a new initiation re-arms it.
        #expect(timers.nextDeadline == nil)
        #expect(timers.expire(now: t0 + .seconds(60)) == [])
        #expect(timers.handshakeAttempts == 1)
    }

    @Test func retransmitWithoutJitterIsExactlyRekeyTimeout() {
        var timers = PeerTimers()
        timers.handshakeInitiated(now: t0, jitter: .zero)
        #expect(timers.nextDeadline == t0 + WireGuard.rekeyTimeout)
        #expect(timers.expire(now: Self.justBefore(t0 + .seconds(5))) == [])
        #expect(timers.expire(now: t0 + .seconds(5)) == .retransmitInitiation)
    }

    @Test func aLateExpiryStillFiresOnce() {
        var timers = PeerTimers()
        timers.handshakeInitiated(now: t0, jitter: jitter)
        // The data plane may wake up late; what is overdue fires once.
        #expect(timers.expire(now: t0 + .seconds(30)) == .retransmitInitiation)
        #expect(timers.expire(now: t0 + .seconds(31)) == [])
    }

    @Test func reInitiatingMovesTheRetransmitDeadline() {
        var timers = PeerTimers()
        timers.handshakeInitiated(now: t0, jitter: jitter)
        // Unlike dataSent, handshakeInitiated is mod_timer: a later initiation replaces the deadline.
        timers.handshakeInitiated(now: t0 + .seconds(2), jitter: .milliseconds(200))
        #expect(timers.nextDeadline == t0 + .milliseconds(7_200))
        #expect(timers.expire(now: t0 + .milliseconds(5_100)) == [])
        #expect(timers.expire(now: t0 + .milliseconds(7_200)) == .retransmitInitiation)
    }

    @Test func attemptsCountEachRetry() {
        var timers = PeerTimers()
        var now = t0
        timers.handshakeRequested(isRetry: false)
        timers.handshakeInitiated(now: now, jitter: jitter)
        for retry in 1...6 {
            now = now + .milliseconds(5_100)
            #expect(timers.expire(now: now) == .retransmitInitiation)
            #expect(timers.handshakeAttempts == retry)
            timers.handshakeRequested(isRetry: true)
            #expect(timers.handshakeAttempts == retry, "a retry must not reset the count")
            timers.handshakeInitiated(now: now, jitter: jitter)
        }
    }

    /// Drives one handshake that never gets an answer, as the peer does it: the first initiation,
    /// then on every `.retransmitInitiation` another (isRetry: true) initiation, until give-up.
    /// Returns the number of retries and the give-up time.
    static func runUnansweredHandshake(_ timers: inout PeerTimers, from start: Instant,
                                       jitter: Duration) -> (retries: Int, initiations: Int, gaveUpAt: Instant)? {
        var now = start
        timers.handshakeRequested(isRetry: false)
        timers.anyAuthenticatedPacketTraversal(now: now)
        timers.anyAuthenticatedPacketSent()
        timers.handshakeInitiated(now: now, jitter: jitter)
        var initiations = 1
        var retries = 0
        while retries < 100 {
            guard let deadline = timers.nextDeadline, deadline == now + WireGuard.rekeyTimeout + jitter else {
                Issue.record("retransmit not armed at REKEY_TIMEOUT + jitter after initiation \(initiations)")
                return nil
            }
            if timers.expire(now: justBefore(deadline)) != [] {
                Issue.record("something fired before the retransmit deadline")
                return nil
            }
            now = deadline
            let actions = timers.expire(now: now)
            if actions.contains(.giveUpHandshake) {
                #expect(actions == .giveUpHandshake)
                return (retries, initiations, now)
            }
            guard actions == .retransmitInitiation else {
                Issue.record("expected a retransmit, got \(actions.rawValue)")
                return nil
            }
            retries += 1
            #expect(timers.handshakeAttempts == retries)
            timers.handshakeRequested(isRetry: true)
            timers.anyAuthenticatedPacketTraversal(now: now)
            timers.anyAuthenticatedPacketSent()
            timers.handshakeInitiated(now: now, jitter: jitter)
            initiations += 1
        }
        Issue.record("never gave up")
        return nil
    }

    /// Verified against torvalds/linux drivers/net/wireguard/timers.c, wg_expired_retransmit_handshake:
    /// `if (peer->timer_handshake_attempts > MAX_TIMER_HANDSHAKES) { ...give up... } else {
    /// ++peer->timer_handshake_attempts; ...wg_packet_send_queued_handshake_initiation(peer, true); }`
    /// with MAX_TIMER_HANDSHAKES = 90 / 5 = 18 and the counter starting at 0 (reset by
    /// send_queued_handshake_initiation(peer, false)). Expiries 1…19 see attempts 0…18 and retry;
    /// the 20th sees 19 > 18 and gives up: 19 retries, 20 initiations in all, which is what the
    /// kernel's own debug message prints ("did not complete after %d attempts", MAX_TIMER_HANDSHAKES + 2).
    @Test func givesUpAfterNineteenRetriesTwentyInitiations() throws {
        var timers = PeerTimers()
        let result = try #require(Self.runUnansweredHandshake(&timers, from: t0, jitter: jitter))
        #expect(result.retries == 19)
        #expect(result.initiations == 20)
        #expect(result.retries == WireGuard.maxHandshakeAttempts + 1)
        // Twenty periods of REKEY_TIMEOUT + jitter from the first initiation to the give-up.
        #expect(result.gaveUpAt - t0 == (WireGuard.rekeyTimeout + jitter) * 20)
        #expect(result.gaveUpAt - t0 == .milliseconds(102_000))
    }

    @Test func giveUpArmsZeroKeyMaterialFor540Seconds() throws {
        var timers = PeerTimers()
        let result = try #require(Self.runUnansweredHandshake(&timers, from: t0, jitter: jitter))
        let wipeAt = result.gaveUpAt + .seconds(540)
        #expect(WireGuard.rejectAfterTime * 3 == .seconds(540))
        #expect(timers.nextDeadline == wipeAt)
        #expect(timers.expire(now: Self.justBefore(wipeAt)) == [])
        #expect(timers.expire(now: wipeAt) == .wipeKeyMaterial)
        #expect(timers.nextDeadline == nil)
        #expect(timers.expire(now: wipeAt + .seconds(3_600)) == [])
    }

    @Test func giveUpKeepsAnAlreadyArmedZeroKeyMaterialDeadline() throws {
        var timers = PeerTimers()
        // A session derived at t0: its keys are due to be wiped at t0 + 540 s.
        timers.sessionDerived(now: t0)
        let result = try #require(Self.runUnansweredHandshake(&timers, from: t0 + .seconds(1), jitter: jitter))
        #expect(result.retries == 19)
        // `if (!timer_pending(&peer->timer_zero_key_material))`: the give-up must not push it back.
        #expect(timers.nextDeadline == t0 + .seconds(540))
        #expect(timers.expire(now: Self.justBefore(t0 + .seconds(540))) == [])
        #expect(timers.expire(now: t0 + .seconds(540)) == .wipeKeyMaterial)
        #expect(timers.nextDeadline == nil)
    }

    @Test func giveUpCancelsAPendingKeepalive() throws {
        var timers = PeerTimers()
        var now = t0
        timers.handshakeRequested(isRetry: false)
        timers.handshakeInitiated(now: now, jitter: jitter)
        for _ in 0..<19 {
            now = now + .milliseconds(5_100)
            #expect(timers.expire(now: now) == .retransmitInitiation)
            timers.handshakeRequested(isRetry: true)
            timers.handshakeInitiated(now: now, jitter: jitter)
        }
        #expect(timers.handshakeAttempts == 19)
        // Data arrives (say, on an old session) just before the last retransmit deadline.
        timers.dataReceived(now: now + .seconds(1))
        now = now + .milliseconds(5_100)
        #expect(timers.expire(now: now) == .giveUpHandshake)
        // del_timer(&peer->timer_send_keepalive): only the zero-key-material timer is left.
        #expect(timers.nextDeadline == now + .seconds(540))
        #expect(timers.expire(now: now + .seconds(60)) == [])
    }

    @Test func aNewHandshakeAfterGiveUpStartsCountingAgain() throws {
        var timers = PeerTimers()
        let first = try #require(Self.runUnansweredHandshake(&timers, from: t0, jitter: jitter))
        #expect(timers.handshakeAttempts == 19)
        // New traffic later asks for a handshake (not a retry): the full round of retries again.
        let second = try #require(Self.runUnansweredHandshake(&timers, from: first.gaveUpAt + .seconds(10), jitter: .zero))
        #expect(second.retries == 19)
        #expect(second.gaveUpAt - (first.gaveUpAt + .seconds(10)) == .seconds(100))
    }

    @Test func handshakeCompleteCancelsRetransmitAndResetsAttempts() {
        var timers = PeerTimers()
        var now = t0
        timers.handshakeRequested(isRetry: false)
        timers.handshakeInitiated(now: now, jitter: jitter)
        for _ in 0..<3 {
            now = now + .milliseconds(5_100)
            #expect(timers.expire(now: now) == .retransmitInitiation)
            timers.handshakeRequested(isRetry: true)
            timers.handshakeInitiated(now: now, jitter: jitter)
        }
        #expect(timers.handshakeAttempts == 3)
        timers.handshakeComplete()
        #expect(timers.handshakeAttempts == 0)
        #expect(timers.nextDeadline == nil)
        #expect(timers.expire(now: now + .seconds(600)) == [])
    }

    @Test func handshakeRequestedResetsAttemptsOnlyWhenNotARetry() {
        var timers = PeerTimers()
        var now = t0
        timers.handshakeInitiated(now: now, jitter: jitter)
        for _ in 0..<4 {
            now = now + .milliseconds(5_100)
            _ = timers.expire(now: now)
            timers.handshakeInitiated(now: now, jitter: jitter)
        }
        #expect(timers.handshakeAttempts == 4)
        timers.handshakeRequested(isRetry: true)
        #expect(timers.handshakeAttempts == 4)
        timers.handshakeRequested(isRetry: false)
        #expect(timers.handshakeAttempts == 0)
        // Resetting the count does not touch the armed retransmit.
        #expect(timers.nextDeadline == now + .milliseconds(5_100))
    }

    // MARK: send keepalive

    @Test func dataReceivedArmsKeepaliveAtKeepaliveTimeout() {
        var timers = PeerTimers()
        timers.dataReceived(now: t0)
        #expect(timers.nextDeadline == t0 + WireGuard.keepaliveTimeout)
        #expect(timers.nextDeadline == t0 + .seconds(10))
        #expect(timers.expire(now: Self.justBefore(t0 + .seconds(10))) == [])
        #expect(timers.expire(now: t0 + .seconds(10)) == .sendKeepalive)
        #expect(timers.nextDeadline == nil)
        #expect(timers.expire(now: t0 + .seconds(100)) == [])
    }

    @Test func sendingAnythingAuthenticatedCancelsTheKeepalive() {
        var timers = PeerTimers()
        timers.dataReceived(now: t0)
        timers.anyAuthenticatedPacketSent()
        #expect(timers.nextDeadline == nil)
        #expect(timers.expire(now: t0 + .seconds(10)) == [])
        #expect(timers.expire(now: t0 + .seconds(20)) == [])
    }

    @Test func moreDataWhileArmedSendsExactlyOneMoreKeepalive() {
        var timers = PeerTimers()
        timers.dataReceived(now: t0)
        timers.dataReceived(now: t0 + .seconds(4))
        timers.dataReceived(now: t0 + .seconds(6))
        // The first deadline stays: data_received only arms a timer that is not pending.
        #expect(timers.nextDeadline == t0 + .seconds(10))
        #expect(timers.expire(now: Self.justBefore(t0 + .seconds(10))) == [])
        #expect(timers.expire(now: t0 + .seconds(10)) == .sendKeepalive)
        // need_another_keepalive: re-armed for another KEEPALIVE_TIMEOUT from the expiry.
        #expect(timers.nextDeadline == t0 + .seconds(20))
        #expect(timers.expire(now: Self.justBefore(t0 + .seconds(20))) == [])
        #expect(timers.expire(now: t0 + .seconds(20)) == .sendKeepalive)
        // ...exactly once, however many packets came in.
        #expect(timers.nextDeadline == nil)
        #expect(timers.expire(now: t0 + .seconds(30)) == [])
        #expect(timers.expire(now: t0 + .seconds(300)) == [])
    }

    @Test func theReArmIsCountedFromTheExpiryNotTheDeadline() {
        var timers = PeerTimers()
        timers.dataReceived(now: t0)
        timers.dataReceived(now: t0 + .seconds(1))
        // Woken late, at +13 s: the next keepalive is due 10 s after that.
        #expect(timers.expire(now: t0 + .seconds(13)) == .sendKeepalive)
        #expect(timers.nextDeadline == t0 + .seconds(23))
    }

    @Test func dataAfterTheKeepaliveFiredArmsAFreshOne() {
        var timers = PeerTimers()
        timers.dataReceived(now: t0)
        #expect(timers.expire(now: t0 + .seconds(10)) == .sendKeepalive)
        timers.dataReceived(now: t0 + .seconds(12))
        #expect(timers.nextDeadline == t0 + .seconds(22))
        #expect(timers.expire(now: t0 + .seconds(22)) == .sendKeepalive)
        #expect(timers.nextDeadline == nil)
    }

    // MARK: new handshake

    @Test func dataSentArmsNewHandshakeOnceAtKeepalivePlusRekeyTimeoutPlusJitter() {
        var timers = PeerTimers()
        timers.dataSent(now: t0, jitter: jitter)
        let due = t0 + .milliseconds(15_100)
        #expect(timers.nextDeadline == due)
        // Not re-armed while pending: the first deadline stays.
        timers.dataSent(now: t0 + .seconds(7), jitter: .milliseconds(300))
        timers.dataSent(now: t0 + .seconds(14), jitter: .zero)
        #expect(timers.nextDeadline == due)
        #expect(timers.expire(now: Self.justBefore(due)) == [])
        #expect(timers.expire(now: due) == .newHandshake)
        #expect(timers.nextDeadline == nil)
        #expect(timers.expire(now: due + .seconds(60)) == [])
    }

    @Test func anAuthenticatedPacketReceivedCancelsTheNewHandshake() {
        var timers = PeerTimers()
        timers.dataSent(now: t0, jitter: jitter)
        timers.anyAuthenticatedPacketReceived()
        #expect(timers.nextDeadline == nil)
        #expect(timers.expire(now: t0 + .seconds(16)) == [])
        // The next packet sent arms it again, from its own time.
        timers.dataSent(now: t0 + .seconds(20), jitter: .zero)
        #expect(timers.nextDeadline == t0 + .seconds(35))
        #expect(timers.expire(now: t0 + .seconds(35)) == .newHandshake)
    }

    @Test func receivingDoesNotTouchTheOtherTimers() {
        var timers = PeerTimers()
        timers.dataReceived(now: t0)
        timers.anyAuthenticatedPacketReceived()
        #expect(timers.nextDeadline == t0 + .seconds(10))
        timers.anyAuthenticatedPacketSent()
        timers.dataSent(now: t0, jitter: .zero)
        timers.anyAuthenticatedPacketSent()
        #expect(timers.nextDeadline == t0 + .seconds(15))
    }

    // MARK: zero key material

    @Test func sessionDerivedArmsZeroKeyMaterialAndReDerivingPushesItBack() {
        var timers = PeerTimers()
        timers.sessionDerived(now: t0)
        #expect(timers.nextDeadline == t0 + .seconds(540))
        timers.sessionDerived(now: t0 + .seconds(100))
        #expect(timers.nextDeadline == t0 + .seconds(640))
        #expect(timers.expire(now: t0 + .seconds(540)) == [])
        #expect(timers.expire(now: Self.justBefore(t0 + .seconds(640))) == [])
        #expect(timers.expire(now: t0 + .seconds(640)) == .wipeKeyMaterial)
        #expect(timers.nextDeadline == nil)
        #expect(timers.expire(now: t0 + .seconds(2_000)) == [])
    }

    // MARK: persistent keepalive

    @Test func persistentKeepaliveOffNeverFires() {
        var timers = PeerTimers()
        #expect(timers.persistentKeepaliveInterval == 0)
        timers.anyAuthenticatedPacketTraversal(now: t0)
        timers.persistentKeepaliveChanged(now: t0)
        #expect(timers.nextDeadline == nil)
        for hour in 1...24 {
            #expect(timers.expire(now: t0 + .seconds(3_600 * hour)) == [])
        }
    }

    @Test func persistentKeepaliveFiresAtTheIntervalAfterTraffic() {
        var timers = PeerTimers()
        timers.persistentKeepaliveInterval = 25
        timers.anyAuthenticatedPacketTraversal(now: t0)
        #expect(timers.nextDeadline == t0 + .seconds(25))
        #expect(timers.expire(now: Self.justBefore(t0 + .seconds(25))) == [])
        #expect(timers.expire(now: t0 + .seconds(25)) == .sendKeepalive)
        // One-shot: the keepalive it causes is traffic, and that re-arms it.
        #expect(timers.nextDeadline == nil)
        timers.anyAuthenticatedPacketTraversal(now: t0 + .seconds(25))
        #expect(timers.nextDeadline == t0 + .seconds(50))
    }

    @Test func trafficPushesThePersistentKeepaliveBack() {
        var timers = PeerTimers()
        timers.persistentKeepaliveInterval = 25
        timers.anyAuthenticatedPacketTraversal(now: t0)
        timers.anyAuthenticatedPacketTraversal(now: t0 + .seconds(10))
        #expect(timers.nextDeadline == t0 + .seconds(35))
        #expect(timers.expire(now: t0 + .seconds(25)) == [])
        #expect(timers.expire(now: Self.justBefore(t0 + .seconds(35))) == [])
        #expect(timers.expire(now: t0 + .seconds(35)) == .sendKeepalive)
    }

    @Test func changingTheIntervalArmsOrDisarmsIt() {
        var timers = PeerTimers()
        timers.persistentKeepaliveInterval = 25
        timers.persistentKeepaliveChanged(now: t0)
        #expect(timers.nextDeadline == t0 + .seconds(25))
        timers.persistentKeepaliveInterval = 5
        timers.persistentKeepaliveChanged(now: t0 + .seconds(1))
        #expect(timers.nextDeadline == t0 + .seconds(6))
        timers.persistentKeepaliveInterval = 0
        timers.persistentKeepaliveChanged(now: t0 + .seconds(2))
        #expect(timers.nextDeadline == nil)
        #expect(timers.expire(now: t0 + .seconds(100)) == [])
    }

    @Test func anArmedPersistentKeepaliveTurnedOffSendsNothing() {
        var timers = PeerTimers()
        timers.persistentKeepaliveInterval = 25
        timers.anyAuthenticatedPacketTraversal(now: t0)
        // The interval cleared without persistentKeepaliveChanged: the kernel's expiry checks
        // `if (likely(peer->persistent_keepalive_interval))` before sending.
        timers.persistentKeepaliveInterval = 0
        #expect(timers.expire(now: t0 + .seconds(25)) == [])
        #expect(timers.nextDeadline == nil)
    }

    @Test func largestIntervalIsHonoured() {
        var timers = PeerTimers()
        timers.persistentKeepaliveInterval = .max
        timers.anyAuthenticatedPacketTraversal(now: t0)
        #expect(timers.nextDeadline == t0 + .seconds(65_535))
    }

    // MARK: deadlines

    @Test func nextDeadlineIsNilWhenNothingIsArmed() {
        var timers = PeerTimers()
        #expect(timers.nextDeadline == nil)
        #expect(timers.expire(now: t0) == [])
        #expect(timers.expire(now: Instant(nanoseconds: .max)) == [])
        #expect(timers.nextDeadline == nil)
    }

    @Test func nextDeadlineIsTheEarliestArmedTimer() {
        var timers = PeerTimers()
        timers.persistentKeepaliveInterval = 25
        timers.sessionDerived(now: t0)                                  // +540 s
        timers.anyAuthenticatedPacketTraversal(now: t0)                 // +25 s
        timers.dataSent(now: t0, jitter: jitter)                        // +15.1 s
        timers.dataReceived(now: t0)                                    // +10 s
        timers.handshakeInitiated(now: t0, jitter: jitter)              // +5.1 s

        let expected: [(Duration, PeerTimers.Actions)] = [
            (.milliseconds(5_100), .retransmitInitiation),
            (.seconds(10), .sendKeepalive),
            (.milliseconds(15_100), .newHandshake),
            (.seconds(25), .sendKeepalive),
            (.seconds(540), .wipeKeyMaterial),
        ]
        for (offset, action) in expected {
            #expect(timers.nextDeadline == t0 + offset)
            #expect(timers.expire(now: Self.justBefore(t0 + offset)) == [])
            #expect(timers.expire(now: t0 + offset) == action)
        }
        #expect(timers.nextDeadline == nil)
    }

    @Test func everythingDueAtOnceFiresTogether() {
        var timers = PeerTimers()
        timers.persistentKeepaliveInterval = 1
        timers.sessionDerived(now: t0)
        timers.anyAuthenticatedPacketTraversal(now: t0)
        timers.dataSent(now: t0, jitter: jitter)
        timers.dataReceived(now: t0)
        timers.handshakeInitiated(now: t0, jitter: jitter)
        let actions = timers.expire(now: t0 + .seconds(1_000))
        #expect(actions == [.retransmitInitiation, .sendKeepalive, .newHandshake, .wipeKeyMaterial])
        #expect(timers.nextDeadline == nil)
    }

    @Test func expireWithNothingDueChangesNothing() {
        var timers = PeerTimers()
        timers.sessionDerived(now: t0)
        timers.dataReceived(now: t0)
        timers.dataReceived(now: t0)
        let before = timers.nextDeadline
        #expect(timers.expire(now: t0 + .seconds(9)) == [])
        #expect(timers.expire(now: t0) == [])
        #expect(timers.nextDeadline == before)
        // The "need another" flag survived the empty expiries.
        #expect(timers.expire(now: t0 + .seconds(10)) == .sendKeepalive)
        #expect(timers.nextDeadline == t0 + .seconds(20))
    }

    @Test func stopAllClearsEverything() {
        var timers = PeerTimers()
        timers.persistentKeepaliveInterval = 25
        timers.sessionDerived(now: t0)
        timers.anyAuthenticatedPacketTraversal(now: t0)
        timers.dataSent(now: t0, jitter: jitter)
        timers.dataReceived(now: t0)
        timers.dataReceived(now: t0)
        timers.handshakeInitiated(now: t0, jitter: jitter)
        _ = timers.expire(now: t0 + .milliseconds(5_100))
        #expect(timers.handshakeAttempts == 1)
        timers.stopAll()
        #expect(timers.nextDeadline == nil)
        #expect(timers.handshakeAttempts == 0)
        #expect(timers.expire(now: t0 + .seconds(10_000)) == [])
        // "Need another keepalive" is gone too: fresh data gives one keepalive, not two.
        timers.dataReceived(now: t0 + .seconds(20_000))
        #expect(timers.expire(now: t0 + .seconds(20_010)) == .sendKeepalive)
        #expect(timers.nextDeadline == nil)
    }

    // MARK: jitter

    @Test(arguments: [1, 2, 0xDEAD_BEEF, 0x5EED] as [UInt64])
    func jitterIsWithinZeroTo333Milliseconds(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var smallest = Duration.seconds(1)
        var largest = Duration.zero
        for _ in 0..<20_000 {
            let jitter = PeerTimers.jitter(using: &random)
            #expect(jitter >= .zero)
            #expect(jitter < .milliseconds(333))
            #expect(jitter < WireGuard.rekeyTimeoutJitterMax)
            smallest = min(smallest, jitter)
            largest = max(largest, jitter)
        }
        // It is spread over the range, not a constant.
        #expect(smallest < .milliseconds(5))
        #expect(largest > .milliseconds(328))
    }

    // MARK: randomized

    /// A reference model of timers.c written from the kernel source, independent of PeerTimers'
    /// code: one optional deadline per timer, and the expiry handlers' effects.
    struct Model {
        var retransmit: Instant?
        var keepalive: Instant?
        var newHandshake: Instant?
        var zeroKey: Instant?
        var persistent: Instant?
        var needAnother = false
        var attempts = 0
        var interval: UInt16 = 0

        var earliest: Instant? { [retransmit, keepalive, newHandshake, zeroKey, persistent].compactMap { $0 }.min() }

        static func due(_ deadline: Instant?, _ now: Instant) -> Bool { deadline.map { $0 <= now } ?? false }

        mutating func expire(now: Instant) -> PeerTimers.Actions {
            var actions: PeerTimers.Actions = []
            if Self.due(retransmit, now) {
                retransmit = nil
                if attempts > 18 {
                    keepalive = nil
                    if zeroKey == nil { zeroKey = now + .seconds(540) }
                    actions.insert(.giveUpHandshake)
                } else {
                    attempts += 1
                    actions.insert(.retransmitInitiation)
                }
            }
            if Self.due(keepalive, now) {
                keepalive = nil
                actions.insert(.sendKeepalive)
                if needAnother { needAnother = false; keepalive = now + .seconds(10) }
            }
            if Self.due(newHandshake, now) { newHandshake = nil; actions.insert(.newHandshake) }
            if Self.due(zeroKey, now) { zeroKey = nil; actions.insert(.wipeKeyMaterial) }
            if Self.due(persistent, now) {
                persistent = nil
                if interval > 0 { actions.insert(.sendKeepalive) }
            }
            return actions
        }
    }

    @Test(arguments: [1, 42, 0xC0FFEE, 0x0123_4567_89AB_CDEF] as [UInt64])
    func randomizedRunMatchesTheKernelModel(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var timers = PeerTimers()
        var model = Model()
        var now = Instant(nanoseconds: 1_000_000_000 + random.next() % 1_000_000_000_000)
        let start = now
        var everFired: PeerTimers.Actions = []
        // Stretches where the peer is unreachable: nothing completes a handshake and no new one is
        // asked for, so the retries run until give-up.
        var unreachable = false

        for step in 0..<40_000 {
            // Advance the fake clock: mostly small steps, sometimes straight to the next deadline,
            // sometimes exactly onto it or 1 ns short of it, sometimes a long sleep.
            switch random.next() % 10 {
            case 0...4: now = now + .milliseconds(Int64(random.next() % 3_000))
            case 5: now = now + .seconds(Int64(random.next() % 700))
            case 6, 7: if let d = timers.nextDeadline, d > now { now = d }
            case 8: if let d = timers.nextDeadline, d > now { now = Self.justBefore(d) }
            default: break
            }

            // Time only moves forward here; expire at every step, as the data plane would.
            let expected = model.expire(now: now)
            let actions = timers.expire(now: now)
            #expect(actions == expected, "seed \(seed) step \(step) at \(now)")
            if actions != expected { return }
            everFired.formUnion(actions)
            if let next = timers.nextDeadline {
                #expect(next > now, "a deadline in the past survived expire, seed \(seed) step \(step)")
            }
            #expect(timers.nextDeadline == model.earliest, "seed \(seed) step \(step)")
            #expect(timers.handshakeAttempts == model.attempts, "seed \(seed) step \(step)")
            if timers.nextDeadline != model.earliest || timers.handshakeAttempts != model.attempts { return }

            // React to what fired, as a peer would (not always: initiations may be rate limited).
            if actions.contains(.retransmitInitiation) || actions.contains(.newHandshake), random.next() % 4 != 0 {
                let isRetry = actions.contains(.retransmitInitiation) && !actions.contains(.newHandshake)
                timers.handshakeRequested(isRetry: isRetry)
                if !isRetry { model.attempts = 0 }
                let jitter = PeerTimers.jitter(using: &random)
                timers.anyAuthenticatedPacketTraversal(now: now)
                timers.anyAuthenticatedPacketSent()
                timers.handshakeInitiated(now: now, jitter: jitter)
                if model.interval > 0 { model.persistent = now + .seconds(Int64(model.interval)) }
                model.keepalive = nil
                model.retransmit = now + .seconds(5) + jitter
            }

            // Then a random event.
            if random.next() % 1_500 == 0 { unreachable.toggle() }
            var event = random.next() % 13
            if unreachable, [0, 5, 7, 8].contains(event) { event = 12 }
            switch event {
            case 0:
                let jitter = PeerTimers.jitter(using: &random)
                timers.dataSent(now: now, jitter: jitter)
                if model.newHandshake == nil { model.newHandshake = now + .seconds(15) + jitter }
            case 1:
                timers.dataReceived(now: now)
                if model.keepalive == nil { model.keepalive = now + .seconds(10) } else { model.needAnother = true }
            case 2:
                timers.anyAuthenticatedPacketSent()
                model.keepalive = nil
            case 3:
                timers.anyAuthenticatedPacketReceived()
                model.newHandshake = nil
            case 4:
                timers.anyAuthenticatedPacketTraversal(now: now)
                if model.interval > 0 { model.persistent = now + .seconds(Int64(model.interval)) }
            case 5:
                let isRetry = random.next() % 2 == 0
                timers.handshakeRequested(isRetry: isRetry)
                if !isRetry { model.attempts = 0 }
            case 6:
                let jitter = PeerTimers.jitter(using: &random)
                timers.handshakeInitiated(now: now, jitter: jitter)
                model.retransmit = now + .seconds(5) + jitter
            case 7:
                if random.next() % 3 == 0 {
                    timers.handshakeComplete()
                    model.retransmit = nil
                    model.attempts = 0
                }
            case 8:
                if random.next() % 3 == 0 {
                    timers.sessionDerived(now: now)
                    model.zeroKey = now + .seconds(540)
                }
            case 9:
                let interval: UInt16 = [0, 0, 1, 15, 25, 120][Int(random.next() % 6)]
                timers.persistentKeepaliveInterval = interval
                model.interval = interval
                if random.next() % 2 == 0 {
                    timers.persistentKeepaliveChanged(now: now)
                    model.persistent = interval > 0 ? now + .seconds(Int64(interval)) : nil
                }
            case 10:
                if random.next() % 50 == 0 {
                    timers.stopAll()
                    model = Model(interval: model.interval)
                }
            default:
                break  // nothing happens this step
            }
            #expect(timers.nextDeadline == model.earliest, "seed \(seed) step \(step) after event")
            if timers.nextDeadline != model.earliest { return }
        }
        // The run covered simulated hours and exercised every kind of expiry.
        #expect(now - start > .seconds(3 * 3_600))
        #expect(everFired == [.retransmitInitiation, .giveUpHandshake, .sendKeepalive, .newHandshake, .wipeKeyMaterial])
    }

    /// Actions only ever come from armed, due timers: with no events at all, nothing ever fires,
    /// and a lone timer fires once, at its deadline, never before.
    @Test(arguments: [7, 8, 9] as [UInt64])
    func actionsOnlyComeFromArmedDueTimers(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        for _ in 0..<500 {
            var timers = PeerTimers()
            var now = Self.t0
            let arm = random.next() % 5
            let jitter = PeerTimers.jitter(using: &random)
            timers.persistentKeepaliveInterval = UInt16(1 + random.next() % 300)
            let (due, action): (Instant, PeerTimers.Actions)
            switch arm {
            case 0: timers.handshakeInitiated(now: now, jitter: jitter); (due, action) = (now + .seconds(5) + jitter, .retransmitInitiation)
            case 1: timers.dataReceived(now: now); (due, action) = (now + .seconds(10), .sendKeepalive)
            case 2: timers.dataSent(now: now, jitter: jitter); (due, action) = (now + .seconds(15) + jitter, .newHandshake)
            case 3: timers.sessionDerived(now: now); (due, action) = (now + .seconds(540), .wipeKeyMaterial)
            default:
                timers.anyAuthenticatedPacketTraversal(now: now)
                (due, action) = (now + .seconds(Int64(timers.persistentKeepaliveInterval)), .sendKeepalive)
            }
            var firedAt: [Instant] = []
            while now < due + .seconds(600) {
                var next = now + .milliseconds(Int64(1 + random.next() % 20_000))
                // Now and then land exactly on the deadline, or 1 ns short of it.
                if firedAt.isEmpty, next >= due, now < Self.justBefore(due) {
                    switch random.next() % 3 {
                    case 0: next = due
                    case 1: next = Self.justBefore(due)
                    default: break
                    }
                }
                now = next
                let actions = timers.expire(now: now)
                if !actions.isEmpty {
                    #expect(actions == action)
                    firedAt.append(now)
                }
            }
            #expect(firedAt.count == 1)
            if let at = firedAt.first { #expect(at >= due) }
        }
    }
}
