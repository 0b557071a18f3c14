// wgd: the command line. Thin by design: it parses arguments and hands over to the layers below.
import Crypto
import Glibc
import Supervisor

let version = "0.1.0"

let usage = """
Usage: wgd [-f|--foreground] [--cpus LIST] [--buffers N] [--large-buffers N] IFNAME
       wgd --state FILE [-f|--foreground] [--user NAME] [--buffers N] [--large-buffers N]
       wgd --state FILE --check
       wgd --state FILE --public-key IFNAME | --set-private-key IFNAME < KEY
       wgd genkey | pubkey | genpsk | --version | --help

Runs a WireGuard interface IFNAME, configured with `wg` through /var/run/wireguard/IFNAME.sock,
as wireguard-go does (wg-quick: WG_QUICK_USERSPACE_IMPLEMENTATION=wgd). Without -f it returns
once the interface and its socket exist. LOG_LEVEL=verbose|error|silent (default error).

  -f, --foreground   stay in the foreground, log to standard error
  --cpus LIST        CPUs for the crypto workers, e.g. 0,1 or 0-3 (default: all allowed)
  --buffers N        packet buffers for MTUs up to 1500, resident only once used (default 4096)
  --large-buffers N  64 KiB buffers for larger MTUs, resident only once used (default 256)

Router mode: --state FILE runs every interface the state file describes (see the README),
and writes each change made with `wg` to the file before it answers. SIGHUP re-reads the
file. Without -f it returns once every interface and its socket exist.
  --user NAME        the user to run as once privileged setup is done (default wgd)
  --pidfile FILE     write the supervisor's PID to FILE once it has daemonized
  --state FILE --check
                     validate a state file and print a summary; exit status 1 and the
                     reason if it is not valid
  --state FILE --public-key IFNAME
                     print the interface's public key (exit status 4: it has no key)
  --state FILE --set-private-key IFNAME
                     give the interface the private key on standard input, if it has none
                     (exit status 5: it has one, which is kept; 6: not a valid key), and
                     print its public key; for factory provisioning (wgd-provision).
                     Exit status 1: the file is not valid; 3: no such interface; 7: the
                     write failed

Key tools (same formats as wg, so a firmware image needs no wireguard-tools to provision):
  genkey        print a new private key (base64)
  pubkey        read a private key on standard input, print its public key
  genpsk        print a new preshared key (base64)

  --version     print the version
  --help        print this help
"""

func fail(_ message: String, code: Int32 = 1) -> Never {
    var err = StandardError()
    print("wgd: \(message)", to: &err)
    exit(code)
}

/// File descriptor 2 directly: the C `stderr` global is shared mutable state to Swift 6.
struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        var text = string
        text.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

func genkey() {
    print(PrivateKey.generate().secret.withUnsafeBytes { KeyEncoding.base64($0) })
}

func genpsk() {
    print(PresharedKey.generate().secret.withUnsafeBytes { KeyEncoding.base64($0) })
}

/// Like `wg pubkey`: the key is the first line of standard input, surrounding white space ignored.
/// The line is read into scratch memory rather than a String, so that its text is cleared, and
/// decoded straight into the key's slot.
func pubkey() {
    guard let key = readPrivateKey() else { fail("Key is not the correct length or format") }
    print(key.publicKey)
}

/// The private key on the first line of standard input, or nil when there is none.
func readPrivateKey() -> PrivateKey? {
    Zeroize.withScratch(128) { line -> PrivateKey? in
        guard let length = readFirstLine(into: line) else { return nil }
        var start = 0, end = length
        func isSpace(_ c: UInt8) -> Bool { c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") }
        while start < end, isSpace(line[start]) { start += 1 }
        while end > start, isSpace(line[end - 1]) { end -= 1 }
        guard let secret = KeyEncoding.secretFromBase64(UnsafeRawBufferPointer(rebasing: line[start..<end])) else { return nil }
        return PrivateKey(secret)
    }
}

/// Standard input up to its first newline (or its end), into `buffer`: the line's length, or nil
/// when it does not fit (no key's line is that long).
func readFirstLine(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
    var filled = 0
    while filled < buffer.count {
        let n = read(0, buffer.baseAddress! + filled, buffer.count - filled)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return filled }
        if let newline = UnsafeRawBufferPointer(rebasing: buffer[filled..<filled + n]).firstIndex(of: 10) { return filled + newline }
        filled += n
    }
    return nil
}

/// "0,2-3" → [0, 2, 3].
func parseCPUs(_ text: String) -> [Int32]? {
    var cpus: [Int32] = []
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
        let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...2).contains(bounds.count), let low = Int32(bounds[0]), let high = Int32(bounds.last!),
              low >= 0, low <= high, high < 4096 else { return nil }
        cpus += Array(low...high)
    }
    return cpus.isEmpty ? nil : cpus
}

