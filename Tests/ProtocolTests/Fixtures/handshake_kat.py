#!/usr/bin/env python3
"""Known-answer generator for the WireGuard handshake, data and cookie messages.

What it is: an independent reference that computes the WireGuard protocol
(Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, as written down in the WireGuard
whitepaper, section 5) for fixed inputs and prints every input, intermediate
and output as JSON.  wgd's Swift tests reproduce these bytes exactly.

How to run (from the repository root):

    python3 Tests/ProtocolTests/Fixtures/handshake_kat.py > Tests/ProtocolTests/Fixtures/handshake_kat.json

Independence: written from the whitepaper's formulas only; it shares no code
with wgd (or with the kernel / wireguard-go).  Dependencies: Python 3.11
standard library (hashlib.blake2s, hmac) and the `cryptography` package
(X25519, ChaCha20Poly1305).  HChaCha20/XChaCha20-Poly1305 are implemented
here and checked against draft-irtf-cfrg-xchacha-03 on every run.

Determinism: no randomness and no clock; all "random" values are
HASH(b"wgd-kat <purpose>").  Output uses sorted keys and indent 2, so two runs
give identical bytes.  Every run also executes the self-checks below (both
handshake sides, transport keys, data messages, mac1/mac2, cookie reply).
"""
import hashlib
import hmac
import ipaddress
import json
import struct
import sys

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives import serialization

CONSTRUCTION = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
IDENTIFIER = b"WireGuard v1 zx2c4 Jason@zx2c4.com"
LABEL_MAC1 = b"mac1----"
LABEL_COOKIE = b"cookie--"
TAI64_BASE = (1 << 62) + 10          # 0x400000000000000a: 2^62 + 10 s TAI-UTC offset
ZERO16 = bytes(16)


# ---- primitives (whitepaper 5.4) ------------------------------------------
def HASH(x):                          # BLAKE2s-256
    return hashlib.blake2s(x).digest()


def MAC(key, x):                      # keyed BLAKE2s, 16-byte output
    return hashlib.blake2s(x, key=key, digest_size=16).digest()


def HMAC(key, x):                     # RFC 2104 HMAC over BLAKE2s-256 (block 64)
    key = key.ljust(64, b"\0") if len(key) <= 64 else HASH(key).ljust(64, b"\0")
    inner = HASH(bytes(b ^ 0x36 for b in key) + x)
    return HASH(bytes(b ^ 0x5C for b in key) + inner)


def KDF(n, key, x):                   # KDF_n: HKDF with HMAC-BLAKE2s
    t0 = HMAC(key, x)
    out, prev = [], b""
    for i in range(1, n + 1):
        prev = HMAC(t0, prev + bytes([i]))
        out.append(prev)
    return out


def AEAD(key, counter, plaintext, aad):   # nonce = 32 zero bits || counter u64 LE
    return ChaCha20Poly1305(key).encrypt(bytes(4) + struct.pack("<Q", counter), plaintext, aad)


def AEAD_open(key, counter, ciphertext, aad):
    return ChaCha20Poly1305(key).decrypt(bytes(4) + struct.pack("<Q", counter), ciphertext, aad)


def clamp(k):                         # X25519 scalar clamping (WireGuard stores keys clamped)
    b = bytearray(k)
    b[0] &= 248
    b[31] = (b[31] & 127) | 64
    return bytes(b)


def public_key(priv):
    return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def DH(priv, pub):
    return X25519PrivateKey.from_private_bytes(priv).exchange(X25519PublicKey.from_public_bytes(pub))


def tai64n(seconds, nanoseconds):     # 8-byte BE TAI64 label || 4-byte BE nanoseconds
    return struct.pack(">QI", TAI64_BASE + seconds, nanoseconds)


# ---- HChaCha20 / XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03) ------------
def _rotl(v, c):
    return ((v << c) & 0xFFFFFFFF) | (v >> (32 - c))


