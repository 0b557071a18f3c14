#!/usr/bin/env python3
"""wgd beside wireguard-go through real tunnels, interleaved in one run: the driver behind
`scripts/bench tunnel` (and `all`). Prints figures, never asserts; not part of scripts/test.

    bench-tunnel.py run --wgd PATH [--crypto-log FILE]     (root; settings from the environment)
    bench-tunnel.py cleanup STATE                          (undo what a run's state file lists)
    bench-tunnel.py report RUN.json                        (its .md and .png again)
    bench-tunnel.py hs-send ...                            (internal: the handshake initiator)

Environment: N (rounds, 5), T (iperf3 seconds, 5), WG_GO (wireguard-go), OUTDIR (.build/bench),
TESTS (tcp,tcpR,udp,ping,hs), PEERS (2048), HS_MSGS (60000), MAX_RUNTIME (900 s), BENCH_WORK
(work folder; scripts/bench makes it and replays its state file on exit).

Method (the same as the shared perf harness, so that the figures compare with its own):
- each round, a fresh pair of wgd daemons and a fresh pair of wireguard-go daemons, each pair in
  two network namespaces of its own joined by a veth, both pairs up for the whole round; the
  daemons start as `IMPL -f IFNAME` in a session of their own (setsid), as an init script
  starts a service; the A/B order flips from round to round and from test to test, so the two
  figures of a pair are seconds apart;
- idle: 3 s after setup, VmRSS, VmHWM and PSS (smaps_rollup) of every daemon; then VmHWM is
  reset (clear_refs 5) and read again after the TCP tests: the peak under TCP;
- iperf3 TCP one stream each way and UDP (-b 0 -l 1380), T s each; the daemons' CPU seconds
  (utime+stime of /proc/PID/stat, both ends) per GB received;
- ping RTT median (300 pings, 10 ms apart);
- 2,048 peers: one `wg addconf` of 2,048 peers (public key and one allowed /128 each) to the
  daemon at end 2, timed; its VmRSS and PSS a second later; then handshakes: precomputed
  initiations from 2,048 initiator identities (our own Noise IKpsk2 initiator, Python
  `cryptography`), round robin, at most 64 outstanding, counted responses over 3 s after 0.5 s
  of warm-up; CPU per handshake = the responder's CPU over the run / responses;
- openssl speed chacha20-poly1305 (1420 B, one core) each round, and the CPU that other
  processes used during the round ("foreign cores": the box is shared);
- once: both binaries stripped and xz -9e.
Ratios are A/B = wgd/wireguard-go, taken pair by pair (round by round), then median (min-max).
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import json
import lzma
import math
import os
import platform
import re
import select
import shlex
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib

CLK = os.sysconf("SC_CLK_TCK")
SOCK_DIR = "/var/run/wireguard"
PORT = 51820
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def env(name, default):
    value = os.environ.get(name, "")
    return value if value else default


class Abort(BaseException):
    """A signal: stop measuring, clean up, report what was measured."""


def log(text):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), text), file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------
# /proc

def stat_fields(pid):
    """Fields of /proc/PID/stat after the command name: [0] state, [1] ppid, [11] utime, ..."""
    with open("/proc/%d/stat" % pid) as f:
        text = f.read()
    return text[text.rindex(")") + 2:].split()


def start_time(pid):
    try:
        return stat_fields(pid)[19]
    except (OSError, ValueError, IndexError):
        return None


def cpu_ticks(pid):
    """utime + stime of the whole thread group, exited threads included."""
    fields = stat_fields(pid)
    return int(fields[11]) + int(fields[12])


def memory(pid):
    """MiB: VmRSS, VmHWM (status) and Pss (smaps_rollup); and the thread count."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
            elif key == "Threads":
                out["threads"] = int(value.split()[0])
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    out["Pss"] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


def reset_hwm(pid):
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def tree_snapshot():
    """For the foreign-load figure: pid -> (ppid, start, own ticks, reaped children's ticks),
    and the system's user+nice+system ticks."""
    snap = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                fields = stat_fields(int(name))
            except (OSError, ValueError, IndexError):
                continue
            snap[int(name)] = (int(fields[1]), fields[19], int(fields[11]) + int(fields[12]),
                               int(fields[13]) + int(fields[14]))
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    return snap, cpu[0] + cpu[1] + cpu[2]


def foreign_cores(before, after, wall, me):
    """Cores used by processes that are neither ours (this driver and its descendants, reaped
    ones included through cutime) nor kernel threads, between two snapshots."""
    (s0, busy0), (s1, busy1) = before, after

    def ours(pid):
        for _ in range(64):
            if pid == me:
                return True
            if pid not in s1 or pid <= 2:
                return False
            pid = s1[pid][0]
        return False

    mine = 0
    for pid, (ppid, start, own, reaped) in s1.items():
        if not (ours(pid) or pid == 2 or ppid == 2):
            continue
        old = s0.get(pid)
        if old is not None and old[1] == start:
            mine += (own - old[2]) + (reaped - old[3])
        else:
            mine += own + reaped
    return max(0.0, (busy1 - busy0 - mine) / CLK / wall)


# ------------------------------------------------------------------------------------------------
# What a run creates, so that it can always be removed: a state file of pids (with their start
# time, so that a recycled pid is never hit), namespaces and UAPI sockets.

class Tracker:
    def __init__(self, path):
        self.path = path
        self.procs = []
        self.namespaces = []
        self.sockets = []

    def note(self, line):
        with open(self.path, "a") as f:
            f.write(line + "\n")

    def add_proc(self, proc):
        self.procs.append(proc)
        self.note("pid %d %s" % (proc.pid, start_time(proc.pid)))

    def add_netns(self, name):
        self.namespaces.append(name)
        self.note("netns %s" % name)

    def add_socket(self, path):
        self.sockets.append(path)
        self.note("sock %s" % path)

    def cleanup(self):
        for proc in reversed(self.procs):
            stop(proc)
        self.procs = []
        for name in self.namespaces:
            delete_netns(name)
        self.namespaces = []
        for path in self.sockets:
            remove(path)
        self.sockets = []


def stop(proc, grace=3.0):
    """SIGTERM, then SIGKILL after GRACE seconds; a Popen of ours, so its pid is not reused
    before we reap it."""
    if proc.poll() is not None:
        return
    try:
        proc.terminate()
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            pass
    except ProcessLookupError:
        pass


