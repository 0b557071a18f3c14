import CPrivilege
import System

/// A system-call filter being built: libseccomp's context, owned, freed once dropped (loaded or
/// not). Anything no rule matches kills the whole process.
struct SeccompFilter: ~Copyable {
    /// When a rule applies, by one argument of the call (0-5, as the kernel numbers them).
    enum Condition: Sendable {
        case always
        case equal(argument: UInt32, UInt64)
        case notEqual(argument: UInt32, UInt64)
        /// (argument & mask) == value
        case masked(argument: UInt32, mask: UInt64, equals: UInt64)
    }

    enum Verdict: Sendable, Equatable {
        case allow
        /// The call does nothing and fails with this errno.
        case fail(Int32)
    }

    private let filter: OpaquePointer

    init() throws(PrivilegeError) {
        guard let filter = wgd_seccomp_new() else { throw .failed(step: "seccomp_init", .current) }
        self.filter = filter
    }

    deinit { wgd_seccomp_free(filter) }

    /// Adds a rule; false when `name` is a call of other architectures only (nothing to add here).
    @discardableResult
    func add(_ name: String, _ verdict: Verdict, if condition: Condition = .always) throws(PrivilegeError) -> Bool {
        let (compare, argument, mask, value): (Int32, UInt32, UInt64, UInt64) = switch condition {
        case .always: (Int32(WGD_SECCOMP_ALWAYS.rawValue), 0, 0, 0)
        case .equal(let argument, let value): (Int32(WGD_SECCOMP_EQUAL.rawValue), argument, 0, value)
        case .notEqual(let argument, let value): (Int32(WGD_SECCOMP_NOT_EQUAL.rawValue), argument, 0, value)
        case .masked(let argument, let mask, let value): (Int32(WGD_SECCOMP_MASKED.rawValue), argument, mask, value)
        }
        let (action, error): (Int32, Int32) = switch verdict {
        case .allow: (Int32(WGD_SECCOMP_ALLOW.rawValue), 0)
        case .fail(let errno): (Int32(WGD_SECCOMP_FAIL.rawValue), errno)
        }
        let result = wgd_seccomp_rule(filter, name, action, error, compare, argument, mask, value)
        guard result >= 0 else { throw .filterRule(name, .current) }
        return result == 0
    }

    /// Loads the filter for every thread of the process. It stays for the process's lifetime.
    consuming func load() throws(PrivilegeError) {
        guard wgd_seccomp_load(filter) == 0 else { throw .failed(step: "seccomp_load", .current) }
    }
}
