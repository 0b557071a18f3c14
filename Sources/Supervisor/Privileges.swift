import CPrivilege
import Glibc
import System

/// Router mode's two privilege changes (docs/ARCHITECTURE.md, Supervisor):
/// - the supervisor, once it has opened what needs root, becomes `--user` keeping CAP_NET_ADMIN
///   alone (permitted and effective; nothing inheritable or ambient), with no_new_privs;
/// - the data plane, a child of the supervisor running the same binary, holds no capability at
///   all, has no_new_privs, and dies with its parent (SIGKILL).
/// Each reads back what it did and throws if anything is not as asked: the process must then
/// exit. Both run while the process has one thread: capabilities, keepcaps and no_new_privs
/// belong to each thread, so threads started earlier would keep what the caller gave up.
public enum Privileges {
    /// Drops the supervisor from root to `user`, keeping CAP_NET_ADMIN only. Irreversible.
    public static func dropSupervisor(to user: RunUser) throws(PrivilegeError) {
        guard user.uid != 0 else { throw .rootUser(user.name) }
        try requireOneThread()
        let keep = CapabilitySet.netAdmin
        // The bounding set first, while CAP_SETPCAP is ours: nothing this process or a child runs
        // can gain more, even a file with capabilities. Started without CAP_SETPCAP (a container),
        // the set stays; the permitted set and no_new_privs hold the process all the same.
        let boundingLimited = wgd_caps_limit_bounding(keep.rawValue) == 0
        try call("setgroups") { var group = gid_t(user.gid); return setgroups(1, &group) }
        try call("setresgid") { wgd_setresgid(user.gid, user.gid, user.gid) }
        // Without keepcaps, leaving uid 0 for good clears the permitted set along with the rest.
        try call("PR_SET_KEEPCAPS") { wgd_prctl(PR_SET_KEEPCAPS, 1) }
        try call("setresuid") { wgd_setresuid(user.uid, user.uid, user.uid) }
        try call("cap_set_proc") { wgd_caps_set(keep.rawValue) }
        try call("clearing the ambient set") { wgd_caps_clear_ambient() }
        try call("PR_SET_KEEPCAPS off") { wgd_prctl(PR_SET_KEEPCAPS, 0) }
        // The data plane runs as the same user: were the supervisor dumpable, any process of that
        // user could ptrace it and borrow CAP_NET_ADMIN. (The uid change already cleared it unless
        // fs.suid_dumpable says otherwise; this makes it so whatever that setting.)
        try call("PR_SET_DUMPABLE") { wgd_prctl(PR_SET_DUMPABLE, 0) }
        try call("PR_SET_NO_NEW_PRIVS") { wgd_prctl(PR_SET_NO_NEW_PRIVS, 1) }
        try verify(user: user, capabilities: keep, boundingLimited: boundingLimited)
    }

    /// Locks down the data plane at its start, before any thread: no capability in any set,
    /// no_new_privs, not dumpable (it holds keys), and SIGKILL when the supervisor dies.
    /// `expectedParent` is the supervisor's pid as it passed it (a child that asked getppid()
    /// after the parent died would get init, or a subreaper, and never know).
    public static func lockDownDataPlane(expectedParent: Int32) throws(PrivilegeError) {
        try requireOneThread()
        // The death signal first, then the check: a parent that dies after the check kills us, and
        // one that died before it shows.
        try call("PR_SET_PDEATHSIG") { wgd_prctl(PR_SET_PDEATHSIG, UInt(SIGKILL)) }
        let parent = getppid()
        guard parent == expectedParent else { throw .parentGone(expected: expectedParent, found: parent) }
        // Possible only while CAP_SETPCAP is held (a data plane started as root, in tests); the
        // empty permitted set below makes the bounding set moot anyway.
        _ = wgd_caps_limit_bounding(0)
        // execve already emptied the sets of a child that is not root, unless the binary carries
        // file capabilities: clear them whatever the way here.
        try call("cap_set_proc") { wgd_caps_set(0) }
        try call("clearing the ambient set") { wgd_caps_clear_ambient() }
        try call("PR_SET_NO_NEW_PRIVS") { wgd_prctl(PR_SET_NO_NEW_PRIVS, 1) }
        try call("PR_SET_DUMPABLE") { wgd_prctl(PR_SET_DUMPABLE, 0) }
        try verifyLockedDown()
    }

    private static func verify(user: RunUser, capabilities keep: CapabilitySet, boundingLimited: Bool) throws(PrivilegeError) {
        let now = try ProcessPrivileges.current()
        var wrong: [String] = []
        if now.uids != [user.uid, user.uid, user.uid] { wrong.append("uids \(now.uids) (asked \(user.uid))") }
        if now.gids != [user.gid, user.gid, user.gid] { wrong.append("gids \(now.gids) (asked \(user.gid))") }
        if now.groups != [user.gid] { wrong.append("groups \(now.groups) (asked [\(user.gid)])") }
        wrong += unexpected(now, permitted: keep)
        if boundingLimited && !keep.isSuperset(of: now.capabilities.bounding) { wrong.append("bounding set \(now.capabilities.bounding)") }
        // What all of the above is for: root cannot come back.
        if wgd_setresuid(UInt32.max, 0, UInt32.max) == 0 { wrong.append("uid 0 could be taken back") }
        if !wrong.isEmpty { throw .notAsAsked(wrong.joined(separator: ", ")) }
    }

    private static func verifyLockedDown() throws(PrivilegeError) {
        let wrong = unexpected(try ProcessPrivileges.current(), permitted: [])
        if !wrong.isEmpty { throw .notAsAsked(wrong.joined(separator: ", ")) }
    }

    /// What differs from `permitted` in the permitted and effective sets, nothing inheritable or
    /// ambient, and no_new_privs on.
    private static func unexpected(_ now: ProcessPrivileges, permitted keep: CapabilitySet) -> [String] {
        let sets = now.capabilities
        var wrong: [String] = []
        if sets.permitted != keep { wrong.append("permitted \(sets.permitted) (asked \(keep))") }
        if sets.effective != keep { wrong.append("effective \(sets.effective) (asked \(keep))") }
        if !sets.inheritable.isEmpty { wrong.append("inheritable \(sets.inheritable)") }
        if !sets.ambient.isEmpty { wrong.append("ambient \(sets.ambient)") }
        if !now.noNewPrivileges { wrong.append("no_new_privs is off") }
        return wrong
    }

    private static func requireOneThread() throws(PrivilegeError) {
        let threads: Int?
        do { threads = try ProcessStatus.read().threads } catch { throw .failed(step: "reading /proc/self/status", error) }
        guard let threads else { throw .notAsAsked("/proc/self/status has no thread count") }
        guard threads == 1 else { throw .notSingleThreaded(threads: threads) }
    }

    private static func call(_ step: String, _ body: () -> Int32) throws(PrivilegeError) {
        guard body() == 0 else { throw .failed(step: step, .current) }
    }
}