def delete_netns(name):
    if os.path.exists("/run/netns/" + name):
        subprocess.run(["ip", "netns", "del", name], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=20)


def remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def cmd_cleanup(state):
    """The backstop scripts/bench runs on exit, whatever ended the driver (even SIGKILL)."""
    if not os.path.exists(state):
        return 0
    with open(state) as f:
        lines = [line.split() for line in f if line.strip()]
    for parts in reversed(lines):
        if parts[0] != "pid" or len(parts) < 3:
            continue
        pid, start = int(parts[1]), parts[2]
        if start_time(pid) != start:
            continue
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        for _ in range(30):
            if start_time(pid) != start or stat_fields(pid)[0] == "Z":
                break
            time.sleep(0.1)
        else:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for parts in lines:
        if parts[0] == "netns" and parts[1].startswith("wgb-"):
            delete_netns(parts[1])
        elif parts[0] == "sock" and parts[1].startswith(SOCK_DIR + "/wgb"):
            remove(parts[1])
    return 0


# ------------------------------------------------------------------------------------------------
# Small helpers

def run(argv, timeout=30, check=True, stdin=None):
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=stdin)
    except subprocess.TimeoutExpired as e:
        raise RuntimeError("%s: no end after %s s" % (" ".join(argv), timeout)) from e
    if check and proc.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), proc.returncode,
                                                (proc.stderr or proc.stdout).strip()[-300:]))
    return proc


def in_ns(ns, *argv):
    return ["ip", "netns", "exec", ns] + list(argv)


# ------------------------------------------------------------------------------------------------
# WireGuard handshake initiations (Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, zero PSK), written from
# the protocol description: precomputed, so that the sender only sends and counts.

def blake2s(*parts):
    h = hashlib.blake2s()
    for part in parts:
        h.update(part)
    return h.digest()


def kdf(key, data, n):
    prk = hmac.new(key, data, hashlib.blake2s).digest()
    out, block = [], b""
    for i in range(1, n + 1):
        block = hmac.new(prk, block + bytes([i]), hashlib.blake2s).digest()
        out.append(block)
    return out


def tai64n(seconds):
    return struct.pack(">QI", (1 << 62) + 10 + seconds, 0)


