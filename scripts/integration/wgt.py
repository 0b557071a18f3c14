#!/usr/bin/env python3
"""Helpers for the wgd integration tests (scripts/integration). Standard library only.

  canon-conf FILE                       `wg showconf` text, peers and allowed IPs sorted
  uapi-case SOCK CASE [PEER_HEX]        send one crafted UAPI request, print "result: ..."
  uapi-hold SOCK SECONDS [TEXT]         connect, send TEXT (may be empty), hold, close
  uapi-get SOCK                         raw "get=1" reply
  uapi-many SOCK N                      N connections at once, a get on each; exit 0 if all ok
  uapi-crowd SOCK IDLE HALF GETS SETS WAIT   stalled clients (IDLE send nothing, HALF half a
                                        set), then GETS + SETS well-behaved ones at once; prints
                                        who was served, refused, timed out and when (t68)
  gen-big-conf OUT PRIVKEY_FILE NPEERS NV6   a setconf file: NPEERS peers, each with one
                                        203.0.113.x/32 and NV6 fd00:a::/128s (NPEERS <= 256)
  gen-one-peer-conf OUT PRIVKEY_FILE SHAPE   a setconf file with one peer and many allowed IPs:
                                        SHAPE "selftest" (the kernel's 255 * 256 * 2) or a count
  pcap-udp-payload PCAP OUT             UDP payload of the first packet in an Ethernet pcap
  udp-send HOST PORT KIND [COUNT] [ARG] send crafted UDP datagrams (see KINDS)
  pcap-udp-payloads PCAP OUT            every UDP payload in a pcap, as flood.c's records
  gen-initiations OUT PUB COUNT         COUNT distinct initiations with a valid mac1 for PUB,
                                        as flood.c's records (2-byte little-endian length, bytes)
  gen-garbage OUT PUB COUNT [RECORDS]   COUNT datagrams of the junk mix (GARBAGE_MIX) as
                                        flood.c's records; RECORDS (captured real data packets,
                                        from pcap-udp-payloads) are the mix's replays
  state-file OUT --name IF --key KEYFILE [--port N] [--mtu N] [--fwmark N] [--address A]...
             [--routes] [--peer PUB [--endpoint E] [--allowed LIST] [--keepalive N] [--psk F]]...
                                        a router-mode state file (schema version 1)
  state-peers FILE                      the public keys of every peer in a state file, one a line
  udp-burst-send HOST PORT COUNT SIZE [gso]   COUNT datagrams of SIZE bytes in bursts of 32
                                        (1 ms apart), each its sequence number then a pattern of
                                        it; with gso, each burst is one send (UDP_SEGMENT)
  udp-burst-receive ADDR PORT COUNT SECONDS   receive at ADDR:PORT (prints "ready" once bound)
                                        until COUNT arrived or SECONDS passed without one;
                                        prints "received N intact I corrupt C duplicate D"

Every loop here is bounded by its arguments; every socket has a timeout.
"""
import base64
import hashlib
import ipaddress
import os
import random
import socket
import time
import struct
import sys

UAPI_TIMEOUT = 15.0


# ---------------------------------------------------------------------------------------------
def canon_conf(path):
    """Sections in order: [Interface] first, then [Peer]s sorted by PublicKey. Inside a section
    the lines are sorted; AllowedIPs are merged into one sorted list."""
    sections, cur = [], None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                cur = [line, [], []]
                sections.append(cur)
                continue
            if cur is None:
                cur = ["[?]", [], []]
                sections.append(cur)
            k, _, v = line.partition("=")
            k, v = k.strip(), v.strip()
            if k == "AllowedIPs":
                cur[2].extend(x.strip() for x in v.split(",") if x.strip())
            else:
                cur[1].append(f"{k} = {v}")

    def key(sec):
        pk = [l for l in sec[1] if l.startswith("PublicKey = ")]
        return (sec[0] != "[Interface]", pk[0] if pk else "")

    out = []
    for sec in sorted(sections, key=key):
        out.append(sec[0])
        out.extend(sorted(sec[1]))
        if sec[2]:
            out.append("AllowedIPs = " + ", ".join(sorted(sec[2])))
    print("\n".join(out))


# ---------------------------------------------------------------------------------------------
def b64_to_hex(b64):
    return base64.b64decode(b64).hex()


