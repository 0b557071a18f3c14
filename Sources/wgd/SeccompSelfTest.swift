// `wgd --seccomp-selftest [kill|crash]` (hidden; scripts/integration/t85-privileges.sh): this
// process becomes a data plane as router mode makes one (lock-down, then the allow-list), does
// what a data plane does, then what it must not. Every line starts with "data-plane ".
import Crypto
import DataPlane
import Glibc
import Supervisor
import Synchronization
import System

func seccompSelfTest(_ mode: String?) -> Never {
    // Handed over before the filter, as the supervisor hands the data plane its descriptors: a
    // UDP socket on the loopback, and /proc/self/status, whose text the kernel writes at the
    // first read (so it tells what holds after the filter).
    let udp = loopbackSocket()
    let status: FileDescriptor
    do { status = FileDescriptor(taking: try retrying { open("/proc/self/status", O_RDONLY | O_CLOEXEC) }) } catch { stop("cannot open /proc/self/status: \(error)") }
    do { try Privileges.lockDownDataPlane(expectedParent: getppid()) } catch { stop("lock-down: \(error)") }
    let installed: (rules: Int, absent: [String])
    do { installed = try DataPlaneFilter.install() } catch { stop("filter: \(error)") }
    say("data-plane filter: \(installed.rules) rules; not on this architecture: \(Set(installed.absent).sorted().joined(separator: " "))")
    do { sayPrivileges(try ProcessStatus.read(from: status), prefix: "data-plane ") } catch { say("data-plane status: \(error)") }
    switch mode {
    case "kill":
        var names = utsname()
        _ = uname(&names)  // on no list: the kernel kills the process here
        stop("uname returned: the filter did not kill")
    case "crash":
        fatalError("seccomp self-test: a deliberate crash")
    default: break
    }
    let problems = allowedWork(udp)
    say("data-plane allowed: " + (problems.isEmpty ? "ok" : "FAILED: " + problems.joined(separator: "; ")))
    let refused = [
        ("openat /etc/hostname", outcome(open("/etc/hostname", O_RDONLY | O_CLOEXEC))),
        ("socket AF_INET SOCK_DGRAM", outcome(socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0))),
        ("spawn /bin/true", spawnOutcome()),
        ("isatty 1", isatty(1) == 0 && errno == EPERM ? "EPERM" : "errno \(errno)"),
    ]
    for (what, result) in refused { say("data-plane \(what): \(result)") }
    exit(problems.isEmpty && refused.allSatisfy { $0.1 == "EPERM" } ? 0 : 1)
}

private func stop(_ message: String) -> Never {
    say("data-plane " + message)
    exit(1)
}

private func spawnOutcome() -> String {
    switch spawn("/bin/true", []) {
    case .success(let pid): "succeeded (pid \(pid))"
    case .failure(let error): error.code == EPERM ? "EPERM" : "failed: errno \(error.code)"
    }
}

/// What a data plane does, after the filter: nil or the problem, for each.
private func allowedWork(_ udp: borrowing LoopbackSocket) -> [String] {
    var problems = workerThread()
    problems += wakePipe()
    problems += datagrams(on: udp.fd, port: udp.port)
    var now = timespec()
    if clock_gettime(CLOCK_BOOTTIME, &now) != 0 { problems.append("clock_gettime: errno \(errno)") }
    if usleep(1000) != 0 { problems.append("usleep: errno \(errno)") }
    return problems
}

/// A worker: a named thread pinned to a CPU, with a heap arena of its own, its own cipher
/// context, handshake arithmetic and random bytes (keys in the mlocked secret arena).
private func workerThread() -> [String] {
    let found = Mutex<[String]>(["the thread did not run"])
    let running = ThreadGroup()
    _ = running.enter()
    do {
        try Threads.spawn(name: "wgd-selftest", cpu: Threads.allowedCPUs().first) {
            defer { running.leave() }
            let problems = cryptoWork()
            found.withLock { $0 = problems }
        }
    } catch {
        running.leave()
        return ["thread: \(error)"]
    }
    running.wait()
    return found.withLock { $0 }
}