def make_initiations(responder_public_b64, peers, count, allowed_prefix):
    """COUNT type-1 messages round robin over PEERS fresh initiator identities, each with a fresh
    ephemeral key and a per-peer increasing timestamp; and the [Peer] sections that make a
    responder accept them. Valid once per fresh responder daemon holding the private key."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    def raw(private):
        return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    responder = base64.b64decode(responder_public_b64)
    responder_key = X25519PublicKey.from_public_bytes(responder)
    chain0 = blake2s(b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s")
    hash0 = blake2s(blake2s(chain0, b"WireGuard v1 zx2c4 Jason@zx2c4.com"), responder)
    mac1_key = blake2s(b"mac1----", responder)
    nonce = bytes(12)
    identities, conf = [], []
    for i in range(peers):
        static = X25519PrivateKey.generate()
        identities.append((raw(static), static.exchange(responder_key)))
        conf.append("[Peer]\nPublicKey = %s\nAllowedIPs = %s%x/128\n"
                    % (base64.b64encode(raw(static)).decode(), allowed_prefix, i + 1))
    base = int(time.time())
    messages = []
    for j in range(count):
        static_public, static_shared = identities[j % peers]
        ephemeral = X25519PrivateKey.generate()
        ephemeral_public = raw(ephemeral)
        chain = kdf(chain0, ephemeral_public, 1)[0]
        h = blake2s(hash0, ephemeral_public)
        chain, key = kdf(chain, ephemeral.exchange(responder_key), 2)
        sealed_static = ChaCha20Poly1305(key).encrypt(nonce, static_public, h)
        h = blake2s(h, sealed_static)
        chain, key = kdf(chain, static_shared, 2)
        sealed_time = ChaCha20Poly1305(key).encrypt(nonce, tai64n(base + j // peers), h)
        body = struct.pack("<II", 1, j + 1) + ephemeral_public + sealed_static + sealed_time
        mac1 = hashlib.blake2s(body, key=mac1_key, digest_size=16).digest()
        messages.append(body + mac1 + bytes(16))
    return messages, "\n".join(conf)


def cmd_hs_send(a):
    """In end 1's namespace: send the messages with at most WINDOW outstanding, count handshake
    responses (type 2, 92 bytes) and cookie replies (type 3). One JSON line on stdout."""
    with open(a.messages, "rb") as f:
        data = f.read()
    messages = [data[i:i + 148] for i in range(0, len(data), 148)]
    host, port = a.target.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    s.connect((host, int(port)))
    s.setblocking(False)
    poller = select.poll()
    poller.register(s, select.POLLIN)
    sent = outstanding = responses = cookies = other = stalls = counted = 0
    start = time.monotonic()
    window_start = start + a.warmup
    end = window_start + a.duration
    last_reply = start
    while time.monotonic() < end and not (sent == len(messages) and outstanding == 0):
        while outstanding < a.window and sent < len(messages):
            try:
                s.send(messages[sent])
            except (BlockingIOError, ConnectionRefusedError):
                break
            sent += 1
            outstanding += 1
        if not poller.poll(50):
            if time.monotonic() - last_reply > a.stall:   # what is still out was dropped
                stalls += 1
                outstanding = 0
                last_reply = time.monotonic()
            continue
        for _ in range(4096):
            try:
                packet = s.recv(2048)
            except (BlockingIOError, InterruptedError, ConnectionRefusedError):
                break
            now = last_reply = time.monotonic()
            outstanding = max(0, outstanding - 1)
            if packet[:1] == b"\x02" and len(packet) == 92:
                responses += 1
                counted += window_start <= now < end
            elif packet[:1] == b"\x03":
                cookies += 1
            else:
                other += 1
    stopped = time.monotonic()
    measured = min(stopped, end) - window_start
    print(json.dumps({"sent": sent, "responses": responses, "cookies": cookies, "other": other,
                      "stalls": stalls, "exhausted": sent == len(messages),
                      "hs_per_s": counted / measured if measured > 0.2 else None,
                      "seconds": stopped - start}))
    return 0


# ------------------------------------------------------------------------------------------------
# One implementation's tunnel: two namespaces, a veth, a daemon at each end.

ADDRESSES = {  # underlay end 1, end 2 (a /30 on the veth); tunnel end 1, end 2
    "A": ("192.0.2.1", "192.0.2.2", "198.51.100.1", "198.51.100.2"),
    "B": ("192.0.2.5", "192.0.2.6", "203.0.113.1", "203.0.113.2"),
}


class Pair:
    def __init__(self, side, impl, cfg, keys, rnd):
        tag = "%d%s" % (os.getpid(), side.lower())
        self.side, self.impl, self.cfg, self.keys, self.rnd = side, impl, cfg, keys, rnd
        self.ns = ["wgb-%s1" % tag, "wgb-%s2" % tag]
        self.ifname = ["wgb%s1" % tag, "wgb%s2" % tag]     # at most 15 characters
        self.veth = ["wbv%s1" % tag, "wbv%s2" % tag]
        self.under, self.tunnel = ADDRESSES[side][:2], ADDRESSES[side][2:]
        self.daemons = [None, None]
        self.iperf = None
        self.ok = False
        self.error = None
        self.setup_s = None

    @property
    def pids(self):
        return [d.pid for d in self.daemons]

    def socket_path(self, i):
        return "%s/%s.sock" % (SOCK_DIR, self.ifname[i])

    def log_path(self, i):
        return os.path.join(self.cfg.work, "r%d-%s%d.log" % (self.rnd, self.side, i + 1))

    def up(self):
        try:
            self._up()
            self.ok = True
        except Abort:
            raise
        except Exception as e:   # noqa: BLE001 - a failed setup is reported, the run goes on
            self.error = str(e)
            log("  setup %s failed: %s" % (self.side, e))

    def _up(self):
        track = self.cfg.track
        for ns in self.ns:
            run(["ip", "netns", "add", ns])
            track.add_netns(ns)
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        run(["ip", "link", "add", self.veth[0], "netns", self.ns[0], "type", "veth",
             "peer", "name", self.veth[1], "netns", self.ns[1]])
        for i in (0, 1):
            run(["ip", "-n", self.ns[i], "addr", "add", self.under[i] + "/30", "dev", self.veth[i]])
            run(["ip", "-n", self.ns[i], "link", "set", self.veth[i], "up"])
        started = time.monotonic()
        for i in (0, 1):
            if os.path.exists(self.socket_path(i)):
                raise RuntimeError("%s exists already" % self.socket_path(i))
            with open(self.log_path(i), "w") as logfile:
                # A session of its own, as an init script starts a service (and as the harness).
                proc = subprocess.Popen(in_ns(self.ns[i], *shlex.split(self.impl), "-f", self.ifname[i]),
                                        stdin=subprocess.DEVNULL, stdout=logfile,
                                        stderr=subprocess.STDOUT, start_new_session=True)
            track.add_proc(proc)
            track.add_socket(self.socket_path(i))
            self.daemons[i] = proc
        for i in (0, 1):
            for _ in range(200):
                if os.path.exists(self.socket_path(i)):
                    break
                if self.daemons[i].poll() is not None:
                    raise RuntimeError("%s exited %s: %s" % (self.ifname[i], self.daemons[i].returncode,
                                                             self.log_tail(i)))
                time.sleep(0.05)
            else:
                raise RuntimeError("no UAPI socket %s after 10 s" % self.socket_path(i))
        for i in (0, 1):
            j = 1 - i
            run(in_ns(self.ns[i], "wg", "set", self.ifname[i], "private-key", self.keys["files"][i],
                      "listen-port", str(PORT), "peer", self.keys["public"][j],
                      "endpoint", "%s:%d" % (self.under[j], PORT), "allowed-ips", self.tunnel[j] + "/32"))
            run(["ip", "-n", self.ns[i], "addr", "add", self.tunnel[i] + "/24", "dev", self.ifname[i]])
            run(["ip", "-n", self.ns[i], "link", "set", self.ifname[i], "mtu", "1420", "up"])
        for _ in range(20):
            if run(in_ns(self.ns[0], "ping", "-c", "1", "-W", "1", self.tunnel[1]),
                   check=False, timeout=5).returncode == 0:
                break
        else:
            raise RuntimeError("no ping reply through the tunnel")
        self.setup_s = time.monotonic() - started
        self.start_iperf_server()
        run(in_ns(self.ns[1], "ping", "-c", "3", "-i", "0.05", "-W", "1", self.tunnel[0]), check=False)

    def start_iperf_server(self):
        if self.iperf is not None:
            stop(self.iperf)
        self.iperf = subprocess.Popen(in_ns(self.ns[1], "iperf3", "-s"), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True)
        self.cfg.track.add_proc(self.iperf)
        for _ in range(100):
            if run(in_ns(self.ns[1], "ss", "-Hltn", "sport = :5201"), check=False).stdout.strip():
                return
            if self.iperf.poll() is not None:
                raise RuntimeError("iperf3 -s exited %s" % self.iperf.returncode)
            time.sleep(0.05)
        raise RuntimeError("iperf3 -s is not listening after 5 s")

    def log_tail(self, i):
        try:
            with open(self.log_path(i)) as f:
                return f.read()[-300:].replace("\n", " | ")
        except OSError:
            return ""

    def alive(self):
        for i in (0, 1):
            if self.daemons[i].poll() is not None:
                self.ok = False
                self.error = "%s exited %s: %s" % (self.ifname[i], self.daemons[i].returncode, self.log_tail(i))
        return self.ok

    def down(self):
        for proc in self.daemons + [self.iperf]:
            if proc is not None:
                stop(proc)
        for ns in self.ns:
            delete_netns(ns)
        for i in (0, 1):
            remove(self.socket_path(i))


# ------------------------------------------------------------------------------------------------
# Tests: each returns a dict of figures for one pair.

def test_iperf(pair, kind, cfg):
    extra = {"tcp": [], "tcpR": ["-R"], "udp": ["-u", "-b", "0", "-l", "1380"]}[kind]
    argv = in_ns(pair.ns[0], "iperf3", "-c", pair.tunnel[1], "-J", "-t", str(cfg.seconds),
                 "--connect-timeout", "3000", *extra)
    for attempt in range(3):
        before = [cpu_ticks(p) for p in pair.pids]
        t0 = time.monotonic()
        proc = run(argv, timeout=cfg.seconds + 25, check=False)
        wall = time.monotonic() - t0
        after = [cpu_ticks(p) for p in pair.pids]
        try:
            result = json.loads(proc.stdout)
        except ValueError:
            raise RuntimeError("iperf3 exit %d, no JSON: %s" % (proc.returncode, proc.stderr[-300:]))
        if "error" not in result:
            break
        if "busy" not in result["error"] or attempt == 2:   # the server may still end the last test
            raise RuntimeError("iperf3: %s" % result["error"])
        time.sleep(1)
    end = result["end"]
    out = {}
    if kind == "udp":
        received = end.get("sum_received") or end["sum"]
        out["loss_pct"] = end["sum"].get("lost_percent")
    else:
        received = end["sum_received"]
        out["retransmits"] = end["sum_sent"].get("retransmits")
    cpu = sum(b - a for a, b in zip(before, after)) / CLK
    out.update(gbps=received["bits_per_second"] / 1e9, bytes=received["bytes"], cpu_s=cpu,
               cores=cpu / wall, cpu_per_gb=cpu / (received["bytes"] / 1e9) if received["bytes"] else None)
    return out


def test_ping(pair, cfg):
    proc = run(in_ns(pair.ns[0], "ping", "-n", "-i", "0.01", "-c", "300", "-W", "1", pair.tunnel[1]),
               timeout=60, check=False)
    times = [float(x) for x in re.findall(r"time=([\d.]+) ms", proc.stdout)]
    if not times:
        raise RuntimeError("ping: no reply")
    return {"p50_ms": statistics.median(times), "loss_pct": 100 * (300 - len(times)) / 300}


def test_peers(pair, cfg):
    """2,048 peers on the daemon at end 2: addconf time, memory, then handshakes against it."""
    responder = pair.pids[1]
    t0 = time.monotonic()
    run(in_ns(pair.ns[1], "wg", "addconf", pair.ifname[1], cfg.peers_conf), timeout=120)
    out = {"addconf_s": time.monotonic() - t0}
    time.sleep(1)
    mem = memory(responder)
    out.update(rss=mem.get("VmRSS"), pss=mem.get("Pss"))
    if cfg.messages is None:
        return out
    before = cpu_ticks(responder)
    proc = run(in_ns(pair.ns[0], sys.executable, os.path.abspath(__file__), "hs-send",
                     "--messages", cfg.messages, "--target", "%s:%d" % (pair.under[1], PORT)),
               timeout=60)
    cpu = (cpu_ticks(responder) - before) / CLK
    sent = json.loads(proc.stdout.strip().splitlines()[-1])
    out.update(hs_per_s=sent["hs_per_s"], responses=sent["responses"], cookies=sent["cookies"],
               stalls=sent["stalls"], exhausted=sent["exhausted"],
               hs_cpu_us=cpu * 1e6 / sent["responses"] if sent["responses"] else None,
               rss_after_hs=memory(responder).get("VmRSS"))
    if sent["cookies"]:
        log("  note: %d cookie replies (the responder went under load)" % sent["cookies"])
    return out


def openssl_speed():
    """openssl's ChaCha20-Poly1305 on one core, 1420 B: GB/s (encrypt, user CPU time)."""
    proc = run(["openssl", "speed", "-mr", "-evp", "chacha20-poly1305", "-bytes", "1420", "-seconds", "2"],
               timeout=60)
    found = re.findall(r"^\+F:\d+:[^:]+:([\d.]+)", proc.stdout, re.M)
    if not found:
        raise RuntimeError("openssl speed: no +F line")
    return float(found[-1]) / 1e9


