import CPrivilege
import Glibc
import System

/// What the process holds now, read back from the kernel: the drop and the lock-down compare it
/// with what they asked for, and throw when anything differs.
public struct ProcessPrivileges: Sendable, Equatable {
    /// Real, effective and saved user ids.
    public var uids: [UInt32]
    /// Real, effective and saved group ids.
    public var gids: [UInt32]
    /// The supplementary groups.
    public var groups: [UInt32]
    public var capabilities: CapabilityState
    public var noNewPrivileges: Bool

    public static func current() throws(PrivilegeError) -> ProcessPrivileges {
        var uid: (UInt32, UInt32, UInt32) = (0, 0, 0)
        var gid: (UInt32, UInt32, UInt32) = (0, 0, 0)
        guard wgd_getresuid(&uid.0, &uid.1, &uid.2) == 0 else { throw .failed(step: "getresuid", .current) }
        guard wgd_getresgid(&gid.0, &gid.1, &gid.2) == 0 else { throw .failed(step: "getresgid", .current) }
        let noNewPrivileges = wgd_prctl(PR_GET_NO_NEW_PRIVS, 0)
        guard noNewPrivileges >= 0 else { throw .failed(step: "PR_GET_NO_NEW_PRIVS", .current) }
        return ProcessPrivileges(uids: [uid.0, uid.1, uid.2], gids: [gid.0, gid.1, gid.2], groups: try supplementaryGroups(),
                                 capabilities: try CapabilityState.current(), noNewPrivileges: noNewPrivileges == 1)
    }

    private static func supplementaryGroups() throws(PrivilegeError) -> [UInt32] {
        let count = getgroups(0, nil)
        guard count >= 0 else { throw .failed(step: "getgroups", .current) }
        var groups = [gid_t](repeating: 0, count: Int(count))
        let read = groups.withUnsafeMutableBufferPointer { getgroups(count, $0.baseAddress) }
        guard read >= 0 else { throw .failed(step: "getgroups", .current) }
        return Array(groups.prefix(Int(read)))
    }
}
