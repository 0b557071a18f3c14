import CPrivilege
import Crypto
import Glibc

/// The data plane's system-call allow-list (seccomp through libseccomp): the calls it makes on
/// the descriptors the supervisor handed it, and nothing else. It can never open a file or a
/// socket, start a process or reach another one; DNS, the UAPI server, the socket watch and the
/// link monitor stay in the supervisor.
///
/// Taken from the running data plane: `strace -f` of `wgd -f`, which runs it whole in one
/// process, passing ping and iperf3 traffic both ways (workers, TUN reader, UDP reader, timer
/// thread), and `wgd --seccomp-selftest crash` for the way a fatal error reports itself. Names
/// of other architectures' calls (poll and open are not on aarch64, the *_time64 calls exist on
/// 32-bit ones only) are listed beside ours: libseccomp skips those a kernel does not have.
///
/// Three verdicts:
/// - allow: the data plane needs the call.
/// - fail with EPERM (clone3: ENOSYS): calls that library code makes by itself and survives
///   failing. libcrypto reads openssl.cnf at its first cipher (see `loadLazyLibraries`), newer
///   glibc reads /sys/devices/system/cpu/online when malloc makes an arena, glibc's syslog opens
///   a socket, stdio asks fstat and isatty about a stream, Swift's pthread_getattr_np reads
///   /proc/self/maps for the main thread's stack, and the crash handler spawns its backtracer.
///   Killing there would turn a harmless read into a dead data plane, and on some libc version
///   or other it would; failing opens nothing all the same.
/// - kill the process (SIGSYS): everything else, and any call through another ABI.
public enum DataPlaneFilter {
    /// Installs the filter for every thread of the calling process, for good. Call it after
    /// `Privileges.lockDownDataPlane` (which reads /proc/self/status: the filter would refuse
    /// the open) and after whatever else needs a file, before reading anything that comes from
    /// the network. Returns how many rules the kernel got, and the listed calls this
    /// architecture does not have.
    @discardableResult
    public static func install() throws(PrivilegeError) -> (rules: Int, absent: [String]) {
        loadLazyLibraries()
        let filter = try SeccompFilter()
        let summary = try add(rules(ownPID: getpid()), to: filter)
        try filter.load()
        return summary
    }

    /// What libraries would otherwise read from files the first time they are used, done while
    /// files can still be opened: libcrypto loads its configuration (openssl.cnf, as a worker's
    /// first ChaCha20-Poly1305 context does), so it applies as it would without the filter.
    static func loadLazyLibraries() {
        _ = ChaCha20Poly1305()
    }

    static func add(_ rules: [Rule], to filter: borrowing SeccompFilter) throws(PrivilegeError) -> (rules: Int, absent: [String]) {
        var added = 0
        var absent: [String] = []
        for rule in rules {
            if try filter.add(rule.name, rule.verdict, if: rule.condition) { added += 1 } else { absent.append(rule.name) }
        }
        return (added, absent)
    }

    struct Rule: Sendable {
        let name: String
        let verdict: SeccompFilter.Verdict
        let condition: SeccompFilter.Condition

        init(_ name: String, _ verdict: SeccompFilter.Verdict, _ condition: SeccompFilter.Condition = .always) {
            self.name = name
            self.verdict = verdict
            self.condition = condition
        }
    }

    // Numbers Swift's Glibc does not show (GNU or kernel headers).
    static let SIOCGIFMTU: UInt64 = 0x8921      // <linux/sockios.h>
    static let CLONE_THREAD: UInt64 = 0x0001_0000  // <linux/sched.h>