def binary_size(path):
    """(stripped bytes, xz -9e bytes) of an executable."""
    with tempfile.TemporaryDirectory() as scratch:
        stripped = os.path.join(scratch, "stripped")
        if subprocess.run(["strip", "-o", stripped, path], capture_output=True).returncode != 0:
            shutil.copyfile(path, stripped)
        with open(stripped, "rb") as f:
            data = f.read()
    return len(data), len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))


# ------------------------------------------------------------------------------------------------
# The run

TESTS = ["tcp", "tcpR", "udp", "ping", "hs"]


def run_round(rr, pairs, order, cfg):
    # Idle: 3 s after setup, then memory; then VmHWM reset for the peak under TCP.
    ready = [X for X in order if pairs[X].ok]
    before = {X: [cpu_ticks(p) for p in pairs[X].pids] for X in ready}
    time.sleep(3)
    for X in ready:
        pids = pairs[X].pids
        try:
            idle_cpu = sum(cpu_ticks(p) - b for p, b in zip(pids, before[X])) / CLK / 3 * 1000
            mems = [memory(p) for p in pids]
        except OSError as e:
            rr[X]["errors"].append("idle: %s" % e)
            pairs[X].ok = False
            continue
        rr[X]["idle"] = {"cpu_ms_per_s": idle_cpu, "rss": [m.get("VmRSS") for m in mems],
                         "hwm": [m.get("VmHWM") for m in mems], "pss": [m.get("Pss") for m in mems],
                         "threads": max(m.get("threads", 0) for m in mems)}
        rr[X]["hwm_reset"] = all(reset_hwm(p) for p in pids)
    tests = [t for t in TESTS if t in cfg.tests]
    tcp_tests = [t for t in tests if t in ("tcp", "tcpR")]
    for index, test in enumerate(tests):
        for X in (order if index % 2 == 0 else order[::-1]):
            pair = pairs[X]
            if not pair.ok or not pair.alive():
                continue
            try:
                if test == "ping":
                    res = test_ping(pair, cfg)
                    desc = "p50 %.3f ms" % res["p50_ms"]
                elif test == "hs":
                    res = test_peers(pair, cfg)
                    desc = "addconf %.2f s, %.1f MiB with %d peers" % (res["addconf_s"], res["rss"] or 0, cfg.peers)
                    if res.get("hs_per_s") is not None:
                        desc += ", %.0f hs/s, %.0f µs CPU/hs" % (res["hs_per_s"], res["hs_cpu_us"] or 0)
                else:
                    res = test_iperf(pair, test, cfg)
                    desc = "%.3f Gbit/s, %.1f CPU-s/GB" % (res["gbps"], res["cpu_per_gb"] or 0)
                rr[X][test] = res
                log("  %-4s %s %s" % (test, cfg.labels[X], desc))
            except Abort:
                raise
            except Exception as e:   # noqa: BLE001 - one failed test is reported, the round goes on
                rr[X]["errors"].append("%s: %s" % (test, e))
                log("  %-4s %s FAILED: %s" % (test, cfg.labels[X], e))
                if test in ("tcp", "tcpR", "udp") and pair.alive():
                    try:
                        pair.start_iperf_server()
                    except Exception as e2:   # noqa: BLE001
                        log("  iperf3 -s restart failed: %s" % e2)
        if tcp_tests and test == tcp_tests[-1]:
            for X in ready:
                if pairs[X].ok and rr[X].get("hwm_reset"):
                    try:
                        rr[X]["peak"] = [memory(p).get("VmHWM") for p in pairs[X].pids]
                    except OSError:
                        pass


