import Crypto
import Synchronization

/// The receiver-index table (the kernel's peerlookup.c): maps the random 32-bit index in every
/// response, cookie reply and data message to the handshake or keypair it addresses.
///
/// Indices are random so that they reveal nothing (no counting peers or sessions), and unique
/// while in the table. A handshake's index carries over to the keypair it yields.
public final class IndexTable<Peer: AnyObject & Sendable>: Sendable {
    public enum Entry: Sendable {
        case handshake(Peer)
        case keypair(Keypair, Peer)

        public var peer: Peer {
            switch self {
            case .handshake(let peer), .keypair(_, let peer): peer
            }
        }
    }

    private let entries = Mutex<[UInt32: Entry]>([:])

    public init() {}

    /// A fresh random index (getrandom), not 0 and not in use, mapped to `peer`'s handshake.
    public func insertHandshake(of peer: Peer) -> UInt32 {
        // The generator is made here, where its type is known, rather than taken as a generic
        // `inout some RandomNumberGenerator`: the empty struct has no storage and so no address,
        // and ThreadSanitizer's instrumentation of a generic inout access (which cannot know the
        // type is empty) checked whatever pointer the caller passed, reporting a race between
        // two tests' unrelated tables (scripts/sanitize).
        var random = SystemRandomGenerator()
        return entries.withLock { entries in
            while true {
                let index = UInt32.random(in: 1...UInt32.max, using: &random)
                if entries[index] == nil {
                    entries[index] = .handshake(peer)
                    return index
                }
            }
        }
    }

    /// The handshake at `index` became `keypair`: the index now addresses the keypair.
    public func replaceHandshake(at index: UInt32, with keypair: Keypair, of peer: Peer) {
        entries.withLock { $0[index] = .keypair(keypair, peer) }
    }

    public func lookup(_ index: UInt32) -> Entry? {
        entries.withLock { $0[index] }
    }

    /// Removes the handshake entry at `index` if it is still `peer`'s handshake.
    public func removeHandshake(at index: UInt32, of peer: Peer) {
        entries.withLock { entries in
            if case .handshake(let owner)? = entries[index], owner === peer { entries[index] = nil }
        }
    }

    /// Removes `keypair`'s entry, if the index still addresses that keypair.
    public func remove(_ keypair: Keypair) {
        entries.withLock { entries in
            if case .keypair(let current, _)? = entries[keypair.localIndex], current === keypair {
                entries[keypair.localIndex] = nil
            }
        }
    }

    /// Every entry of `peer`, for peer removal.
    public func removeAll(of peer: Peer) {
        entries.withLock { entries in
            for (index, entry) in entries where entry.peer === peer { entries[index] = nil }
        }
    }

    public var count: Int { entries.withLock { $0.count } }
}
