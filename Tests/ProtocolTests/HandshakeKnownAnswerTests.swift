import Testing
import Crypto
@testable import Protocol

/// The handshake, data messages and cookie reply reproduced byte for byte from
/// Fixtures/handshake_kat.json, which Fixtures/handshake_kat.py computed independently of this
/// code (Python's hashlib.blake2s and the cryptography package's X25519 and ChaCha20-Poly1305).
@Suite struct HandshakeKnownAnswerTests {
    let kat: [String: Any]

    init() throws { kat = try fixture("handshake_kat.json") }

    func bytes(_ object: [String: Any], _ key: String) throws -> [UInt8] {
        hex(try #require(object[key] as? String, "missing \(key)"))
    }

    func number(_ object: [String: Any], _ key: String) throws -> UInt32 {
        UInt32(try #require(object[key] as? Int, "missing \(key)"))
    }

    @Test(arguments: ["no_psk", "with_psk"])
    func handshakeAndData(_ name: String) throws {
        let c = try #require(kat[name] as? [String: Any])
        let aead = ChaCha20Poly1305()
        let initiator = StaticIdentity(privateKey: privateKey(try bytes(c, "initiator_static_private")))
        let responder = StaticIdentity(privateKey: privateKey(try bytes(c, "responder_static_private")))
        #expect(initiator.publicKey.bytes.bytes == (try bytes(c, "initiator_static_public")))
        #expect(responder.publicKey.bytes.bytes == (try bytes(c, "responder_static_public")))
        let pskBytes = try bytes(c, "preshared_key")
        let psk: PresharedKey? = pskBytes.allSatisfy { $0 == 0 } ? nil : pskBytes.withUnsafeBytes { PresharedKey(copying: $0) }
        #expect((psk == nil) == (name == "no_psk"))
        let timestamp = try bytes(c, "timestamp_tai64n").withUnsafeBytes { TAI64N(bytes: $0) }

        // Initiator writes the first message.
        var initiatorHandshake = Handshake(remoteStatic: responder.publicKey, presharedKey: psk, identity: initiator)
        var initiation = [UInt8](repeating: 0, count: InitiationLayout.length)
        try initiation.withUnsafeMutableBytes {
            try initiatorHandshake.createInitiation(into: $0, identity: initiator, timestamp: timestamp,
                                                    localIndex: try number(c, "initiator_sender_index"),
                                                    ephemeral: secret(try bytes(c, "initiator_ephemeral_private")), using: aead)
        }
        var initiatorCookies = CookieMaker(remoteStatic: responder.publicKey)
        initiation.withUnsafeMutableBytes { initiatorCookies.addMACs(to: $0, now: .zero) }
        #expect(hexString(initiation) == hexString(try bytes(c, "initiation")))

        // Responder checks mac1, decrypts the static key, consumes, answers.
        var checker = CookieChecker(publicKey: responder.publicKey)
        let source = Endpoint("192.0.2.1:51820")!
        #expect(initiation.withUnsafeBytes { checker.validate($0, source: source, checkCookie: false, now: .zero) } == .validMAC1)
        var responderHandshake = Handshake(remoteStatic: initiator.publicKey, presharedKey: psk, identity: responder)
        try initiation.withUnsafeBytes { packet in
            let pending = try Handshake.beginConsumingInitiation(packet, identity: responder, using: aead)
            #expect(pending.remoteStatic == initiator.publicKey)
            try responderHandshake.consumeInitiation(pending, packet, now: .zero, using: aead)
        }
        #expect(responderHandshake.latestTimestamp == timestamp)
        #expect(responderHandshake.remoteIndex == (try number(c, "initiator_sender_index")))
        var response = [UInt8](repeating: 0, count: ResponseLayout.length)
        try response.withUnsafeMutableBytes {
            try responderHandshake.createResponse(into: $0, localIndex: try number(c, "responder_sender_index"),
                                                  ephemeral: secret(try bytes(c, "responder_ephemeral_private")), using: aead)
        }
        var responderCookies = CookieMaker(remoteStatic: initiator.publicKey)
        response.withUnsafeMutableBytes { responderCookies.addMACs(to: $0, now: .zero) }
        #expect(hexString(response) == hexString(try bytes(c, "response")))

        // Initiator consumes the response; both derive the session.
        try response.withUnsafeBytes { try initiatorHandshake.consumeResponse($0, identity: initiator, using: aead) }
        let initiatorSession = initiatorHandshake.beginSession(now: .zero)
        let responderSession = responderHandshake.beginSession(now: .zero)
        let initiatorKeys = try #require(initiatorSession)
        let responderKeys = try #require(responderSession)
        #expect(initiatorKeys.isInitiator && !responderKeys.isInitiator)
        #expect(initiatorHandshake.state == .zeroed && responderHandshake.state == .zeroed)
        initiatorKeys.sendingKey.withUnsafeBytes { #expect(Array($0) == (try? bytes(c, "initiator_send_key"))) }
        initiatorKeys.receivingKey.withUnsafeBytes { #expect(Array($0) == (try? bytes(c, "initiator_recv_key"))) }
        responderKeys.sendingKey.withUnsafeBytes { #expect(Array($0) == (try? bytes(c, "responder_send_key"))) }

        // Data both ways: the exact ciphertext, and the other side opens it.
        for (direction, sender, receiver) in [("data_initiator_to_responder", initiatorKeys, responderKeys),
                                              ("data_responder_to_initiator", responderKeys, initiatorKeys)] {
            let d = try #require(c[direction] as? [String: Any])
            let padded = try bytes(d, "padded_plaintext")
            let plaintext = try bytes(d, "plaintext")
            #expect(Padding.paddedLength(plaintext.count, mtu: 1420) == padded.count)
            var message = [UInt8](repeating: 0, count: DataLayout.headerLength) + padded + [UInt8](repeating: 0, count: 16)
            message.withUnsafeMutableBytes { sender.seal($0, plaintextLength: padded.count, counter: 0, using: aead) }
            #expect(hexString(message) == hexString(try bytes(d, "message")), "\(direction)")
            let opened = message.withUnsafeMutableBytes { receiver.open($0, using: aead) }
            #expect(opened?.counter == 0 && opened?.length == padded.count)
            #expect(Array(message[16..<16 + padded.count]) == padded)
        }
    }

    @Test func cookieReplyAndMAC2() throws {
        let c = try #require(kat["no_psk"] as? [String: Any])
        let k = try #require(kat["cookie"] as? [String: Any])
        let aead = ChaCha20Poly1305()
        let initiator = StaticIdentity(privateKey: privateKey(try bytes(c, "initiator_static_private")))
        let responder = StaticIdentity(privateKey: privateKey(try bytes(c, "responder_static_private")))
        var checker = CookieChecker(publicKey: responder.publicKey)
        try bytes(k, "responder_cookie_secret").withUnsafeBytes { checker.setSecret($0, now: .zero) }

        // The cookie itself, for an IPv4 and an IPv6 source.
        for family in ["ipv4", "ipv6"] {
            let f = try #require(k[family] as? [String: Any])
            let text = try #require(f["source_address"] as? String)
            let address = try #require(IPAddress(text))
            let source = Endpoint(address: address, port: UInt16(try number(f, "source_port")))
            var cookie = [UInt8](repeating: 0, count: 16)
            cookie.withUnsafeMutableBytes { checker.makeCookie(for: source, now: .zero, into: $0) }
            #expect(cookie == (try bytes(f, "cookie")), "\(family)")
        }

        // The responder, under load, refuses the first initiation with a cookie reply.
        let ipv4 = try #require(k["ipv4"] as? [String: Any])
        let sourceText = try #require(ipv4["source_address"] as? String)
        let source = Endpoint(address: IPAddress(sourceText)!, port: UInt16(try number(ipv4, "source_port")))
        var first = try bytes(k, "triggering_initiation")
        #expect(first.withUnsafeBytes { checker.validate($0, source: source, checkCookie: true, now: .zero) } == .validMAC1)
        var reply = [UInt8](repeating: 0, count: CookieReplyLayout.length)
        let nonce = try bytes(k, "reply_nonce")
        reply.withUnsafeMutableBytes { out in
            first.withUnsafeBytes { packet in
                nonce.withUnsafeBytes { checker.createReply(into: out, for: packet, source: source, nonce: $0, now: .zero, using: aead) }
            }
        }
        #expect(hexString(reply) == hexString(try bytes(k, "cookie_reply")))

        // The initiator, having sent that initiation, takes the cookie and adds mac2 next time.
        var maker = CookieMaker(remoteStatic: responder.publicKey)
        first.withUnsafeMutableBytes { maker.addMACs(to: $0, now: .zero) }
        try reply.withUnsafeBytes { try maker.consumeReply($0, now: .seconds(1), using: aead) }
        // A second copy of the reply has nothing left to attach to.
        #expect(throws: CookieError.unexpected) { try reply.withUnsafeBytes { try maker.consumeReply($0, now: .seconds(1), using: aead) } }

        let s = try #require(k["second_initiation"] as? [String: Any])
        var handshake = Handshake(remoteStatic: responder.publicKey, presharedKey: nil, identity: initiator)
        var second = [UInt8](repeating: 0, count: InitiationLayout.length)
        let timestamp = try bytes(s, "timestamp_tai64n").withUnsafeBytes { TAI64N(bytes: $0) }
        try second.withUnsafeMutableBytes {
            try handshake.createInitiation(into: $0, identity: initiator, timestamp: timestamp, localIndex: try number(s, "sender_index"),
                                           ephemeral: secret(try bytes(s, "initiator_ephemeral_private")), using: aead)
        }
        second.withUnsafeMutableBytes { maker.addMACs(to: $0, now: .seconds(2)) }
        #expect(hexString(second) == hexString(try bytes(s, "message")))
        #expect(second.withUnsafeBytes { checker.validate($0, source: source, checkCookie: true, now: .seconds(2)) } == .validCookie)
        // The same message from another address does not carry a cookie for that address.
        let elsewhere = Endpoint("192.0.2.99:51820")!
        #expect(second.withUnsafeBytes { checker.validate($0, source: elsewhere, checkCookie: true, now: .seconds(2)) } == .validMAC1)
        // Past 120 − 5 s the initiator no longer uses the cookie: mac2 is zero again.
        second.withUnsafeMutableBytes { maker.addMACs(to: $0, now: .seconds(1 + 115)) }
        #expect(second[InitiationLayout.mac2...].allSatisfy { $0 == 0 })
    }

    @Test func macKeysAndTimestamp() throws {
        let c = try #require(kat["no_psk"] as? [String: Any])
        let m = try #require(kat["mac_keys"] as? [String: Any])
        let responder = publicKey(try bytes(c, "responder_static_public"))
        #expect(Hash.labelled("mac1----", responder).bytes == (try bytes(m, "responder_mac1_key")))
        #expect(Hash.labelled("cookie--", responder).bytes == (try bytes(m, "responder_cookie_key")))
        let t = try #require(kat["timestamp"] as? [String: Any])
        let seconds = UInt64(try #require(t["unix_seconds"] as? Int))
        let rounded = TAI64N(unixSeconds: seconds, nanoseconds: UInt32(try number(t, "nanoseconds")))
        var out = [UInt8](repeating: 0, count: 12)
        out.withUnsafeMutableBytes { rounded.write(to: $0) }
        #expect(out == (try bytes(t, "tai64n_rounded_2_24")))
    }
}
