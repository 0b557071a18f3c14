import DataPlane
import System
import Glibc

/// The listening socket and what watches its file. Closed only by `stop()`, after the socket
/// file is removed: while it is open, the file's inode cannot be reused, so comparing inodes
/// never mistakes a successor's socket for ours.
final class ListeningSocket: Sendable {
    let socket: FileDescriptor
    let watch: SocketWatch

    init(socket: consuming FileDescriptor, watch: consuming SocketWatch) {
        self.socket = socket
        self.watch = watch
    }
}

/// How `<directory>/<name>.sock` comes to exist, as wireguard-go makes it: directory 0755,
/// socket 0700, a stale socket replaced, a live one left alone.
enum SocketFile {
    /// mkdir -p; directories we create get 0755 whatever the umask.
    static func makeDirectory(_ path: String) throws(Errno) {
        if mkdir(path, 0o755) == 0 {
            _ = try retrying { chmod(path, 0o755) }
            return
        }
        switch errno {
        case EEXIST:
            return
        case ENOENT:
            guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { throw Errno(ENOENT) }
            try makeDirectory(String(path[..<slash]))
            try makeDirectory(path)
        default:
            throw Errno.current
        }
    }

    /// A socket bound to `path` and listening. A socket file nobody answers on is replaced; nil
    /// means a live server answers there (then the file is left alone).
    static func bindListening(_ path: String) throws(Errno) -> FileDescriptor? {
        // Someone may bind between our unlink and bind; then the next round sees them.
        for _ in 0..<3 {
            do {
                return try bindOnce(path)
            } catch where error == .addressInUse {
                guard try isStale(path) else { return nil }
                if unlink(path) != 0, errno != ENOENT { throw Errno.current }
            }
        }
        throw Errno.addressInUse
    }

    /// Removes the socket file if `path` still names the socket we bound (and not one that a
    /// successor bound after ours was deleted).
    static func remove(_ path: String, ifStill identity: FileIdentity) {
        if FileIdentity(socketAt: path) == identity { unlink(path) }
    }

    private static func bindOnce(_ path: String) throws(Errno) -> FileDescriptor {
        let socket = try FileDescriptor.unixStream()
        // bind creates the file with the socket inode's mode minus the umask: setting the mode
        // here gives 0700 without touching the umask, which is process-wide and would race with
        // other threads creating files (wireguard-go sets umask 077 around bind instead).
        _ = try retrying { fchmod(socket.rawValue, 0o700) }
        try socket.bind(unixPath: path)
        // Belt and braces for a kernel that ignores the inode's mode: never leave it group- or
        // world-accessible, even for a moment longer than this.
        var info = stat()
        if lstat(path, &info) == 0, info.st_mode & 0o077 != 0 { _ = try retrying { chmod(path, 0o700) } }
        try socket.listen(backlog: SOMAXCONN)
        try socket.setNonBlocking()  // a client that leaves between poll and accept must not block us
        return socket
    }

    /// Whether the socket file at `path` has no server behind it.
    private static func isStale(_ path: String) throws(Errno) -> Bool {
        do {
            _ = try FileDescriptor.connectedUnixStream(to: path)
            return false
        } catch {
            switch error.code {
            case EAGAIN: return false  // alive, with a full backlog
            case ECONNREFUSED, ENOENT: return true
            default: throw error
            }
        }
    }
}
