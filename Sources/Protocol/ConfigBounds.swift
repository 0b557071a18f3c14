/// How large one interface's configuration may grow: limits, not preallocations. A peer costs
/// memory only once it exists (about 1 KiB idle, 3.5 KiB with a session), an allowed IP 80 bytes,
/// so the bounds say how far a configuration may grow before a change is refused, and nothing is
/// reserved for them. A change that would cross one is refused whole (UAPI: -ENOSPC, the
/// configuration unchanged; the state file: refused at its path), so memory cannot run away
/// through `wg set` however often it is called.
///
/// The kernel allows 2^20 peers per device and bounds nothing else; a 128 MiB router carries
/// about 2,000 peers, so 4,096 leaves it twice that and caps the peers' memory at about 14 MiB.
public enum ConfigBounds {
    /// Peers per interface. Each also holds at most four receiver indices (one handshake, three
    /// keypairs), so this bounds the index table at 4 × 4,096 entries too.
    public static let maxPeers = 4096
    /// Allowed IPs per interface, all peers together: 2^20 × 80 bytes = 80 MiB of trie at most
    /// (one `set` may carry 400,000 within its 32 MiB).
    public static let maxAllowedIPs = 1 << 20

    /// Why `config` is over a bound (a sentence for the log), or nil when it is within them.
    public static func violation(of config: DeviceConfig, maxPeers: Int = Self.maxPeers,
                                 maxAllowedIPs: Int = Self.maxAllowedIPs) -> String? {
        if config.peerCount > maxPeers {
            return "\(config.peerCount) peers, over the bound of \(maxPeers) per interface"
        }
        if config.allowedIPCount > maxAllowedIPs {
            return "\(config.allowedIPCount) allowed IPs, over the bound of \(maxAllowedIPs) per interface"
        }
        return nil
    }
}

extension DeviceConfig {
    /// Allowed IPs of all peers together.
    public var allowedIPCount: Int { allowedIPsTrie.prefixCount }
}