def uapi_request(case, peer_hex):
    rnd = random.Random(4242)
    new_hex = bytes(rnd.randrange(256) for _ in range(32)).hex()
    p = peer_hex or ("11" * 32)
    cases = {
        "bad-hex": lambda: b"set=1\nprivate_key=" + b"zz" * 32 + b"\n\n",
        "private-key-short": lambda: b"set=1\nprivate_key=" + b"ab" * 31 + b"\n\n",
        "private-key-long": lambda: b"set=1\nprivate_key=" + b"ab" * 33 + b"\n\n",
        "public-key-short": lambda: b"set=1\npublic_key=" + p.encode()[:62] + b"\n\n",
        "unknown-device-key": lambda: b"set=1\nno_such_key=1\n\n",
        "unknown-peer-key": lambda: f"set=1\npublic_key={p}\nno_such_key=1\n\n".encode(),
        "allowed-ip-before-public-key": lambda: b"set=1\nallowed_ip=192.0.2.0/24\n\n",
        "line-without-equals": lambda: b"set=1\nlisten_port\n\n",
        "garbage-endpoint-existing-peer": lambda: f"set=1\npublic_key={p}\nendpoint=no:such:endpoint\n\n".encode(),
        "garbage-endpoint-new-peer": lambda: f"set=1\npublic_key={new_hex}\nendpoint=[fd00::1\n\n".encode(),
        "bad-allowed-ip-new-peer": lambda: f"set=1\npublic_key={new_hex}\nallowed_ip=192.0.2.0/33\n\n".encode(),
        "listen-port-70000": lambda: b"set=1\nlisten_port=70000\n\n",
        "listen-port-negative": lambda: b"set=1\nlisten_port=-1\n\n",
        "fwmark-garbage": lambda: b"set=1\nfwmark=0xZZ\n\n",
        "keepalive-70000": lambda: f"set=1\npublic_key={p}\npersistent_keepalive_interval=70000\n\n".encode(),
        "embedded-nul": lambda: b"set=1\nlisten_port=5\x001\n\n",
        "overlong-line-100k": lambda: b"set=1\nprivate_key=" + b"a" * 100_000 + b"\n\n",
        "binary-garbage": lambda: bytes(rnd.randrange(256) for _ in range(4096)),
        "binary-after-set": lambda: b"set=1\n" + bytes(rnd.randrange(256) for _ in range(4096)) + b"\n\n",
        "get-with-trailing-junk": lambda: b"get=1\nxyz\n\n",
        # 10 MB that is wrong from its first line on: the daemon must not choke on the rest.
        "10mb-invalid-first": lambda: b"set=1\nno_such_key=1\n" + (b"x" * 99 + b"\n") * 100_000 + b"\n",
        # 10 MB of valid allowed_ip lines for an existing peer, then one invalid line: a strict
        # daemon applies none of it.
        "10mb-invalid-last": lambda: (f"set=1\npublic_key={p}\n".encode()
                              + b"".join(b"allowed_ip=fd00:77::%x:%x/128\n" % (i >> 16, i & 0xFFFF)
                                         for i in range(330_000))
                              + b"no_such_key=1\n\n"),
        # valid lines before an invalid one: all-or-nothing means none applies
        "valid-then-invalid": lambda: (f"set=1\nlisten_port=51999\npublic_key={p}\n"
                               "allowed_ip=fd00:99::1/128\nno_such_key=1\n\n").encode(),
        "replace-peers-then-invalid": lambda: b"set=1\nreplace_peers=true\nlisten_port=70000\n\n",
        "new-peer-then-invalid": lambda: f"set=1\npublic_key={new_hex}\nallowed_ip=fd00:98::1/128\nno_such_key=1\n\n".encode(),
    }
    if case == "list":
        return cases
    if case not in cases:
        raise SystemExit(f"unknown case {case}; known: {' '.join(cases)}")
    return cases[case]()


def read_reply(s, timeout):
    s.settimeout(timeout)
    data = b""
    try:
        for _ in range(10_000):
            chunk = s.recv(65536)
            if not chunk:
                return data, "closed"
            data += chunk
            if b"\n\n" in data:
                return data, "reply"
    except socket.timeout:
        return data, "timeout"
    except (ConnectionResetError, BrokenPipeError):
        return data, "reset"
    return data, "too-much"


