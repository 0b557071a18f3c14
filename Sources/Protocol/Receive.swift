public import Crypto

/// What became of one UDP datagram handed to `Device.receive`.
public enum ReceiveOutcome<Runtime: AnyObject & Sendable>: Sendable {
    /// Dropped, for this reason (the data plane counts them).
    case dropped(DropReason)
    /// A reply of this many bytes is in the reply buffer: send it back to the datagram's source.
    /// A handshake response (with its peer) or a cookie reply (peer nil).
    case reply(length: Int, peer: Peer<Runtime>?)
    /// As initiator, the handshake completed: send the staged packets, or a keepalive if none, so
    /// that the responder can start using the session.
    case sessionReady(Peer<Runtime>)
    /// A cookie arrived; the next initiation to this peer will carry mac2.
    case cookieStored(Peer<Runtime>)
    /// An IP packet for the tunnel, at `packet` bytes `range` (padding stripped).
    case data(Peer<Runtime>, range: Range<Int>, receipt: DataReceipt)
    /// A keepalive: nothing to deliver.
    case keepalive(Peer<Runtime>, receipt: DataReceipt)
    /// Authenticated and fresh, but its inner packet is refused (`notIP`, `disallowedSource`):
    /// nothing to deliver, yet the receipt is followed as for data. receive.c acts on what the
    /// authentication proves (session confirmed, keys getting old) before it looks inside.
    case rejectedAfterAuthentication(Peer<Runtime>, reason: DropReason, receipt: DataReceipt)
}

public enum DropReason: Sendable, Equatable {
    case notWireGuard               // wrong type or length
    case invalidMAC                 // mac1 wrong: not for us, or forged
    case rateLimited                // under load, mac2 good, but the source is over its budget
    case handshake(HandshakeError)
    case cookie(CookieError)
    case unknownIndex               // no handshake or keypair with that receiver index
    case keypairExpired             // the session is too old (or was torn down) to receive on
    case decryptionFailed
    case replayed                   // the counter was seen or is older than the window
    case notIP                      // decrypted, but not an IPv4/IPv6 packet of consistent length
    case disallowedSource           // inner source address not in the peer's allowed IPs
    case peerRemoved                // authenticated, but its peer was removed meanwhile
}

extension Device {
    /// Takes one datagram from `source`. Data is decrypted in place in `packet`; replies are
    /// written to `reply` (at least 148 bytes). `underLoad` comes from the data plane's
    /// handshake queue: when set, initiations and responses must carry a valid mac2.
    public func receive(_ packet: UnsafeMutableRawBufferPointer, from source: Endpoint, underLoad: Bool,
                        reply: UnsafeMutableRawBufferPointer, now: Instant, wallClock: WallTime,
                        using aead: borrowing ChaCha20Poly1305) -> ReceiveOutcome<Runtime> {
        guard let type = Messages.classify(UnsafeRawBufferPointer(packet)) else { return .dropped(.notWireGuard) }
        switch type {
        case .data:
            guard let (keypair, peer) = keypair(for: UnsafeRawBufferPointer(packet), now: now) else {
                return .dropped(indexTable.lookup(Messages.receiverIndex(UnsafeRawBufferPointer(packet), type: .data)) == nil
                                ? .unknownIndex : .keypairExpired)
            }
            guard let (counter, length) = keypair.open(packet, using: aead) else { return .dropped(.decryptionFailed) }
            return finishData(packet, plaintextLength: length, counter: counter, keypair: keypair, peer: peer,
                              source: source, now: now, wallClock: wallClock)
        case .cookieReply:
            return receiveCookieReply(UnsafeRawBufferPointer(packet), now: now, using: aead)
        case .initiation, .response:
            return receiveHandshake(UnsafeRawBufferPointer(packet), type: type, source: source, underLoad: underLoad,
                                    reply: reply, now: now, wallClock: wallClock, using: aead)
        }
    }

    // MARK: data, in three steps so that decryption can run on any worker

    /// Step 1: the keypair a data message is addressed to, if it may still receive.
    public func keypair(for packet: UnsafeRawBufferPointer, now: Instant) -> (Keypair, Peer<Runtime>)? {
        guard case .keypair(let keypair, let peer)? = indexTable.lookup(Messages.receiverIndex(packet, type: .data)),
              keypair.canReceive(now: now) else { return nil }
        return (keypair, peer)
    }

    // Step 2 is `Keypair.open`.

