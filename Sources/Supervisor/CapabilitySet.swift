import CPrivilege

/// Capabilities as a bit set, bit n for capability n: the form /proc/self/status prints
/// (CapEff: 0000000000001000 is CAP_NET_ADMIN alone).
public struct CapabilitySet: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// The capability numbered `number` (<linux/capability.h>).
    public init(number: Int32) { rawValue = 1 << UInt64(number) }

    /// All the supervisor keeps: TUN queues, link and address changes, routes.
    public static let netAdmin = CapabilitySet(number: CAP_NET_ADMIN)

    /// 16 hex digits, as /proc/self/status prints a set.
    public var description: String {
        let hex = String(rawValue, radix: 16)
        return String(repeating: "0", count: max(0, 16 - hex.count)) + hex
    }
}

/// The five capability sets of the calling thread.
public struct CapabilityState: Sendable, Equatable {
    public var permitted: CapabilitySet
    public var effective: CapabilitySet
    public var inheritable: CapabilitySet
    public var ambient: CapabilitySet
    public var bounding: CapabilitySet

    /// What the calling thread holds now (libcap's cap_get_proc and friends).
    public static func current() throws(PrivilegeError) -> CapabilityState {
        var sets = wgd_capabilities()
        guard wgd_caps_read(&sets) == 0 else { throw .failed(step: "cap_get_proc", .current) }
        return CapabilityState(permitted: CapabilitySet(rawValue: sets.permitted), effective: CapabilitySet(rawValue: sets.effective),
                               inheritable: CapabilitySet(rawValue: sets.inheritable), ambient: CapabilitySet(rawValue: sets.ambient),
                               bounding: CapabilitySet(rawValue: sets.bounding))
    }
}