def classify(data, how):
    first = data.split(b"\n", 1)[0].decode("latin-1") if data else ""
    if first.startswith("errno="):
        return first
    if not data and how in ("closed", "reset"):
        return "closed"
    if how == "timeout":
        return f"timeout (got {len(data)} bytes)"
    return f"unexpected {how}: {first[:80]!r}"


def cmd_uapi_case(sock, case, peer_hex=None):
    if case == "drop-mid-request":
        p = peer_hex or ("11" * 32)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(UAPI_TIMEOUT)
        s.connect(sock)
        s.sendall(f"set=1\nlisten_port=51998\npublic_key={p}\nallowed_ip=fd00:99::2/128\n".encode())
        s.close()
        print("result: closed-by-client")
        return
    req = uapi_request(case, peer_hex)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(UAPI_TIMEOUT)
    s.connect(sock)
    sent_all = True
    try:
        view = memoryview(req)
        off = 0
        for _ in range(len(req) // 4096 + 10):
            if off >= len(req):
                break
            off += s.send(view[off:off + 65536])
        sent_all = off >= len(req)
    except (BrokenPipeError, ConnectionResetError):
        sent_all = False
    except socket.timeout:
        print(f"result: timeout while sending ({len(req)} bytes)")
        s.close()
        return
    data, how = read_reply(s, UAPI_TIMEOUT)
    s.close()
    print(f"sent: {len(req)} bytes{'' if sent_all else ' (daemon closed early)'}")
    print(f"result: {classify(data, how)}")


def cmd_uapi_hold(sock, seconds, text=""):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sock)
    if text:
        s.sendall(text.encode().decode("unicode_escape").encode())
    print("holding", flush=True)
    try:
        s.settimeout(float(seconds))
        s.recv(1)
    except (socket.timeout, OSError):
        pass
    s.close()


def cmd_uapi_many(sock, n):
    """Opens N connections at once, then sends get=1 on each; prints how many got errno=0."""
    n = int(n)
    if not 0 < n <= 1000:
        raise SystemExit("uapi-many: 0 < N <= 1000")
    conns = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(UAPI_TIMEOUT)
        s.connect(sock)
        conns.append(s)
    ok = 0
    for s in conns:
        s.sendall(b"get=1\n\n")
    for s in conns:
        data, how = read_reply(s, UAPI_TIMEOUT)
        if data.endswith(b"errno=0\n\n"):
            ok += 1
        s.close()
    print(f"{ok}/{n} replies ok")
    return ok == n