def _quarter(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = _rotl(s[b] ^ s[c], 7)


def hchacha20(key, nonce16):
    """20 ChaCha rounds on constants||key||nonce, no final addition; words 0-3 and 12-15."""
    s = list(struct.unpack("<4I", b"expand 32-byte k") + struct.unpack("<8I", key)
             + struct.unpack("<4I", nonce16))
    for _ in range(10):
        _quarter(s, 0, 4, 8, 12); _quarter(s, 1, 5, 9, 13)
        _quarter(s, 2, 6, 10, 14); _quarter(s, 3, 7, 11, 15)
        _quarter(s, 0, 5, 10, 15); _quarter(s, 1, 6, 11, 12)
        _quarter(s, 2, 7, 8, 13); _quarter(s, 3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def xaead(key, nonce24, plaintext, aad):
    return ChaCha20Poly1305(hchacha20(key, nonce24[:16])).encrypt(bytes(4) + nonce24[16:], plaintext, aad)


def xaead_open(key, nonce24, ciphertext, aad):
    return ChaCha20Poly1305(hchacha20(key, nonce24[:16])).decrypt(bytes(4) + nonce24[16:], ciphertext, aad)


def self_test_primitives():
    # HMAC by hand == the standard library's hmac with BLAKE2s.
    assert HMAC(b"k" * 32, b"msg") == hmac.new(b"k" * 32, b"msg", hashlib.blake2s).digest()
    # draft-irtf-cfrg-xchacha-03 section 2.2.1 (HChaCha20 test vector).
    k = bytes(range(32))
    n = bytes.fromhex("000000090000004a0000000031415927")
    assert hchacha20(k, n).hex() == ("82413b4227b27bfed30e42508a877d73"
                                     "a0f9e4d58a74a853c12ec41326d3ecdc")
    # draft-irtf-cfrg-xchacha-03 appendix "Example and Test Vector for
    # AEAD_XCHACHA20_POLY1305" (the A.3 AEAD vector): plaintext, AAD, key, IV, ciphertext, tag.
    pt = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip "
          b"for the future, sunscreen would be it.")
    aad = bytes.fromhex("50515253c0c1c2c3c4c5c6c7")
    key = bytes(range(0x80, 0xA0))
    iv = bytes(range(0x40, 0x58))
    expected = bytes.fromhex(
        "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
        "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
        "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
        "21f9664c97637da9768812f615c68b13b52e"
        "c0875924c1c7987947deafd8780acf49")                      # ciphertext || tag
    assert xaead(key, iv, pt, aad) == expected
    assert xaead_open(key, iv, expected, aad) == pt
    return {"hchacha20_key": k.hex(), "hchacha20_nonce": n.hex(), "hchacha20_subkey": hchacha20(k, n).hex(),
            "aead_key": key.hex(), "aead_nonce": iv.hex(), "aead_aad": aad.hex(),
            "aead_plaintext": pt.hex(), "aead_ciphertext_and_tag": expected.hex()}


# ---- handshake (whitepaper 5.4.2 - 5.4.5) -----------------------------------
C0 = HASH(CONSTRUCTION)               # initial chaining key
H0 = HASH(C0 + IDENTIFIER)            # initial hash


def create_initiation(Si_priv, Si_pub, Sr_pub, Ei_priv, timestamp, sender, cookie=None):
    C, H = C0, HASH(H0 + Sr_pub)
    Ei_pub = public_key(Ei_priv)
    C, = KDF(1, C, Ei_pub)
    H = HASH(H + Ei_pub)
    C, k = KDF(2, C, DH(Ei_priv, Sr_pub))
    enc_static = AEAD(k, 0, Si_pub, H)
    H = HASH(H + enc_static)
    C, k = KDF(2, C, DH(Si_priv, Sr_pub))
    enc_ts = AEAD(k, 0, timestamp, H)
    H = HASH(H + enc_ts)
    body = struct.pack("<B3xI", 1, sender) + Ei_pub + enc_static + enc_ts
    mac1 = MAC(HASH(LABEL_MAC1 + Sr_pub), body)
    mac2 = MAC(cookie, body + mac1) if cookie else ZERO16
    msg = body + mac1 + mac2
    assert len(msg) == 148
    return msg, C, H


def consume_initiation(msg, Sr_priv, Sr_pub, cookie=None):
    """Responder side, recomputed from scratch; returns (Si_pub, timestamp, sender, Ei_pub, C, H)."""
    assert len(msg) == 148 and msg[:4] == b"\x01\0\0\0"
    assert MAC(HASH(LABEL_MAC1 + Sr_pub), msg[:116]) == msg[116:132]
    assert msg[132:148] == (MAC(cookie, msg[:132]) if cookie else ZERO16)
    sender, = struct.unpack_from("<I", msg, 4)
    Ei_pub, enc_static, enc_ts = msg[8:40], msg[40:88], msg[88:116]
    C, H = C0, HASH(H0 + Sr_pub)
    C, = KDF(1, C, Ei_pub)
    H = HASH(H + Ei_pub)
    C, k = KDF(2, C, DH(Sr_priv, Ei_pub))
    Si_pub = AEAD_open(k, 0, enc_static, H)
    H = HASH(H + enc_static)
    C, k = KDF(2, C, DH(Sr_priv, Si_pub))
    ts = AEAD_open(k, 0, enc_ts, H)
    H = HASH(H + enc_ts)
    return Si_pub, ts, sender, Ei_pub, C, H


def create_response(C, H, Er_priv, Ei_pub, Si_pub, psk, sender, receiver):
    Er_pub = public_key(Er_priv)
    C, = KDF(1, C, Er_pub)
    H = HASH(H + Er_pub)
    C, = KDF(1, C, DH(Er_priv, Ei_pub))
    C, = KDF(1, C, DH(Er_priv, Si_pub))
    C, t, k = KDF(3, C, psk)
    H = HASH(H + t)
    enc_empty = AEAD(k, 0, b"", H)
    H = HASH(H + enc_empty)
    body = struct.pack("<B3xII", 2, sender, receiver) + Er_pub + enc_empty
    mac1 = MAC(HASH(LABEL_MAC1 + Si_pub), body)
    msg = body + mac1 + ZERO16
    assert len(msg) == 92
    return msg, C, H


def consume_response(msg, C, H, Ei_priv, Si_priv, Si_pub, psk):
    """Initiator side, from its own post-initiation state; returns (sender, receiver, C, H)."""
    assert len(msg) == 92 and msg[:4] == b"\x02\0\0\0"
    assert MAC(HASH(LABEL_MAC1 + Si_pub), msg[:60]) == msg[60:76] and msg[76:92] == ZERO16
    sender, receiver = struct.unpack_from("<II", msg, 4)
    Er_pub, enc_empty = msg[12:44], msg[44:60]
    C, = KDF(1, C, Er_pub)
    H = HASH(H + Er_pub)
    C, = KDF(1, C, DH(Ei_priv, Er_pub))
    C, = KDF(1, C, DH(Si_priv, Er_pub))
    C, t, k = KDF(3, C, psk)
    H = HASH(H + t)
    assert AEAD_open(k, 0, enc_empty, H) == b""
    H = HASH(H + enc_empty)
    return sender, receiver, C, H


def data_message(key, receiver, counter, plaintext):
    padded = plaintext + bytes(-len(plaintext) % 16)     # zero-pad to a multiple of 16
    return struct.pack("<B3xIQ", 4, receiver, counter) + AEAD(key, counter, padded, b""), padded


def open_data_message(key, msg):
    assert msg[:4] == b"\x04\0\0\0"
    receiver, counter = struct.unpack_from("<IQ", msg, 4)
    return receiver, counter, AEAD_open(key, counter, msg[16:], b"")


def ipv4_udp_packet():
    """33-byte IPv4/UDP packet 203.0.113.1:12345 -> 203.0.113.2:9, payload b"hello"."""
    def csum(b):
        b += bytes(len(b) % 2)
        s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
        while s >> 16:
            s = (s & 0xFFFF) + (s >> 16)
        return ~s & 0xFFFF
    src, dst = ipaddress.ip_address("203.0.113.1").packed, ipaddress.ip_address("203.0.113.2").packed
    payload = b"hello"
    udp = struct.pack(">HHHH", 12345, 9, 8 + len(payload), 0) + payload
    udp_sum = csum(src + dst + struct.pack(">BBH", 0, 17, len(udp)) + udp) or 0xFFFF
    udp = udp[:6] + struct.pack(">H", udp_sum) + udp[8:]
    hdr = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0x1234, 0x4000, 64, 17, 0, src, dst)
    hdr = hdr[:10] + struct.pack(">H", csum(hdr)) + hdr[12:]
    assert csum(hdr) == 0 and len(hdr + udp) == 33
    return hdr + udp