def make_keys(work):
    keys = {"private": [], "public": [], "files": []}
    for i in (1, 2):
        private = run(["wg", "genkey"]).stdout.strip()
        public = run(["wg", "pubkey"], stdin=private + "\n").stdout.strip()
        path = os.path.join(work, "key%d" % i)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(private + "\n")
        keys["private"].append(private)
        keys["public"].append(public)
        keys["files"].append(path)
    return keys


def cmd_run(a):
    if os.geteuid() != 0:
        print("bench-tunnel: needs root (network namespaces)", file=sys.stderr)
        return 2
    cfg = argparse.Namespace()
    cfg.rounds = int(env("N", "5"))
    cfg.seconds = int(env("T", "5"))
    cfg.tests = [t for t in env("TESTS", ",".join(TESTS)).split(",") if t]
    cfg.peers = int(env("PEERS", "2048"))
    cfg.hs_msgs = int(env("HS_MSGS", "60000"))
    cfg.max_runtime = float(env("MAX_RUNTIME", "900"))
    cfg.outdir = env("OUTDIR", os.path.join(ROOT, ".build", "bench"))
    impls = {"A": a.wgd, "B": env("WG_GO", "wireguard-go")}
    cfg.labels = {"A": "wgd", "B": os.path.basename(shlex.split(impls["B"])[0])}
    for t in cfg.tests:
        if t not in TESTS:
            print("bench-tunnel: unknown test %r (known: %s)" % (t, ",".join(TESTS)), file=sys.stderr)
            return 2
    for tool in ["ip", "wg", "iperf3", "ping", "ss", "openssl", "strip"] + [shlex.split(i)[0] for i in impls.values()]:
        if shutil.which(tool) is None:
            print("bench-tunnel: %s not found" % tool, file=sys.stderr)
            return 2
    cfg.work = env("BENCH_WORK", "") or tempfile.mkdtemp(prefix="wgbench.")
    os.makedirs(cfg.outdir, exist_ok=True)
    os.makedirs(SOCK_DIR, exist_ok=True)
    cfg.track = Tracker(os.path.join(cfg.work, "state"))
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = os.path.join(cfg.outdir, stamp)

    def on_signal(signum, frame):
        raise Abort("signal %d" % signum)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)   # not inherited as ignored by the daemons

    meta = {"date": stamp, "host": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count(),
            "cpu": cpu_model(), "impls": impls, "rounds": cfg.rounds, "seconds": cfg.seconds,
            "tests": cfg.tests, "peers": cfg.peers, "notes": []}
    once = {}
    rounds = []
    t_start = time.monotonic()
    rc = 0
    try:
        for X in ("A", "B"):
            path = shutil.which(shlex.split(impls[X])[0])
            once["size_" + X] = binary_size(path)
        if a.crypto_log:
            once["crypto"] = parse_crypto_log(a.crypto_log)
        keys = make_keys(cfg.work)
        cfg.messages = None
        cfg.peers_conf = os.path.join(cfg.work, "peers.conf")
        conf = None
        if "hs" in cfg.tests:
            try:
                import cryptography  # noqa: F401
                log("making %d handshake initiations from %d initiators ..." % (cfg.hs_msgs, cfg.peers))
                t0 = time.monotonic()
                messages, conf = make_initiations(keys["public"][1], cfg.peers, cfg.hs_msgs, "fd00:2048::")
                cfg.messages = os.path.join(cfg.work, "initiations.bin")
                with open(cfg.messages, "wb") as f:
                    f.write(b"".join(messages))
                log("  done in %.1f s" % (time.monotonic() - t0))
            except ImportError:
                meta["notes"].append("no handshake figures: python3 has no `cryptography` module "
                                     "(Debian: python3-cryptography); 2,048-peer memory with random keys")
                log(meta["notes"][-1])
                conf = "\n".join("[Peer]\nPublicKey = %s\nAllowedIPs = fd00:2048::%x/128\n"
                                 % (base64.b64encode(os.urandom(32)).decode(), i + 1) for i in range(cfg.peers))
            with open(cfg.peers_conf, "w") as f:
                f.write(conf)
        for rnd in range(1, cfg.rounds + 1):
            if time.monotonic() - t_start > cfg.max_runtime:
                meta["notes"].append("stopped after %d rounds: MAX_RUNTIME %.0f s" % (rnd - 1, cfg.max_runtime))
                log(meta["notes"][-1])
                break
            order = ["A", "B"] if rnd % 2 else ["B", "A"]
            rr = {"first": order[0], "env": {}, "A": {"errors": []}, "B": {"errors": []}}
            rounds.append(rr)
            log("round %d/%d, %s first" % (rnd, cfg.rounds, cfg.labels[order[0]]))
            with open("/proc/loadavg") as f:
                rr["env"]["load1"] = float(f.read().split()[0])
            snap = tree_snapshot()
            t_round = time.monotonic()
            try:
                rr["env"]["openssl"] = openssl_speed()
            except RuntimeError as e:
                log("  openssl speed: %s" % e)
            pairs = {}
            try:
                for X in order:
                    pairs[X] = Pair(X, impls[X], cfg, keys, rnd)
                    pairs[X].up()
                    if pairs[X].ok:
                        rr[X]["setup_s"] = pairs[X].setup_s
                    else:
                        rr[X]["errors"].append("setup: %s" % pairs[X].error)
                run_round(rr, pairs, order, cfg)
            finally:
                for X in order:
                    if X in pairs:
                        pairs[X].down()
            for X in order:
                if pairs[X].error and not any(pairs[X].error in e for e in rr[X]["errors"]):
                    rr[X]["errors"].append(pairs[X].error)
            rr["env"]["foreign"] = foreign_cores(snap, tree_snapshot(), time.monotonic() - t_round, os.getpid())
            log("  round %d: %.0f s, other processes used %.2f cores" % (
                rnd, time.monotonic() - t_round, rr["env"]["foreign"]))
            write_json(base + ".json", meta, once, rounds)
    except Abort as e:
        meta["notes"].append("stopped by %s after %d round(s)" % (e, len(rounds)))
        log(meta["notes"][-1])
        rc = 130
    except Exception as e:   # noqa: BLE001 - report what was measured
        meta["notes"].append("run failed: %s" % e)
        log(meta["notes"][-1])
        rc = 1
    finally:
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        cfg.track.cleanup()
    meta["wall_s"] = time.monotonic() - t_start
    write_json(base + ".json", meta, once, rounds)
    if rounds:
        write_outputs(base, meta, once, rounds, cfg)
    return rc