def cmd_uapi_crowd(sock, idle, half, gets, sets, wait):
    """Connects IDLE clients that send nothing and HALF that send half a set (no blank line), and
    holds them; then, once the server has had a moment to take them, GETS + SETS well-behaved
    clients at once (a thread each), each sending get=1 or a set adding a peer of its own. Each
    well-behaved client waits at most WAIT seconds for its reply; each stalled one holds its
    connection until the server closes it or WAIT + 10 seconds have passed. Then one get shows
    which sets were applied. Prints one "crowd:" line of key=value figures (times in seconds from
    when the well-behaved clients started) and exits 0."""
    import threading
    idle, half, gets, sets, wait = int(idle), int(half), int(gets), int(sets), float(wait)
    if not (0 <= idle + half <= 1000 and 0 < gets + sets <= 1000 and 0 < wait <= 60):
        raise SystemExit("uapi-crowd: at most 1000 clients of each kind, 0 < WAIT <= 60")
    rnd = random.Random(68)
    stalled_keys = [rnd.randbytes(32).hex() for _ in range(half)]
    set_keys = [rnd.randbytes(32).hex() for _ in range(sets)]
    lock = threading.Lock()
    cut, results = [], []
    t_conn0 = time.monotonic()
    t0 = [t_conn0]  # set when the well-behaved clients start

    def hold(s):
        s.settimeout(wait + 10)
        try:
            while s.recv(4096):
                pass
            with lock:
                cut.append(time.monotonic())
        except (socket.timeout, OSError):
            pass
        s.close()

    holders = []
    for i in range(idle + half):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(sock)
        if i >= idle:
            k = i - idle
            s.sendall(f"set=1\npublic_key={stalled_keys[k]}\nallowed_ip=fd00:68:ff::{k:x}/128\n".encode())
        th = threading.Thread(target=hold, args=(s,), daemon=True)
        th.start()
        holders.append(th)
    time.sleep(0.3)  # the server takes the stalled clients first: the worst case for the rest

    def client(kind, j, start):
        start.wait(10)
        t = time.monotonic()
        outcome = "timeout"
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(wait)
            s.connect(sock)
            if kind == "get":
                s.sendall(b"get=1\n\n")
            else:
                s.sendall(f"set=1\npublic_key={set_keys[j]}\nallowed_ip=fd00:68::{j:x}/128\n\n".encode())
            data, how = read_reply(s, max(0.1, wait - (time.monotonic() - t)))
            s.close()
            if data.endswith(b"errno=0\n\n"):
                outcome = "served"
            elif how in ("closed", "reset") or data.startswith(b"errno=") or b"\nerrno=" in data:
                outcome = "refused"
        except (socket.timeout, TimeoutError):
            outcome = "timeout"
        except OSError:
            outcome = "refused"
        with lock:
            results.append((kind, outcome, time.monotonic() - t0[0]))

    start = threading.Event()
    workers = [threading.Thread(target=client, args=("get", j, start), daemon=True) for j in range(gets)]
    workers += [threading.Thread(target=client, args=("set", j, start), daemon=True) for j in range(sets)]
    for th in workers:
        th.start()
    t0[0] = time.monotonic()
    start.set()
    for th in workers:
        th.join(wait + 5)
    t_good = time.monotonic() - t0[0]
    for th in holders:
        th.join(max(0.0, t0[0] + wait + 12 - time.monotonic()))

    applied = stalled_applied = -1
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(UAPI_TIMEOUT)
        s.connect(sock)
        s.sendall(b"get=1\n\n")
        data, _ = read_reply(s, UAPI_TIMEOUT)
        s.close()
        keys = set(l[len("public_key="):] for l in data.decode("latin-1").split("\n") if l.startswith("public_key="))
        applied = sum(k in keys for k in set_keys)
        stalled_applied = sum(k in keys for k in stalled_keys)
    except OSError:
        pass
    with lock:
        rs, cuts = list(results), sorted(c - t0[0] for c in cut)
    served = [r for r in rs if r[1] == "served"]
    times = sorted(r[2] for r in served)
    fig = lambda x: f"{x:.2f}"
    print("crowd:"
          f" good={gets + sets} gets={gets} sets={sets}"
          f" served={len(served)} refused={sum(r[1] == 'refused' for r in rs)}"
          f" timedout={sum(r[1] == 'timeout' for r in rs) + (gets + sets - len(rs))}"
          f" served_gets={sum(r[0] == 'get' for r in served)} served_sets={sum(r[0] == 'set' for r in served)}"
          f" first={fig(times[0]) if times else '-'} median={fig(times[len(times) // 2]) if times else '-'}"
          f" last={fig(times[-1]) if times else '-'} good_done={fig(t_good)}"
          f" stalled={idle + half} idle={idle} half={half} cut={len(cuts)} still_open={idle + half - len(cuts)}"
          f" cut_first={fig(cuts[0]) if cuts else '-'} cut_last={fig(cuts[-1]) if cuts else '-'}"
          f" sets_applied={applied} half_sets_applied={stalled_applied}")


def cmd_uapi_get(sock):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(UAPI_TIMEOUT)
    s.connect(sock)
    s.sendall(b"get=1\n\n")
    data, how = read_reply(s, UAPI_TIMEOUT)
    sys.stdout.write(data.decode("latin-1"))
    if how != "reply":
        print(f"# {how}")


# ---------------------------------------------------------------------------------------------
def cmd_gen_big_conf(out, privkey_file, npeers, nv6):
    npeers, nv6 = int(npeers), int(nv6)
    if not (0 < npeers <= 256 and 0 <= nv6 <= 65536):
        raise SystemExit("gen-big-conf: 0 < NPEERS <= 256, NV6 <= 65536")
    rnd = random.Random(7)
    with open(privkey_file) as f:
        priv = f.read().strip()
    with open(out, "w") as f:
        f.write(f"[Interface]\nPrivateKey = {priv}\nListenPort = 51830\n")
        for i in range(npeers):
            pub = base64.b64encode(bytes(rnd.randrange(256) for _ in range(32))).decode()
            ips = [f"203.0.113.{i}/32"] + [
                str(ipaddress.IPv6Address(f"fd00:a:{i:x}::{j:x}")) + "/128" for j in range(nv6)]
            f.write(f"\n[Peer]\nPublicKey = {pub}\nAllowedIPs = {', '.join(ips)}\n")
    print(npeers * (nv6 + 1))


