import DataPlane
import System
import Glibc

/// Which file a path names, so that we never unlink a socket some other daemon bound after ours
/// was deleted.
struct FileIdentity: Equatable, Sendable {
    let device: UInt64
    let inode: UInt64

    /// The socket at `path` (not following a symlink), nil if there is none.
    init?(socketAt path: String) {
        guard let identity = path.withCString({ FileIdentity(socketAt: $0) }) else { return nil }
        self = identity
    }

    /// The same for a C path made once: no String conversion, so nothing allocates (the socket
    /// watch runs it on every event in a directory that other daemons share).
    init?(socketAt path: UnsafePointer<CChar>) {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}