/// `--state FILE`: router mode, or with `--check` the validation alone.
func runState(_ arguments: [String]) -> Never {
    var path: String?
    var check = false
    var keyCommand: (set: Bool, interface: String)?
    var options = RouterOptions(statePath: "")
    var rest = arguments[...]
    while let argument = rest.popFirst() {
        switch argument {
        case "--state":
            guard path == nil, let value = rest.popFirst() else { fail("--state takes one FILE") }
            path = value
        case "--check": check = true
        case "--public-key", "--set-private-key":
            guard keyCommand == nil, let name = rest.popFirst(), !name.isEmpty else { fail("\(argument) takes one IFNAME") }
            keyCommand = (argument == "--set-private-key", name)
        case "--pidfile":
            guard let value = rest.popFirst(), !value.isEmpty else { fail("--pidfile takes a FILE") }
            options.pidFile = value
        case "-f", "--foreground": options.foreground = true
        case "--user":
            guard let value = rest.popFirst(), !value.isEmpty else { fail("--user takes a user name") }
            options.user = value
        case "--buffers": options.buffers = bufferCount(rest.popFirst(), 64...1_048_576, "--buffers")
        case "--large-buffers": options.largeBuffers = bufferCount(rest.popFirst(), 8...65_536, "--large-buffers")
        default: fail("unexpected argument '\(argument)' with --state; see wgd --help")
        }
    }
    guard let path else { fail("--check needs --state FILE") }
    if check {
        let outcome = StateFileCheck.run(path: path)
        if outcome.status != 0 { fail(outcome.message, code: outcome.status) }
        print(outcome.message)
        exit(0)
    }
    if let keyCommand {
        let outcome = keyCommand.set
            ? StateFileKey.setPrivateKey(path: path, interface: keyCommand.interface, key: readPrivateKey())
            : StateFileKey.publicKey(path: path, interface: keyCommand.interface)
        if outcome.status != .done { fail(outcome.message, code: outcome.status.rawValue) }
        print(outcome.message)
        exit(0)
    }
    options.statePath = path
    options.logLevel = LogLevel(environment: getenv("LOG_LEVEL").map { String(cString: $0) })
    exit(Router.run(options))
}

func bufferCount(_ value: String?, _ range: ClosedRange<Int>, _ flag: String) -> Int {
    guard let value, let n = Int(value), range.contains(n) else { fail("\(flag) takes a number from \(range.lowerBound) to \(range.upperBound)") }
    return n
}

func runDaemon(_ arguments: [String]) -> Never {
    var name: String?
    var options = DaemonOptions(interface: "")
    var rest = arguments[...]
    while let argument = rest.popFirst() {
        switch argument {
        case "-f", "--foreground": options.foreground = true
        case "--cpus":
            guard let value = rest.popFirst(), let cpus = parseCPUs(value) else { fail("--cpus takes a list like 0,1 or 0-3") }
            options.cpus = cpus
        case "--buffers": options.buffers = bufferCount(rest.popFirst(), 64...1_048_576, "--buffers")
        case "--large-buffers": options.largeBuffers = bufferCount(rest.popFirst(), 8...65_536, "--large-buffers")
        default:
            guard name == nil, !argument.hasPrefix("-") || argument == "-" else { fail("unexpected argument '\(argument)'; see wgd --help") }
            name = argument
        }
    }
    guard let name else { fail("no interface name; see wgd --help") }
    options.interface = name
    options.logLevel = LogLevel(environment: getenv("LOG_LEVEL").map { String(cString: $0) })
    exit(Daemon.run(options))
}

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "genkey" where arguments.count == 1: genkey()
case "genpsk" where arguments.count == 1: genpsk()
case "pubkey" where arguments.count == 1: pubkey()
case "--version", "-v": print("wgd \(version)")
case "--help", "-h": print(usage)
case nil: print(usage); exit(1)
case "--data-plane" where arguments.count == 3:
    // Router mode's data plane, started by the supervisor (not for use by hand): IFNAME and the
    // supervisor's PID (a child that asked getppid() after its parent died would get init).
    guard let parent = Int32(arguments[2]) else { fail("--data-plane takes IFNAME and the supervisor's PID") }
    exit(DataPlaneProcess.run(interface: arguments[1]) { () throws(PrivilegeError) in
        try Privileges.lockDownDataPlane(expectedParent: parent)
        try DataPlaneFilter.install()
    })
// Hidden: router mode's privilege primitives, for scripts/integration/t85-privileges.sh.
case "--seccomp-selftest" where arguments.count <= 2: seccompSelfTest(arguments.dropFirst().first)
case "--privilege-selftest" where arguments.count == 3: privilegeSelfTest(user: arguments[1], interface: arguments[2])
case _ where arguments.contains("--state") || arguments.contains("--check"): runState(arguments)
default: runDaemon(arguments)
}
