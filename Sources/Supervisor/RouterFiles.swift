import Glibc
import System

/// The files router mode keeps using once it runs as `--user`: the state file, which it replaces
/// on every change (so the user must be able to create and rename files in its directory), and
/// the UAPI socket directory, where it creates sockets for interfaces a reload adds and removes
/// them at the end.
enum RouterFiles {
    struct Refusal: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// As root, before the drop: the state file becomes the user's (it is the daemon's own file,
    /// rewritten whole on every change; mode 0600 stays), so that SIGHUP can read it again.
    static func prepareStateFile(_ path: String, for user: RunUser) throws(Refusal) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw Refusal("\(path): \(Errno.current)") }
        guard info.st_uid != user.uid || info.st_gid != user.gid else { return }
        guard chown(path, user.uid, user.gid) == 0 else { throw Refusal("cannot give \(path) to user \(user.name): \(Errno.current)") }
    }

    /// As the user, after the drop: a file can be created in the state file's directory (a
    /// refusal here beats a failed `wg set` later).
    static func checkStateDirectory(_ path: String, for user: RunUser) throws(Refusal) {
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? "."
        let probe = directory + "/.wgd-probe-\(getpid())"
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw Refusal("user \(user.name) cannot create files in \(directory) (\(Errno.current)), where the state file is replaced on each change: chown \(user.name) \(directory)")
        }
        close(fd)
        unlink(probe)
    }

    /// As root, before the drop: room to lock each data plane's packet buffers and key memory
    /// (mlock), which the run user, without CAP_IPC_LOCK, may otherwise not have (the default limit
    /// is 8 MiB, or 64 KiB on older kernels). Children inherit the limit.
    static func raiseLockedMemoryLimit(interfaces: Int, buffers: Int) {
        // An everyday buffer is 1,600 bytes at MTU 1500; 2 KiB each leaves room, plus 4 MiB for
        // the secret arena and the rest of the data plane's locked pages.
        let perInterface = UInt64(buffers) * 2048 + (4 << 20)
        let wanted = rlim_t(perInterface * UInt64(max(interfaces, 1)) * 2)  // twice: a reload may add as many again
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue), &limit) == 0 else { return }
        guard limit.rlim_cur != rlim_t.max, limit.rlim_cur < wanted else { return }
        var raised = limit
        raised.rlim_cur = wanted
        if raised.rlim_max != rlim_t.max { raised.rlim_max = max(raised.rlim_max, wanted) }
        guard setrlimit(__rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue), &raised) != 0 else { return }
        // Without CAP_SYS_RESOURCE (a container) the hard limit stays: take all of it.
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(__rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue), &limit)
    }

    /// As root, once daemonized: the supervisor's PID, for an init script's start-stop-daemon
    /// (written atomically, so that a reader never sees half a number).
    static func writePIDFile(_ path: String) throws(Refusal) {
        do {
            try AtomicFile.write(Array("\(getpid())\n".utf8), to: path)
        } catch {
            throw Refusal("cannot write the PID file \(path): \(error)")
        }
    }

    /// As root, before the drop: the socket directory lets the user's group create and remove
    /// sockets (0775, group the user's), as it must for an interface a reload adds.
    static func prepareSocketDirectory(_ path: String, for user: RunUser) throws(Refusal) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw Refusal("\(path): \(Errno.current)") }
        let groupWritable = info.st_gid == user.gid && info.st_mode & 0o070 == 0o070
        guard !groupWritable else { return }
        guard chown(path, info.st_uid, user.gid) == 0, chmod(path, (info.st_mode & 0o7707) | 0o070) == 0 else {
            throw Refusal("cannot let group \(user.gid) write in \(path): \(Errno.current)")
        }
    }
}
