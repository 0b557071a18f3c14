public import System

/// Why a privilege drop, a lock-down or the system-call filter did not happen as asked. Any of
/// them means the process must not go on: it would run with more than it should.
public enum PrivilegeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `--user NAME` names no user.
    case noSuchUser(String)
    /// The user database could not be read.
    case userLookup(String, Errno)
    /// Dropping to uid 0 would drop nothing.
    case rootUser(String)
    /// Capabilities and no_new_privs belong to each thread: set while others run, those keep theirs.
    case notSingleThreaded(threads: Int)
    /// A system call of the drop failed; `step` says which.
    case failed(step: String, Errno)
    /// The calls succeeded, but reading back shows something else.
    case notAsAsked(String)
    /// The supervisor that started the data plane is gone (its parent is now someone else).
    case parentGone(expected: Int32, found: Int32)
    /// libseccomp refused a rule of the allow-list (ENOENT: no architecture has that call).
    case filterRule(String, Errno)

    public var description: String {
        switch self {
        case .noSuchUser(let name): "no user '\(name)' (create it, e.g. useradd --system --no-create-home --shell /usr/sbin/nologin \(name))"
        case .userLookup(let name, let errno): "cannot look up user '\(name)': \(errno)"
        case .rootUser(let name): "user '\(name)' has uid 0: running as it would drop no privilege"
        case .notSingleThreaded(let threads): "privileges must change while the process has one thread; it has \(threads)"
        case .failed(let step, let errno): "\(step) failed: \(errno)"
        case .notAsAsked(let what): "privileges are not as asked: \(what)"
        case .parentGone(let expected, let found): "the supervisor (pid \(expected)) is gone: the parent is now pid \(found)"
        case .filterRule(let name, let errno): "system-call filter: rule for \(name): \(errno)"
        }
    }
}