def write_outputs(base, meta, once, rounds, cfg):
    """BASE.png and BASE.md from the figures; the markdown also on stdout."""
    rows = figures(rounds, cfg)
    write_png(base + ".png", [r for r in rows if r["chart"] and r["ratio"]])
    text = report(meta, once, rounds, rows, cfg, base)
    with open(base + ".md", "w") as f:
        f.write(text)
    sys.stdout.write(text)
    sys.stdout.flush()


def cmd_report(path):
    """The table and the chart again from a run's JSON (after a change to the report)."""
    with open(path) as f:
        data = json.load(f)
    meta = data["meta"]
    impls = meta["impls"]
    cfg = argparse.Namespace(peers=meta["peers"], seconds=meta["seconds"],
                             labels={"A": "wgd", "B": os.path.basename(shlex.split(impls["B"])[0])})
    write_outputs(os.path.splitext(path)[0], meta, data["once"], data["rounds"], cfg)
    return 0


def write_json(path, meta, once, rounds):
    with open(path, "w") as f:
        json.dump({"meta": meta, "once": once, "rounds": rounds}, f, indent=1)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def parse_crypto_log(path):
    """wgd-bench's seal figure (scripts/bench all tees its output there)."""
    with open(path) as f:
        text = f.read()
    found = re.search(r"seal\+open 1420 B, 1 thread: ([\d.]+) GB/s \(seal ([\d.]+) GB/s, open ([\d.]+) GB/s", text)
    return {"seal_open": float(found.group(1)), "seal": float(found.group(2)),
            "open": float(found.group(3))} if found else {}


# ------------------------------------------------------------------------------------------------
# Statistics and the report

def get(d, path):
    """A value in one round's record by a dotted path (tcp.gbps, idle.rss.0); None if absent.
    A path may start with mean: or sum: over a per-end list (idle.rss = [end 1, end 2])."""
    how, _, path = path.rpartition(":")
    for key in path.split("."):
        if key.isdigit():
            d = d[int(key)] if isinstance(d, list) and int(key) < len(d) else None
        else:
            d = d.get(key) if isinstance(d, dict) else None
    if how:
        if not d or None in d:
            return None
        return sum(d) / len(d) if how == "mean" else sum(d)
    return d


def parse_metrics(table):
    """Rows of `key | better | chart label | path | unit | label`: better is + (higher is
    better), - (lower) or . (neither); a chart label of . keeps the row out of the chart."""
    rows = []
    for line in table.strip().splitlines():
        key, better, short, path, unit, label = [cell.strip() for cell in line.split("|")]
        rows.append((key, label, unit, better.strip("."), None if short == "." else short, path))
    return rows


METRICS = parse_metrics("""
tcp       | + | TCP        | tcp.gbps           | Gbit/s   | TCP 1 stream →
tcpR      | + | TCP-R      | tcpR.gbps          | Gbit/s   | TCP 1 stream ← (-R)
udp       | + | UDP        | udp.gbps           | Gbit/s   | UDP received (-b 0 -l 1380)
udp_loss  | - | .          | udp.loss_pct       | %        | UDP loss
retr      | - | .          | tcp.retransmits    | count    | TCP 1 stream retransmits
lat       | - | PING       | ping.p50_ms        | ms       | ping RTT median (-i 0.01)
cpu_tcp   | - | CPU/GB     | tcp.cpu_per_gb     | CPU-s/GB | daemon CPU per GB, TCP →
cpu_tcpR  | - | CPU/GB-R   | tcpR.cpu_per_gb    | CPU-s/GB | daemon CPU per GB, TCP ←
cpu_udp   | - | CPU/GB UDP | udp.cpu_per_gb     | CPU-s/GB | daemon CPU per GB received, UDP
cores_tcp | . | .          | tcp.cores          | cores    | daemon CPU during TCP →
idle_cpu  | - | .          | idle.cpu_ms_per_s  | ms/s     | daemon CPU when idle (both; 3.3 ms/s a tick, no ratio)
rss_idle  | - | RSS IDLE   | mean:idle.rss      | MiB      | VmRSS idle, per daemon (mean of the ends)
pss_idle  | - | PSS IDLE   | mean:idle.pss      | MiB      | PSS idle, per daemon
peak      | - | PEAK       | sum:peak           | MiB      | peak RSS (VmHWM) over the TCP tests, both ends
threads   | . | .          | idle.threads       | count    | threads idle (max of the ends)
setup     | - | .          | setup_s            | s        | start → first ping reply
addconf   | - | ADDCONF    | hs.addconf_s       | s        | `wg addconf` of %d peers
peers_rss | - | PEERS RSS  | hs.rss             | MiB      | VmRSS with %d peers (end 2)
peers_pss | - | .          | hs.pss             | MiB      | PSS with %d peers
hs_rss    | - | .          | hs.rss_after_hs    | MiB      | VmRSS with %d peers, after the handshakes
hs        | + | HS/S       | hs.hs_per_s        | 1/s      | handshakes/s (responder, 64 outstanding)
hs_cpu    | - | HS CPU     | hs.hs_cpu_us       | µs       | responder CPU per handshake
cookies   | . | .          | hs.cookies         | count    | cookie replies (responder under load)
""")

