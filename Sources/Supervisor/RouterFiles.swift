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