private func cryptoWork() -> [String] {
    var problems: [String] = []
    let large = [UInt8](repeating: 7, count: 1 << 20)  // mmap'ed, beyond malloc's threshold
    if large.reduce(0, { $0 &+ Int($1) }) != 7 << 20 { problems.append("allocation") }
    let aead = ChaCha20Poly1305()
    let key = [UInt8](repeating: 1, count: 32)
    var message = [UInt8](repeating: 2, count: 64)
    var tag = [UInt8](repeating: 0, count: 16)
    let opened = key.withUnsafeBytes { k in
        message.withUnsafeMutableBytes { m in
            tag.withUnsafeMutableBytes { t in
                aead.seal(key: k.baseAddress!, counter: 1, message: m, tag: t.baseAddress!)
                return aead.open(key: k.baseAddress!, counter: 1, message: m, tag: t.baseAddress!)
            }
        }
    }
    if !opened || message != [UInt8](repeating: 2, count: 64) { problems.append("ChaCha20-Poly1305") }
    let ours = PrivateKey.generate(), theirs = PrivateKey.generate()
    if X25519.sharedSecret(ours.secret, theirs.publicKey) == nil { problems.append("X25519") }
    return problems
}

/// A wake pipe, as the TUN and UDP readers poll beside their descriptor, and a dup of it.
private func wakePipe() -> [String] {
    do {
        let pipe = try WakePipe()
        pipe.signal()
        var poll = PollSet()
        poll.add(pipe.pollable)
        guard try poll.wait(milliseconds: 1000) == 1 else { return ["wake pipe: not readable"] }
        pipe.drain()
        let copy = FileDescriptor(taking: try retrying { dup(pipe.pollable) })
        _ = copy
        return []
    } catch {
        return ["wake pipe: \(error)"]
    }
}

/// A datagram to ourselves on the socket handed over, and the MTU ioctl the timer thread makes.
private func datagrams(on fd: borrowing FileDescriptor, port: UInt16) -> [String] {
    var problems: [String] = []
    var address = loopback(port: port)
    var payload: UInt64 = 0x5767_6473_656c_6674
    let sent = withUnsafeBytes(of: &payload) { bytes in
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd.rawValue, bytes.baseAddress, 8, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
    var received: UInt64 = 0
    let got = withUnsafeMutableBytes(of: &received) { recv(fd.rawValue, $0.baseAddress, 8, 0) }
    if sent != 8 || got != 8 || received != payload { problems.append("loopback datagram: sent \(sent), received \(got), errno \(errno)") }
    var request = ifreq()
    withUnsafeMutableBytes(of: &request.ifr_ifrn.ifrn_name) { $0[0] = UInt8(ascii: "l"); $0[1] = UInt8(ascii: "o") }
    do {
        try withUnsafeMutableBytes(of: &request) { (raw) throws(Errno) in try fd.ioctl(0x8921 /* SIOCGIFMTU */, raw.baseAddress!) }
        if request.ifr_ifru.ifru_mtu <= 0 { problems.append("SIOCGIFMTU: \(request.ifr_ifru.ifru_mtu)") }
    } catch {
        problems.append("SIOCGIFMTU: \(error)")
    }
    return problems
}

/// A UDP socket bound to 127.0.0.1 on a port the kernel picks.
private struct LoopbackSocket: ~Copyable {
    let fd: FileDescriptor
    let port: UInt16
}

/// Made before the filter (the loopback must be up).
private func loopbackSocket() -> LoopbackSocket {
    let raw = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard raw >= 0 else { stop("socket: errno \(errno)") }
    let fd = FileDescriptor(taking: raw)
    var address = loopback(port: 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(raw, $0, length) == 0 && getsockname(raw, $0, &length) == 0 }
    }
    guard bound else { stop("cannot bind 127.0.0.1 (is the loopback up?): errno \(errno)") }
    return LoopbackSocket(fd: fd, port: UInt16(bigEndian: address.sin_port))
}

private func loopback(port: UInt16) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return address
}