def cmd_gen_one_peer_conf(out, privkey_file, shape):
    """One peer, many allowed IPs, 1,000 to an AllowedIPs line; prints how many.

    "selftest" is the kernel's netns.sh request, 255 * 256 pairs of a shorter and a host prefix
    ($a.$b.0.0/16 and $a::$b/128 there), moved into fd00::/8 as configuration text only.
    A number N gives N host routes fd00:40::x:y/128, about 31 bytes each on the wire."""
    if shape == "selftest":
        ips = (f"fd00:35:{a:x}:{b:x}::/64, fd00:36::{a:x}:{b:x}/128" for a in range(1, 256) for b in range(256))
        count, per_line = 255 * 256 * 2, 500
    else:
        count, per_line = int(shape), 1000
        if not 0 < count <= 4_000_000:
            raise SystemExit("gen-one-peer-conf: 0 < N <= 4000000")
        ips = (f"fd00:40::{i >> 16:x}:{i & 0xFFFF:x}/128" for i in range(count))
    with open(privkey_file) as f:
        priv = f.read().strip()
    pub = base64.b64encode(bytes(range(1, 33))).decode()
    with open(out, "w") as f:
        f.write(f"[Interface]\nPrivateKey = {priv}\nListenPort = 51835\n\n[Peer]\nPublicKey = {pub}\n")
        line = []
        for ip in ips:
            line.append(ip)
            if len(line) == per_line:
                f.write("AllowedIPs = " + ", ".join(line) + "\n")
                line = []
        if line:
            f.write("AllowedIPs = " + ", ".join(line) + "\n")
    print(count)


# ---------------------------------------------------------------------------------------------
def pcap_packets(pcap, limit=100_000):
    """(linktype, packet bytes) of each packet in a pcap file, at most LIMIT."""
    with open(pcap, "rb") as f:
        gh = f.read(24)
        if len(gh) < 24:
            raise SystemExit("pcap: no header")
        magic = struct.unpack("<I", gh[:4])[0]
        endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        linktype = struct.unpack(endian + "I", gh[20:24])[0]
        for _ in range(limit):
            rh = f.read(16)
            if len(rh) < 16:
                return
            caplen = struct.unpack(endian + "IIII", rh)[2]
            yield linktype, f.read(caplen)


def cmd_pcap_udp_payload(pcap, out):
    first = next(pcap_packets(pcap, 1), None)
    if first is None:
        raise SystemExit("pcap: no packet")
    payload = udp_payload(*first)
    with open(out, "wb") as f:
        f.write(payload)
    print(f"{len(payload)} bytes, type {payload[0] if payload else -1}")


def cmd_pcap_udp_payloads(pcap, out):
    payloads = [udp_payload(lt, pkt) for lt, pkt in pcap_packets(pcap)]
    write_records(out, payloads)
    print(f"{len(payloads)} payloads, types {sorted(set(p[0] for p in payloads if p))}")


def write_records(out, datagrams):
    with open(out, "wb") as f:
        for d in datagrams:
            f.write(struct.pack("<H", len(d)) + d)


def read_records(path):
    with open(path, "rb") as f:
        data = f.read()
    out, off = [], 0
    while off + 2 <= len(data):
        n = struct.unpack("<H", data[off:off + 2])[0]
        out.append(data[off + 2:off + 2 + n])
        off += 2 + n
    return out


def udp_payload(linktype, pkt):
    if linktype == 1:      # Ethernet
        etype = struct.unpack("!H", pkt[12:14])[0]
        ip = pkt[14:]
    elif linktype in (101, 12):  # raw IP
        ip = pkt
        etype = 0x0800 if ip[0] >> 4 == 4 else 0x86DD
    else:
        raise SystemExit(f"pcap: linktype {linktype} not handled")
    if etype == 0x0800:
        ihl = (ip[0] & 0xF) * 4
        assert ip[9] == 17, "not UDP"
        udp = ip[ihl:]
    elif etype == 0x86DD:
        assert ip[6] == 17, "not UDP (or has extension headers)"
        udp = ip[40:]
    else:
        raise SystemExit(f"pcap: ethertype {etype:#x}")
    ulen = struct.unpack("!H", udp[4:6])[0]
    return udp[8:ulen]


