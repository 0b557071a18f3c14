import Glibc
import System

/// The user the supervisor runs as once it has opened what needs root (`--user NAME`, default
/// "wgd"), and the data plane with it.
public struct RunUser: Sendable, Equatable {
    public let name: String
    public let uid: UInt32
    /// The user's primary group: the only group the dropped process keeps.
    public let gid: UInt32

    public init(name: String, uid: UInt32, gid: UInt32) {
        self.name = name
        self.uid = uid
        self.gid = gid
    }

    /// Looks `name` up in the user database (getpwnam_r: /etc/passwd or whatever NSS says). Done
    /// before the drop, while every file can still be read.
    public static func lookup(_ name: String) throws(PrivilegeError) -> RunUser {
        var size = 1024
        while size <= 1 << 20 {
            var entry = passwd()
            var found: UnsafeMutablePointer<passwd>?
            // getpwnam_r writes the entry's strings into `buffer`; we keep only the numbers.
            var buffer = [CChar](repeating: 0, count: size)
            let status = buffer.withUnsafeMutableBufferPointer { getpwnam_r(name, &entry, $0.baseAddress!, size, &found) }
            if status == ERANGE { size *= 4; continue }
            // 0 with no entry, or ENOENT/ESRCH/EBADF/EPERM from some NSS modules: no such user.
            if status == 0 || [ENOENT, ESRCH, EBADF, EPERM].contains(status) {
                guard found != nil else { throw .noSuchUser(name) }
                return RunUser(name: name, uid: entry.pw_uid, gid: entry.pw_gid)
            }
            throw .userLookup(name, Errno(status))
        }
        throw .userLookup(name, Errno(ERANGE))
    }
}