    /// The table. `pid` is the data plane's own: it never forks, so it signals only itself.
    static func rules(ownPID pid: Int32) -> [Rule] {
        // Packets and the control channel: the TUN (read, write), UDP in batches (recvmmsg,
        // sendmmsg), the supervisor's socket with SCM_RIGHTS (recvmsg, sendmsg; send and recv are
        // sendto and recvfrom), the wake pipes; glibc writes its fatal messages with writev.
        allow("read", "write", "readv", "writev", "recvmmsg", "recvmmsg_time64", "sendmmsg",
              "recvmsg", "sendmsg", "recvfrom", "sendto")
        // Waiting: the TUN and UDP readers poll beside a wake pipe; the timer thread sleeps 100 ms
        // at a time (usleep is clock_nanosleep in glibc, nanosleep in musl); a sigwait for SIGTERM.
        + allow("poll", "ppoll", "ppoll_time64", "clock_nanosleep", "clock_nanosleep_time64", "nanosleep",
                "rt_sigtimedwait", "rt_sigtimedwait_time64", "restart_syscall")
        // Descriptors handed over: closed at rebind and teardown, duplicated, made non-blocking or
        // close-on-exec; the wake pipes. fcntl for these commands only: F_SETOWN would let the
        // data plane aim SIGIO at the supervisor, which runs as the same user.
        + allow("close", "dup", "dup2", "dup3", "pipe", "pipe2")
        + [F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC].flatMap { command in
            ["fcntl", "fcntl64"].map { Rule($0, .allow, .equal(argument: 1, UInt64(command))) }
        }
        // The timer thread reads the TUN's MTU each second (SIOCGIFMTU, on a datagram socket the
        // supervisor hands over). Any other ioctl fails: stdio's isatty asks TCGETS.
        + [Rule("ioctl", .allow, .equal(argument: 1, SIOCGIFMTU)), Rule("ioctl", .fail(EPERM), .notEqual(argument: 1, SIOCGIFMTU))]
        // Threads: workers, readers, the timer thread. clone only with CLONE_THREAD: a thread,
        // never a process (fork and posix_spawn fail). clone3 passes its flags in memory that the
        // filter cannot read: ENOSYS, and glibc (2.34 on) falls back to clone.
        + [Rule("clone", .allow, .masked(argument: 0, mask: CLONE_THREAD, equals: CLONE_THREAD)),
           Rule("clone", .fail(EPERM), .masked(argument: 0, mask: CLONE_THREAD, equals: 0)),
           Rule("clone3", .fail(ENOSYS))]
        + allow("set_robust_list", "rseq", "futex", "futex_time64", "exit", "gettid", "getpid", "getppid",
                "sched_getaffinity", "sched_setaffinity", "sched_yield")
        // Thread names (pthread_setname_np), which ps -L and top -H show.
        + [Rule("prctl", .allow, .equal(argument: 0, UInt64(PR_SET_NAME)))]
        // Memory: malloc (brk, mmap, mremap, munmap; mprotect as an arena grows), thread stacks
        // and their guard pages, the buffer pool and the secret arena (mlock, MADV_DONTDUMP),
        // stacks given back (MADV_DONTNEED). Never executable: nothing maps code after start,
        // and an exploit's payload would need to.
        + allow("brk", "munmap", "mremap", "madvise", "mlock", "mlock2", "munlock", "mlockall", "munlockall")
        + ["mmap", "mmap2", "mprotect"].map { Rule($0, .allow, .masked(argument: 2, mask: UInt64(PROT_EXEC), equals: 0)) }
        // Time and randomness: the vDSO answers clock_gettime unless the clock source cannot be
        // read from user space (then it is a system call: common on MIPS and ARM routers);
        // getrandom for ephemeral keys, indices and cookies.
        + allow("clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64", "gettimeofday", "getrandom")
        // Signals and the way out: thread signal masks, the Swift runtime's crash handler
        // (sigaltstack, rt_sigaction, rt_sigreturn), abort() and a re-raised crash (tgkill, to
        // this process only), exit_group.
        + allow("rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigreturn", "sigaltstack", "exit_group")
        + [Rule("tgkill", .allow, .equal(argument: 0, UInt64(pid)))]
        // Fail, not kill (see the type's comment): opening anything, creating or connecting a
        // socket, executing, asking a file's metadata.
        + fail(EPERM, "open", "openat", "openat2", "creat", "socket", "socketpair", "connect", "execve", "execveat",
               "fstat", "fstat64", "newfstatat", "fstatat64", "statx", "lseek", "_llseek", "getdents64")
    }

    private static func allow(_ names: String...) -> [Rule] { names.map { Rule($0, .allow) } }

    private static func fail(_ errno: Int32, _ names: String...) -> [Rule] { names.map { Rule($0, .fail(errno)) } }
}