# ---------------------------------------------------------------------------------------------
def mac1_for(pub_b64, msg_alpha):
    mac1_key = hashlib.blake2s(b"mac1----" + base64.b64decode(pub_b64)).digest()
    return hashlib.blake2s(msg_alpha, digest_size=16, key=mac1_key).digest()


def datagram(kind, rnd, arg):
    rb = lambda n: bytes(rnd.randrange(256) for _ in range(n))
    if kind == "empty":
        return b""
    if kind == "one-byte":
        return b"\x01"
    if kind == "garbage":
        return rb(rnd.randrange(1, 1400))
    if kind == "trunc-init":
        return b"\x01\0\0\0" + rb(50)
    if kind == "trunc-resp":
        return b"\x02\0\0\0" + rb(40)
    if kind == "trunc-cookie":
        return b"\x03\0\0\0" + rb(20)
    if kind == "trunc-data":
        return b"\x04\0\0\0" + rb(12)
    if kind == "wrong-type":
        return bytes([rnd.choice([0, 5, 6, 7, 127, 255])]) + b"\0\0\0" + rb(144)
    if kind == "bad-reserved":
        return b"\x01\x01\x02\x03" + rb(144)
    if kind == "init-bad-mac1":
        return b"\x01\0\0\0" + rb(144)
    if kind == "init-good-mac1":    # passes mac1 (needs ARG = responder's public key)
        alpha = b"\x01\0\0\0" + rb(112)
        return alpha + mac1_for(arg, alpha) + bytes(16)
    if kind == "resp-unknown-index":
        return b"\x02\0\0\0" + rb(88)
    if kind == "cookie-random":
        return b"\x03\0\0\0" + rb(60)
    if kind == "data-unknown-index":
        return b"\x04\0\0\0" + rb(60)
    if kind == "big":
        return rb(1400)
    if kind.startswith("file:"):
        with open(kind[5:], "rb") as f:
            return f.read()
    raise SystemExit(f"unknown datagram kind {kind}")


def cmd_udp_send(host, port, kind, count="1", arg=None):
    count = int(count)
    if not 0 < count <= 10_000:
        raise SystemExit("udp-send: 0 < COUNT <= 10000")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(1)
    rnd = random.Random(sum(kind.encode()) * 131 + count)
    sent = 0
    for _ in range(count):
        try:
            s.sendto(datagram(kind, rnd, arg), (host, int(port)))
            sent += 1
        except OSError as e:
            print(f"send error: {e}")
            break
    s.close()
    print(f"sent {sent} x {kind}")