    /// Step 3, in order per peer: replay check, roaming, rotation, timers, and the inner packet's
    /// checks (an IP packet whose source the peer is allowed to use).
    public func finishData(_ packet: UnsafeMutableRawBufferPointer, plaintextLength: Int, counter: UInt64, keypair: Keypair,
                           peer: Peer<Runtime>, source: Endpoint, now: Instant, wallClock: WallTime) -> ReceiveOutcome<Runtime> {
        // Only now, after authentication, may the counter touch the window.
        guard keypair.acceptCounter(counter) else { return .dropped(.replayed) }
        let plaintext = UnsafeRawBufferPointer(rebasing: packet[DataLayout.headerLength..<DataLayout.headerLength + plaintextLength])
        var inner: (range: Range<Int>, allowed: Bool)?
        if plaintextLength > 0, let (family, length) = IPPacket.parse(plaintext) {
            let sender = IPPacket.source(plaintext, family)
            inner = (DataLayout.headerLength..<DataLayout.headerLength + length, route(sender) === peer)
        }
        // Roaming, key confirmation, keep-key-fresh, liveness and the keepalive timer count for
        // every authenticated packet, even one refused below (receive.c's order).
        guard let receipt = peer.receivedData(bytes: packet.count, keypair: keypair, carriedData: plaintextLength > 0,
                                              source: source, indexTable: indexTable, now: now, wallClock: wallClock) else {
            return .dropped(.peerRemoved)
        }
        if plaintextLength == 0 { return .keepalive(peer, receipt: receipt) }
        guard let inner else { return .rejectedAfterAuthentication(peer, reason: .notIP, receipt: receipt) }
        guard inner.allowed else { return .rejectedAfterAuthentication(peer, reason: .disallowedSource, receipt: receipt) }
        return .data(peer, range: inner.range, receipt: receipt)
    }

    // MARK: handshakes

    private func receiveHandshake(_ packet: UnsafeRawBufferPointer, type: MessageType, source: Endpoint, underLoad: Bool,
                                  reply: UnsafeMutableRawBufferPointer, now: Instant, wallClock: WallTime,
                                  using aead: borrowing ChaCha20Poly1305) -> ReceiveOutcome<Runtime> {
        switch cookieChecker.withLock({ $0.validate(packet, source: source, checkCookie: underLoad, now: now) }) {
        case .invalid:
            return .dropped(.invalidMAC)
        case .validMAC1 where underLoad:
            // Make the sender prove its address before we spend a DH on it.
            var nonce = (Bytes32(), 0)
            withUnsafeMutableBytes(of: &nonce.0) { SystemRandom.fill($0) }
            let out = UnsafeMutableRawBufferPointer(rebasing: reply[0..<CookieReplyLayout.length])
            nonce.0.withUnsafeBytes { n in
                cookieChecker.withLock {
                    $0.createReply(into: out, for: packet, source: source, nonce: UnsafeRawBufferPointer(rebasing: n[0..<24]), now: now, using: aead)
                }
            }
            return .reply(length: CookieReplyLayout.length, peer: nil)
        case .validCookie where underLoad:
            guard rateLimiter.withLock({ $0.allow(source.address, now: now) }) else { return .dropped(.rateLimited) }
        default:
            break
        }
        return type == .initiation
            ? consumeInitiation(packet, source: source, reply: reply, now: now, using: aead)
            : consumeResponse(packet, source: source, now: now, wallClock: wallClock, using: aead)
    }

    private func consumeInitiation(_ packet: UnsafeRawBufferPointer, source: Endpoint, reply: UnsafeMutableRawBufferPointer,
                                   now: Instant, using aead: borrowing ChaCha20Poly1305) -> ReceiveOutcome<Runtime> {
        do throws(HandshakeError) {
            let pending = try Handshake.beginConsumingInitiation(packet, identity: currentIdentity, using: aead)
            guard let peer = peer(pending.remoteStatic) else { throw .unknownPeer }
            let out = UnsafeMutableRawBufferPointer(rebasing: reply[0..<ResponseLayout.length])
            try peer.respond(to: pending, packet, reply: out, source: source, indexTable: indexTable, now: now, using: aead)
            return .reply(length: ResponseLayout.length, peer: peer)
        } catch {
            return .dropped(.handshake(error))
        }
    }

    private func consumeResponse(_ packet: UnsafeRawBufferPointer, source: Endpoint, now: Instant, wallClock: WallTime,
                                 using aead: borrowing ChaCha20Poly1305) -> ReceiveOutcome<Runtime> {
        guard case .handshake(let peer)? = indexTable.lookup(Messages.receiverIndex(packet, type: .response)) else {
            return .dropped(.unknownIndex)
        }
        do throws(HandshakeError) {
            try peer.consumeResponse(packet, identity: currentIdentity, source: source, indexTable: indexTable,
                                     now: now, wallClock: wallClock, using: aead)
            return .sessionReady(peer)
        } catch {
            return .dropped(.handshake(error))
        }
    }

    private func receiveCookieReply(_ packet: UnsafeRawBufferPointer, now: Instant, using aead: borrowing ChaCha20Poly1305) -> ReceiveOutcome<Runtime> {
        guard let entry = indexTable.lookup(Messages.receiverIndex(packet, type: .cookieReply)) else { return .dropped(.unknownIndex) }
        do throws(CookieError) {
            try entry.peer.consumeCookieReply(packet, now: now, using: aead)
            return .cookieStored(entry.peer)
        } catch {
            return .dropped(.cookie(error))
        }
    }
}

extension Device {
    /// The peer whose allowed IPs contain `address` (longest prefix), if any.
    public func route(_ address: IPAddress) -> Peer<Runtime>? { routes.withLock { $0.lookup(address) } }
}