# ---- fixed inputs ----------------------------------------------------------
def fixed(purpose):
    return HASH(b"wgd-kat " + purpose.encode())


TS_SECONDS, TS_NANOS = 1700000000, 123456789
Si_raw, Sr_raw = fixed("initiator static"), fixed("responder static")
Si_priv, Sr_priv = clamp(Si_raw), clamp(Sr_raw)
Si_pub, Sr_pub = public_key(Si_priv), public_key(Sr_priv)
assert public_key(Si_raw) == Si_pub and public_key(Sr_raw) == Sr_pub   # library clamps too
I_INDEX, R_INDEX = 0x11223344, 0x55667788


def handshake_case(Ei_raw, Er_raw, psk):
    Ei_priv, Er_priv = clamp(Ei_raw), clamp(Er_raw)
    ts = tai64n(TS_SECONDS, TS_NANOS)
    init, Ci, Hi = create_initiation(Si_priv, Si_pub, Sr_pub, Ei_priv, ts, I_INDEX)
    # Responder consumes the initiation and must reach the same state.
    got_Si, got_ts, got_sender, Ei_pub, Cr, Hr = consume_initiation(init, Sr_priv, Sr_pub)
    assert (got_Si, got_ts, got_sender, Cr, Hr) == (Si_pub, ts, I_INDEX, Ci, Hi)
    resp, Cr, Hr = create_response(Cr, Hr, Er_priv, Ei_pub, got_Si, psk, R_INDEX, got_sender)
    # Initiator consumes the response.
    r_sender, r_receiver, Ci2, Hi2 = consume_response(resp, Ci, Hi, Ei_priv, Si_priv, Si_pub, psk)
    assert (r_sender, r_receiver, Ci2, Hi2) == (R_INDEX, I_INDEX, Cr, Hr)
    i_send, i_recv = KDF(2, Ci2, b"")
    r_recv, r_send = KDF(2, Cr, b"")          # responder: mirrored
    assert (i_send, i_recv) == (r_recv, r_send) and i_send != i_recv
    packet = ipv4_udp_packet()
    d1, d1_padded = data_message(i_send, r_sender, 0, packet)
    d2, d2_padded = data_message(r_send, got_sender, 0, b"")
    assert len(d1) == 16 + 48 + 16 and len(d2) == 32
    rcv, ctr, pt = open_data_message(r_recv, d1)
    assert (rcv, ctr) == (R_INDEX, 0) and pt[:struct.unpack_from(">H", pt, 2)[0]] == packet
    assert open_data_message(i_recv, d2) == (I_INDEX, 0, b"")
    return {
        "initiator_static_private": Si_raw.hex(), "initiator_static_private_clamped": Si_priv.hex(),
        "initiator_static_public": Si_pub.hex(),
        "responder_static_private": Sr_raw.hex(), "responder_static_private_clamped": Sr_priv.hex(),
        "responder_static_public": Sr_pub.hex(),
        "initiator_ephemeral_private": Ei_raw.hex(), "initiator_ephemeral_private_clamped": Ei_priv.hex(),
        "initiator_ephemeral_public": public_key(Ei_priv).hex(),
        "responder_ephemeral_private": Er_raw.hex(), "responder_ephemeral_private_clamped": Er_priv.hex(),
        "responder_ephemeral_public": public_key(Er_priv).hex(),
        "preshared_key": psk.hex(), "timestamp_tai64n": ts.hex(),
        "initiator_sender_index": I_INDEX, "responder_sender_index": R_INDEX,
        "initiation": init.hex(), "response": resp.hex(),
        "after_initiation": {"chaining_key": Ci.hex(), "hash": Hi.hex()},
        "after_response": {"chaining_key": Cr.hex(), "hash": Hr.hex()},
        "initiator_send_key": i_send.hex(), "initiator_recv_key": i_recv.hex(),
        "responder_send_key": r_send.hex(), "responder_recv_key": r_recv.hex(),
        "data_initiator_to_responder": {"receiver_index": R_INDEX, "counter": 0, "plaintext": packet.hex(),
                                        "padded_plaintext": d1_padded.hex(), "message": d1.hex()},
        "data_responder_to_initiator": {"receiver_index": I_INDEX, "counter": 0, "plaintext": "",
                                        "padded_plaintext": d2_padded.hex(), "message": d2.hex()},
    }


