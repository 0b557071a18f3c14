// `wgd --privilege-selftest USER IFNAME` (hidden; run as root by
// scripts/integration/t85-privileges.sh in a namespace of its own): this process drops as the
// router-mode supervisor does, shows what it kept, uses CAP_NET_ADMIN (creates a TUN named
// IFNAME and sets its MTU) and fails what needs more, then starts a data plane as the supervisor
// will (/proc/self/exe, which runs --seccomp-selftest). Every line of its own starts with
// "supervisor ".
import Glibc
import Supervisor
import System

func privilegeSelfTest(user name: String, interface: String) -> Never {
    guard geteuid() == 0 else { stopSupervisor("needs root") }
    let user: RunUser
    do { user = try RunUser.lookup(name) } catch { stopSupervisor("\(error)") }
    // Opened as root, as the supervisor opens its TUN queues before the drop: /dev/net/tun is
    // often root's alone (mode 600 where no udev rule makes it 666, as with mdev). Creating the
    // interface on it (TUNSETIFF) is what needs CAP_NET_ADMIN.
    let tun: FileDescriptor
    do { tun = FileDescriptor(taking: try retrying { open("/dev/net/tun", O_RDWR | O_CLOEXEC) }) } catch { stopSupervisor("open /dev/net/tun: \(error)") }
    say("supervisor user \(user.name): uid \(user.uid) gid \(user.gid)")
    do { try Privileges.dropSupervisor(to: user) } catch { stopSupervisor("drop: \(error)") }
    do { sayPrivileges(try ProcessStatus.read(), prefix: "supervisor ") } catch { say("supervisor status: \(error)") }
    let checks = [
        ("tun \(interface)", makeTun(interface, on: tun)),    // CAP_NET_ADMIN: kept
        ("bind udp port 1023", bindLowPort()),                // CAP_NET_BIND_SERVICE: gone
        ("setuid 0", setuid(0) == 0 ? "succeeded" : errno == EPERM ? "EPERM" : "errno \(errno)"),
    ]
    for (what, result) in checks { say("supervisor \(what): \(result)") }
    say("supervisor open /dev/net/tun now: \(outcome(open("/dev/net/tun", O_RDWR | O_CLOEXEC)))")  // told, not checked
    let child: String
    switch spawn("/proc/self/exe", ["--seccomp-selftest"]) {
    case .success(let pid): child = waitForExit(pid)
    case .failure(let error): child = "not started: errno \(error.code)"
    }
    say("supervisor data plane: \(child)")
    let expected = ["created, MTU set", "EACCES", "EPERM"]
    exit(checks.map(\.1) == expected && child == "exit 0" ? 0 : 1)
}

private func stopSupervisor(_ message: String) -> Never {
    say("supervisor " + message)
    exit(1)
}

/// TUNSETIFF (IFF_TUN | IFF_NO_PI) on `fd`, then SIOCSIFMTU: both need CAP_NET_ADMIN. The
/// interface is not persistent: it goes when the process ends.
private func makeTun(_ name: String, on fd: borrowing FileDescriptor) -> String {
    var request = ifreq()
    withUnsafeMutableBytes(of: &request.ifr_ifrn.ifrn_name) { out in
        for (i, byte) in name.utf8.prefix(out.count - 1).enumerated() { out[i] = byte }
    }
    request.ifr_ifru.ifru_flags = 0x0001 | 0x1000  // IFF_TUN | IFF_NO_PI (<linux/if_tun.h>)
    do {
        try withUnsafeMutableBytes(of: &request) { (raw) throws(Errno) in try fd.ioctl(0x4004_54CA /* TUNSETIFF */, raw.baseAddress!) }
    } catch {
        return "TUNSETIFF: \(error)"
    }
    let raw = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard raw >= 0 else { return "created; socket: errno \(errno)" }
    let control = FileDescriptor(taking: raw)
    request.ifr_ifru.ifru_mtu = 1380
    let set = withUnsafeMutableBytes(of: &request) { (try? control.ioctl(0x8922 /* SIOCSIFMTU */, $0.baseAddress!)) != nil }
    return set ? "created, MTU set" : "created; SIOCSIFMTU: errno \(errno)"
}

private func bindLowPort() -> String {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { return "socket: errno \(errno)" }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(1023).bigEndian
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    return result == 0 ? "succeeded" : errno == EACCES ? "EACCES" : "errno \(errno)"
}