SUMMARY = [("tcp", "tcp"), ("tcp-R", "tcpR"), ("udp", "udp"), ("lat", "lat"), ("cpu/GB", "cpu_tcp"),
           ("rss idle", "rss_idle"), ("pss idle", "pss_idle"), ("peak", "peak"), ("2048-peers rss", "peers_rss"),
           ("addconf", "addconf"), ("hs/s", "hs"), ("hs-cpu", "hs_cpu")]


def spread(values):
    values = [v for v in values if v is not None]
    return (statistics.median(values), min(values), max(values), len(values)) if values else None


def figures(rounds, cfg):
    rows = []
    for key, label, unit, better, short, path in METRICS:
        a = [get(rr["A"], path) for rr in rounds]
        b = [get(rr["B"], path) for rr in rounds]
        ratios = []
        for x, y in zip(a, b) if key != "idle_cpu" else ():   # one tick either way: no ratio
            if x is not None and y is not None:
                if y:
                    ratios.append(x / y)
                elif not x:
                    ratios.append(1.0)
        rows.append({"key": key, "label": label.replace("%d", str(cfg.peers)), "unit": unit, "better": better,
                     "short": short, "chart": short is not None, "a": spread(a), "b": spread(b),
                     "ratio": spread(ratios), "values": (a, b)})
    return rows


def num(v):
    if v is None:
        return "–"
    if isinstance(v, int) or v.is_integer():   # counts (and their medians), and exact zeros
        return "%d" % v
    size = abs(v)
    return "%.0f" % v if size >= 100 else "%.1f" % v if size >= 10 else "%.2f" % v if size >= 0.1 else "%.3f" % v


def cell(s):
    return "–" if s is None else "%s (%s–%s)" % (num(s[0]), num(s[1]), num(s[2]))


def report(meta, once, rounds, rows, cfg, base):
    la, lb = cfg.labels["A"], cfg.labels["B"]
    out = ["# scripts/bench tunnel: A = %s, B = %s" % (la, lb), ""]
    out.append("- %s, %s, Linux %s, %d CPUs (%s)" % (meta["date"], meta["host"], meta["kernel"], meta["cpus"], meta["cpu"]))
    out.append("- A: `%s -f IFNAME`; B: `%s -f IFNAME` (each started with setsid, as a service)" % (
        meta["impls"]["A"], meta["impls"]["B"]))
    out.append("- %d round(s), A/B order flipped every round and every test; iperf3 -t %d, MTU 1420; %.0f s in all" % (
        len(rounds), cfg.seconds, meta.get("wall_s", 0)))
    out.append("- files: %s.md, .png (the ratios), .json (every round)" % base)
    out += ["", "Values: median (min–max) over rounds. A/B: median (min–max) of the per-round ratios. "
            "↑ higher is better, ↓ lower is better. `#` numbers the bars of the chart, left to right.", ""]
    out.append("| # | metric | unit | better | A: %s | B: %s | A/B | n |" % (la, lb))
    out.append("|---|---|---|---|---|---|---|---|")
    bar = 0
    for row in rows:
        if row["a"] is None and row["b"] is None:
            continue
        mark = ""
        if row["chart"] and row["ratio"]:
            bar += 1
            mark = str(bar)
        ratio = row["ratio"]
        out.append("| %s | %s | %s | %s | %s | %s | %s | %d/%d |" % (
            mark, row["label"], row["unit"], {"+": "↑", "-": "↓"}.get(row["better"], ""), cell(row["a"]),
            cell(row["b"]), ("%.2f (%.2f–%.2f)" % ratio[:3]) if ratio else "–",
            row["a"][3] if row["a"] else 0, row["b"][3] if row["b"] else 0))
    out += ["", "Once, and the environment of the rounds:", "", "| metric | %s | reference | ratio |" % la, "|---|---|---|---|"]
    openssl = spread([rr["env"].get("openssl") for rr in rounds])
    crypto = once.get("crypto") or {}
    if crypto.get("seal") is not None and openssl:
        out.append("| AEAD seal 1420 B, 1 thread (wgd-bench) vs `openssl speed -evp chacha20-poly1305` | %.2f GB/s | %s GB/s | %.2f |"
                   % (crypto["seal"], cell(openssl), crypto["seal"] / openssl[0]))
    elif openssl:
        out.append("| `openssl speed -evp chacha20-poly1305`, 1420 B, 1 core (`scripts/bench all` adds wgd's loop) | – | %s GB/s | – |" % cell(openssl))
    for i, what in ((0, "stripped"), (1, "xz -9e")):
        a, b = once.get("size_A"), once.get("size_B")
        if a and b:
            out.append("| binary size, %s (reference: %s) | %.2f MB | %.2f MB | %.2f |" % (what, lb, a[i] / 1e6, b[i] / 1e6, a[i] / b[i]))
    foreign = spread([rr["env"].get("foreign") for rr in rounds])
    load = spread([rr["env"].get("load1") for rr in rounds])
    out.append("| CPU used by other processes during a round (the box is shared) | – | %s cores | – |" % cell(foreign))
    out.append("| loadavg (1 min) at round start | – | %s | – |" % cell(load))
    out += ["", "Per round (A / B):", ""]
    heads = [("tcp", "tcp Gbit/s"), ("udp", "udp Gbit/s"), ("cpu_tcp", "CPU-s/GB"), ("peak", "peak MiB"),
             ("hs", "hs/s"), ("hs_cpu", "µs/hs")]
    by_key = {row["key"]: row for row in rows}
    out.append("| round | first | " + " | ".join(h for _, h in heads) + " | other cores |")
    out.append("|---|---|" + "---|" * len(heads) + "---|")
    for i, rr in enumerate(rounds):
        cells = ["%s / %s" % (num(by_key[k]["values"][0][i]), num(by_key[k]["values"][1][i])) for k, _ in heads]
        out.append("| %d | %s | %s | %s |" % (i + 1, cfg.labels[rr["first"]], " | ".join(cells), num(rr["env"].get("foreign"))))
    errors = ["round %d %s: %s" % (i + 1, cfg.labels[X], e) for i, rr in enumerate(rounds) for X in "AB" for e in rr[X]["errors"]]
    notes = meta["notes"] + [
        "the %d peers each have one allowed /128 (fd00:2048::/64, configuration text only: the "
        "documentation /24s hold 768 /32s)" % cfg.peers,
        "PSS shares a page among the processes that map it: the two daemons of a pair share their "
        "binary's pages (and with any other process running the same file)"]
    if errors:
        out += ["", "Errors:", ""] + ["- " + e for e in errors[:40]]
    out += [""] + ["- note: " + n for n in notes]
    out += ["", " ".join("%s A/B=%s" % (name, ("%.2f" % by_key[k]["ratio"][0]) if by_key[k]["ratio"] else "n/a")
                         for name, k in SUMMARY)]
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------------
# The chart: one bar per ratio on a log scale around a 1.0 line, written as a PNG by hand (zlib
# and struct), labelled with a 3x5 pixel font.