def cmd_flood(host, port, pub_b64, count, seconds="3"):
    """Sends COUNT initiations with a valid mac1 (random bodies: each costs the responder a DH
    before it fails) as fast as possible from one socket, then listens until SECONDS have passed,
    counting the cookie replies (type 3, 64 bytes) that come back to that socket."""
    count, seconds = int(count), float(seconds)
    if not 0 < count <= 100_000:
        raise SystemExit("flood: 0 < COUNT <= 100000")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    rnd = random.Random(count)
    cookies = other = 0
    deadline = time.monotonic() + seconds
    def drain():
        nonlocal cookies, other
        while True:
            try:
                data = s.recv(2048, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            if len(data) == 64 and data[0] == 3:
                cookies += 1
            else:
                other += 1
    for i in range(count):
        s.sendto(datagram("init-good-mac1", rnd, pub_b64), (host, int(port)))
        if i % 256 == 0:
            drain()
    while time.monotonic() < deadline:
        drain()
        time.sleep(0.05)
    s.close()
    print(f"sent {count} initiations; cookie replies {cookies}; other replies {other}")


def cmd_gen_initiations(out, pub_b64, count):
    """COUNT initiations with a valid mac1 for PUB and random bodies (each distinct, so each costs
    a responder that is not under load a DH before it fails), as flood.c's records."""
    count = int(count)
    if not 0 < count <= 1_000_000:
        raise SystemExit("gen-initiations: 0 < COUNT <= 1000000")
    rnd = random.Random(count)
    mac1_key = hashlib.blake2s(b"mac1----" + base64.b64decode(pub_b64)).digest()
    with open(out, "wb") as f:
        for _ in range(count):
            alpha = b"\x01\0\0\0" + rnd.randbytes(112)
            mac1 = hashlib.blake2s(alpha, digest_size=16, key=mac1_key).digest()
            f.write(struct.pack("<H", 148) + alpha + mac1 + bytes(16))
    print(f"{count} initiations")


# The junk of t67, by weight (of 100): every kind is one wgd must drop and count.
GARBAGE_MIX = [
    ("random", 20),                 # random bytes, 1 to 1,472 of them
    ("empty", 1),                   # a datagram of no bytes
    ("trunc-init", 8),              # each message type, its header right, cut short
    ("trunc-resp", 8),
    ("trunc-cookie", 8),
    ("trunc-data", 8),
    ("unknown-type", 12),           # types 0, 5 and 255 at the sizes of real messages
    ("bad-reserved", 4),            # a real type with nonzero reserved bytes
    ("init-bad-mac1", 6),           # the exact size of an initiation, mac1 wrong
    ("resp-bad-mac1", 6),           # the exact size of a response, mac1 wrong
    ("cookie-unknown-index", 5),    # the exact size of a cookie reply, for no handshake of ours
    ("data-unknown-index", 8),      # data messages for receiver indices no session has
    ("replay", 6),                  # captured real data packets sent again
]


def garbage(kind, rnd, replays, i):
    rb = rnd.randbytes
    if kind == "random":
        return rb(rnd.randrange(1, 1473))
    if kind == "empty":
        return b""
    if kind.startswith("trunc-"):
        t, size = {"trunc-init": (1, 148), "trunc-resp": (2, 92), "trunc-cookie": (3, 64), "trunc-data": (4, 32)}[kind]
        n = rnd.randrange(1, size)
        return (bytes([t, 0, 0, 0]) + rb(size))[:n]
    if kind == "unknown-type":
        return bytes([rnd.choice([0, 5, 255]), 0, 0, 0]) + rb(rnd.choice([144, 88, 60, 28, 1468]))
    if kind == "bad-reserved":
        t, size = rnd.choice([(1, 148), (2, 92), (3, 64), (4, 48)])
        return bytes([t]) + bytes(rnd.randrange(1, 256) for _ in range(3)) + rb(size - 4)
    if kind == "init-bad-mac1":
        return b"\x01\0\0\0" + rb(144)
    if kind == "resp-bad-mac1":
        return b"\x02\0\0\0" + rb(88)
    if kind == "cookie-unknown-index":
        return b"\x03\0\0\0" + rb(60)
    if kind == "data-unknown-index":
        return b"\x04\0\0\0" + rb(12 + 16 * rnd.randrange(1, 91))
    if kind == "replay":
        return replays[i % len(replays)]
    raise SystemExit(f"unknown garbage kind {kind}")


def cmd_gen_garbage(out, pub_b64, count, records=None):
    """COUNT datagrams of GARBAGE_MIX, shuffled, as flood.c's records. Without RECORDS (real data
    packets to replay) the replays' share goes to data-unknown-index. Prints the mix.
    PUB is unused by the kinds but keeps the garbage for one responder's port in one place."""
    del pub_b64
    count = int(count)
    if not 0 < count <= 1_000_000:
        raise SystemExit("gen-garbage: 0 < COUNT <= 1000000")
    replays = [r for r in read_records(records) if r[:1] == b"\x04"] if records else []
    rnd = random.Random(6700 + count)
    total = sum(w for _, w in GARBAGE_MIX)
    plan = []
    for kind, weight in GARBAGE_MIX:
        if kind == "replay" and not replays:
            kind = "data-unknown-index"
        plan += [kind] * (count * weight // total)
    plan += ["random"] * (count - len(plan))
    rnd.shuffle(plan)
    tally = {}
    datagrams = []
    for i, kind in enumerate(plan):
        datagrams.append(garbage(kind, rnd, replays, i))
        tally[kind] = tally.get(kind, 0) + 1
    write_records(out, datagrams)
    print(f"{count} datagrams: " + " ".join(f"{k}={v}" for k, v in tally.items())
          + (f" (replays of {len(replays)} captured data packets)" if replays else ""))


def cmd_state_file(out, *args):
    iface = {"name": None, "private_key": None, "listen_port": 0, "fwmark": 0, "mtu": 1420,
             "addresses": [], "routes": False, "peers": []}
    it = iter(args)
    peer = None
    for a in it:
        if a == "--name":
            iface["name"] = next(it)
        elif a == "--key":
            iface["private_key"] = open(next(it)).read().strip()
        elif a in ("--port", "--mtu", "--fwmark"):
            iface[{"--port": "listen_port", "--mtu": "mtu", "--fwmark": "fwmark"}[a]] = int(next(it))
        elif a == "--address":
            iface["addresses"].append(next(it))
        elif a == "--routes":
            iface["routes"] = True
        elif a == "--peer":
            peer = {"public_key": next(it), "allowed_ips": []}
            iface["peers"].append(peer)
        elif a == "--endpoint":
            peer["endpoint"] = next(it)
        elif a == "--allowed":
            peer["allowed_ips"] = [x for x in next(it).split(",") if x]
        elif a == "--keepalive":
            peer["persistent_keepalive"] = int(next(it))
        elif a == "--psk":
            peer["preshared_key"] = open(next(it)).read().strip()
        else:
            print(f"state-file: unknown option {a}", file=sys.stderr)
            return False
    import json
    with open(out, "w") as f:
        json.dump({"version": 1, "interfaces": [iface]}, f, indent=2)
        f.write("\n")
    os.chmod(out, 0o600)


def cmd_state_peers(path):
    import json
    with open(path) as f:
        doc = json.load(f)
    for iface in doc["interfaces"]:
        for peer in iface["peers"]:
            print(peer["public_key"])


def burst_payload(seq, size):
    block = hashlib.sha256(struct.pack(">I", seq)).digest()
    body = (block * (size // len(block) + 1))[:size - 4]
    return struct.pack(">I", seq) + body


def cmd_udp_burst_send(host, port, count, size, mode=""):
    count, size = int(count), int(size)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.connect((host, int(port)))
        if mode == "gso":
            s.setsockopt(socket.IPPROTO_UDP, 103, size)   # UDP_SEGMENT: the kernel cuts each send
            for start in range(0, count, 32):
                s.send(b"".join(burst_payload(seq, size) for seq in range(start, min(start + 32, count))))
                time.sleep(0.001)
            return
        for seq in range(count):
            s.send(burst_payload(seq, size))
            if seq % 32 == 31:
                time.sleep(0.001)


def cmd_udp_burst_receive(addr, port, count, seconds):
    count, seconds = int(count), float(seconds)
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    seen, intact, corrupt, duplicate = set(), 0, 0, 0
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        s.bind((addr, int(port)))
        s.settimeout(seconds)
        print("ready", flush=True)
        while len(seen) < count:
            try:
                data = s.recv(65536)
            except socket.timeout:
                break
            seq = struct.unpack(">I", data[:4])[0] if len(data) >= 4 else -1
            if seq < 0 or data != burst_payload(seq, len(data)):
                corrupt += 1
            elif seq in seen:
                duplicate += 1
            else:
                seen.add(seq)
                intact += 1
    print("received %d intact %d corrupt %d duplicate %d" % (intact + corrupt + duplicate, intact, corrupt, duplicate))


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    cmd, args = argv[1], argv[2:]
    table = {
        "canon-conf": canon_conf,
        "uapi-case": cmd_uapi_case,
        "uapi-hold": cmd_uapi_hold,
        "uapi-get": cmd_uapi_get,
        "uapi-many": cmd_uapi_many,
        "uapi-crowd": cmd_uapi_crowd,
        "gen-big-conf": cmd_gen_big_conf,
        "gen-one-peer-conf": cmd_gen_one_peer_conf,
        "pcap-udp-payload": cmd_pcap_udp_payload,
        "pcap-udp-payloads": cmd_pcap_udp_payloads,
        "gen-initiations": cmd_gen_initiations,
        "gen-garbage": cmd_gen_garbage,
        "udp-send": cmd_udp_send,
        "flood": cmd_flood,
        "state-file": cmd_state_file,
        "state-peers": cmd_state_peers,
        "udp-burst-send": cmd_udp_burst_send,
        "udp-burst-receive": cmd_udp_burst_receive,
        "b64-to-hex": lambda b: print(b64_to_hex(b)),
        "uapi-cases": lambda: print(" ".join(uapi_request("list", None))),
    }
    if cmd not in table:
        print(__doc__)
        return 2
    r = table[cmd](*args)
    return 1 if r is False else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