def cookie_for(secret, address, port):
    mac_input = ipaddress.ip_address(address).packed + struct.pack(">H", port)
    return {"source_address": address, "source_port": port, "mac_input": mac_input.hex(),
            "cookie": MAC(secret, mac_input).hex()}


def cookie_case(no_psk):
    secret = fixed("responder cookie secret")
    nonce = fixed("cookie reply nonce")[:24]
    v4, v6 = cookie_for(secret, "192.0.2.1", 51820), cookie_for(secret, "2001:db8::1", 4242)
    cookie = bytes.fromhex(v4["cookie"])
    trigger = bytes.fromhex(no_psk["initiation"])
    mac1 = trigger[116:132]
    cookie_key = HASH(LABEL_COOKIE + Sr_pub)
    reply = struct.pack("<B3xI", 3, I_INDEX) + nonce + xaead(cookie_key, nonce, cookie, mac1)
    assert len(reply) == 64
    # Initiator consumes the reply: aad is the mac1 it last sent.
    assert reply[:4] == b"\x03\0\0\0" and struct.unpack_from("<I", reply, 4)[0] == I_INDEX
    assert xaead_open(HASH(LABEL_COOKIE + Sr_pub), reply[8:32], reply[32:64], mac1) == cookie
    # Next initiation carries mac2 = MAC(cookie, msg[0:132]).
    Ei2_raw = fixed("cookie second initiation initiator ephemeral")
    ts2 = tai64n(TS_SECONDS + 1, TS_NANOS)
    second, _, _ = create_initiation(Si_priv, Si_pub, Sr_pub, clamp(Ei2_raw), ts2, 0x99AABBCC, cookie)
    got_Si, got_ts, got_sender, *_ = consume_initiation(second, Sr_priv, Sr_pub, cookie)
    assert (got_Si, got_ts, got_sender) == (Si_pub, ts2, 0x99AABBCC) and got_ts > tai64n(TS_SECONDS, TS_NANOS)
    return {
        "responder_cookie_secret": secret.hex(), "cookie_key": cookie_key.hex(),
        "ipv4": v4, "ipv6": v6,
        "triggering_initiation": trigger.hex(), "triggering_mac1": mac1.hex(),
        "reply_receiver_index": I_INDEX, "reply_nonce": nonce.hex(), "cookie_reply": reply.hex(),
        "second_initiation": {
            "initiator_ephemeral_private": Ei2_raw.hex(), "initiator_ephemeral_private_clamped": clamp(Ei2_raw).hex(),
            "initiator_ephemeral_public": public_key(clamp(Ei2_raw)).hex(),
            "timestamp_tai64n": ts2.hex(), "sender_index": 0x99AABBCC, "cookie": cookie.hex(),
            "mac1": second[116:132].hex(), "mac2": second[132:148].hex(), "message": second.hex()},
    }


