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
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}