FONT = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001001010010",
    "8": "111101111101111", "9": "111101111001111", "A": "010101111101101", "B": "110101110101110",
    "C": "011100100100011", "D": "110101101101110", "E": "111100110100111", "F": "111100110100100",
    "G": "011100101101011", "H": "101101111101101", "I": "111010010010111", "J": "001001001101010",
    "K": "101101110101101", "L": "100100100100111", "M": "101111111101101", "N": "110101101101101",
    "O": "010101101101010", "P": "110101110100100", "Q": "010101101110011", "R": "110101110101101",
    "S": "011100010001110", "T": "111010010010010", "U": "101101101101111", "V": "101101101101010",
    "W": "101101111111101", "X": "101101010101101", "Y": "101101010010010", "Z": "111001010100111",
    ".": "000000000000010", "/": "001001010100100", "-": "000000111000000", ":": "000010000010000",
    "=": "000111000111000", "(": "010100100100010", ")": "010001001001010", " ": "000000000000000",
    ",": "000000000010100", ">": "100010001010100", "<": "001010100010001",
}


class Canvas:
    def __init__(self, width, height):
        self.w, self.h = width, height
        self.px = bytearray(b"\xff" * (width * height * 3))

    def rect(self, x0, y0, x1, y1, rgb):
        x0, x1 = max(0, min(x0, x1)), min(self.w, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(self.h, max(y0, y1))
        line = bytes(rgb) * (x1 - x0)
        for y in range(y0, y1):
            self.px[(y * self.w + x0) * 3:(y * self.w + x1) * 3] = line

    def text(self, x, y, s, rgb=(0, 0, 0), scale=2):
        for ch in s.upper():
            bits = FONT.get(ch, FONT["-"])
            for i, bit in enumerate(bits):
                if bit == "1":
                    cx, cy = x + (i % 3) * scale, y + (i // 3) * scale
                    self.rect(cx, cy, cx + scale, cy + scale, rgb)
            x += 4 * scale

    def png(self):
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3:(y + 1) * self.w * 3]) for y in range(self.h))

        def chunk(kind, data):
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def text_width(s, scale=2):
    return 4 * scale * len(s) - scale


def write_png(path, rows):
    if not rows:
        return
    slot, left, top, bottom = 92, 70, 50, 60
    width, height = left + slot * len(rows) + 20, 460
    c = Canvas(width, height)
    lo = min(0.5, min(r["ratio"][1] for r in rows) / 1.25)
    hi = max(2.0, max(r["ratio"][2] for r in rows) * 1.25)
    e_lo, e_hi = math.floor(math.log2(lo)), math.ceil(math.log2(hi))

    def y_of(v):
        f = (math.log2(v) - e_lo) / (e_hi - e_lo)
        return int(round(height - bottom - f * (height - top - bottom)))

    c.text(left, 14, "WGD / WIREGUARD-GO, MEDIAN RATIO PER ROUND (LOG SCALE). GREEN: WGD BETTER, RED: WORSE")
    for e in range(e_lo, e_hi + 1):
        v = 2.0 ** e
        y = y_of(v)
        c.rect(left, y, width - 20, y + 1, (215, 215, 215))
        label = ("%g" % v) if v >= 1 else ("1/%d" % round(1 / v))
        c.text(left - 8 - text_width(label), y - 5, label, (90, 90, 90))
    one = y_of(1.0)
    for i, row in enumerate(rows):
        median, low, high = row["ratio"][:3]
        x0 = left + i * slot + 16
        x1 = x0 + slot - 32
        good = (median > 1) == (row["better"] == "+") if row["better"] and median != 1 else None
        colour = (60, 160, 80) if good else (205, 70, 60) if good is False else (130, 130, 130)
        c.rect(x0, y_of(median), x1, one, colour)
        mid = (x0 + x1) // 2
        c.rect(mid - 1, y_of(high), mid + 1, y_of(low) + 1, (30, 30, 30))
        c.rect(mid - 6, y_of(high), mid + 7, y_of(high) + 1, (30, 30, 30))
        c.rect(mid - 6, y_of(low), mid + 7, y_of(low) + 1, (30, 30, 30))
        value = num(median)
        vy = y_of(max(median, high)) - 18 if median >= 1 else y_of(min(median, low)) + 6
        c.text(mid - text_width(value) // 2, vy, value)
        for line, label in enumerate((str(i + 1), row["short"])):
            c.text(mid - text_width(label) // 2, height - bottom + 10 + 14 * line, label)
    c.rect(left, one - 1, width - 20, one + 1, (0, 0, 0))
    c.text(left - 8 - text_width("1"), one - 5, "1")
    with open(path, "wb") as f:
        f.write(c.png())


# ------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--wgd", required=True, help="the wgd binary (scripts/build-release)")
    r.add_argument("--crypto-log", help="wgd-bench output with the seal+open 1420 B line")
    c = sub.add_parser("cleanup")
    c.add_argument("state")
    p = sub.add_parser("report")
    p.add_argument("json", help="a run's .json: writes its .md and .png again")
    h = sub.add_parser("hs-send")
    h.add_argument("--messages", required=True)
    h.add_argument("--target", required=True)
    h.add_argument("--window", type=int, default=64)
    h.add_argument("--warmup", type=float, default=0.5)
    h.add_argument("--duration", type=float, default=3.0)
    h.add_argument("--stall", type=float, default=0.3)
    a = ap.parse_args()
    if a.cmd == "run":
        return cmd_run(a)
    if a.cmd == "cleanup":
        return cmd_cleanup(a.state)
    if a.cmd == "report":
        return cmd_report(a.json)
    return cmd_hs_send(a)


if __name__ == "__main__":
    sys.exit(main())