def main():
    xchacha = self_test_primitives()
    no_psk = handshake_case(fixed("no_psk initiator ephemeral"), fixed("no_psk responder ephemeral"), bytes(32))
    with_psk = handshake_case(fixed("with_psk initiator ephemeral"), fixed("with_psk responder ephemeral"),
                              fixed("with_psk preshared key"))
    rounded = TS_NANOS - TS_NANOS % (1 << 24)
    out = {
        "description": "WireGuard known answers from Tests/ProtocolTests/Fixtures/handshake_kat.py (independent of wgd). "
                       "Fixed 32-byte values are BLAKE2s-256(b'wgd-kat ' + purpose), e.g. "
                       "initiator static = HASH(b'wgd-kat initiator static'); the cookie reply nonce is the first 24 bytes "
                       "of HASH(b'wgd-kat cookie reply nonce'). Integers are plain JSON numbers, bytes are lowercase hex.",
        "constants": {"construction": CONSTRUCTION.decode(), "identifier": IDENTIFIER.decode(),
                      "label_mac1": LABEL_MAC1.decode(), "label_cookie": LABEL_COOKIE.decode(),
                      "initial_chaining_key": C0.hex(), "initial_hash": H0.hex()},
        "timestamp": {
            "unix_seconds": TS_SECONDS, "nanoseconds": TS_NANOS,
            "tai64n": tai64n(TS_SECONDS, TS_NANOS).hex(),
            "tai64n_plus_1s": tai64n(TS_SECONDS + 1, TS_NANOS).hex(),
            "nanoseconds_rounded_2_24": rounded, "tai64n_rounded_2_24": tai64n(TS_SECONDS, rounded).hex(),
            "note": "TAI64N = BE u64 (0x400000000000000a + unix seconds) || BE u32 nanoseconds. The KAT handshakes use "
                    "the raw, unrounded nanoseconds. Real implementations whiten the nanoseconds: wireguard-go "
                    "(tai64n/tai64n.go) clears the low 24 bits (nano &^ (0x1000000-1)); the Linux kernel (noise.c "
                    "tai64n_now) uses ALIGN_DOWN(tv_nsec, rounddown_pow_of_two(NSEC_PER_SEC / INITIATIONS_PER_SECOND)) "
                    "with INITIATIONS_PER_SECOND = 50, i.e. rounddown_pow_of_two(20000000) = 2^24 ns as well. "
                    "tai64n_rounded_2_24 shows that rounding applied to the same input."},
        "mac_keys": {"responder_mac1_key": HASH(LABEL_MAC1 + Sr_pub).hex(),
                     "responder_cookie_key": HASH(LABEL_COOKIE + Sr_pub).hex(),
                     "initiator_mac1_key": HASH(LABEL_MAC1 + Si_pub).hex(),
                     "initiator_cookie_key": HASH(LABEL_COOKIE + Si_pub).hex()},
        "xchacha20poly1305": xchacha,
        "no_psk": no_psk,
        "with_psk": with_psk,
        "cookie": cookie_case(no_psk),
    }
    sys.stdout.write(json.dumps(out, sort_keys=True, indent=2) + "\n")


if __name__ == "__main__":
    main()
