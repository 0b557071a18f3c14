// What both hidden self-tests (--seccomp-selftest, --privilege-selftest) share: output that
// makes no stdio call (stdio's fstat and isatty fail under the filter), and child processes.
import Glibc
import Supervisor

/// One line to standard output, with write(2) alone.
func say(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
}

/// What a system call that returns a descriptor (or -1) came to: "EPERM", "opened fd N", ...
func outcome(_ result: Int32) -> String {
    guard result < 0 else {
        close(result)
        return "succeeded (fd \(result))"
    }
    return errno == EPERM ? "EPERM" : "failed: \(String(cString: strerror(errno))) (errno \(errno))"
}

/// posix_spawn with an empty environment: the child's pid, or the errno it failed with.
func spawn(_ path: String, _ arguments: [String]) -> Result<pid_t, SpawnError> {
    var argv = ([path] + arguments).map { strdup($0) }
    defer { argv.forEach { free($0) } }
    argv.append(nil)
    var environment: [UnsafeMutablePointer<CChar>?] = [nil]
    var pid: pid_t = 0
    let status = posix_spawn(&pid, path, nil, nil, argv, &environment)
    return status == 0 ? .success(pid) : .failure(SpawnError(code: status))
}

struct SpawnError: Error {
    let code: Int32
}

/// "exit N" or "signal N" once `pid` has ended.
func waitForExit(_ pid: pid_t) -> String {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    // WIFEXITED and friends are macros: the layout is the kernel's (low 7 bits: the signal).
    let signal = status & 0x7F
    return signal == 0 ? "exit \((status >> 8) & 0xFF)" : "signal \(signal)"
}

/// The lines of /proc/self/status that tell a process's privileges.
let privilegeFields = ["Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Threads"]

func sayPrivileges(_ status: ProcessStatus, prefix: String) {
    for name in privilegeFields { say("\(prefix)\(name): \(status[name] ?? "?")") }
}
