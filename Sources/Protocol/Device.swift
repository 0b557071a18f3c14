public import Crypto
import Synchronization

/// The protocol engine of one interface: identity, peers, the index table, allowed IPs, and the
/// cookie checker and rate limiter that guard the handshake path. Pure: it does no I/O, starts
/// no threads and reads no clock; the data plane feeds it packets, buffers and the time.
///
/// Configured only through `apply(_:now:)` with a whole `DeviceConfig`, so it runs the same
/// in-process (tests) or behind the supervisor's control channel.
public final class Device<Runtime: AnyObject & Sendable>: Sendable {
    public let indexTable = IndexTable<Peer<Runtime>>()
    private let identity = Mutex<StaticIdentity?>(nil)
    private let peers = Mutex<[PublicKey: Peer<Runtime>]>([:])
    private let applied = Mutex(DeviceConfig())
    let routes = Mutex(AllowedIPs<Peer<Runtime>>())
    let cookieChecker = Mutex(CookieChecker(publicKey: nil))
    let rateLimiter = Mutex(RateLimiter())

    /// Makes each new peer's runtime (the data plane's per-peer state).
    private let makeRuntime: @Sendable (PublicKey) -> Runtime

    public init(runtime: @escaping @Sendable (PublicKey) -> Runtime) {
        makeRuntime = runtime
    }

    public var config: DeviceConfig { applied.withLock { $0 } }

    public func peer(_ key: PublicKey) -> Peer<Runtime>? { peers.withLock { $0[key] } }

    /// Peers in configuration (insertion) order: a snapshot made by `apply`, so that reading it
    /// (the timer thread does, ten times a second) allocates nothing.
    public var orderedPeers: [Peer<Runtime>] { peerList.withLock { $0 } }
    private let peerList = Mutex<[Peer<Runtime>]>([])

    var currentIdentity: StaticIdentity? { identity.withLock { $0 } }

    // MARK: configuration

    /// What `apply` did that the data plane must follow up.
    public struct AppliedChanges: Sendable {
        /// Persistent keepalive just turned on: send each a keepalive now, as wg expects.
        public var keepaliveNow: [Peer<Runtime>] = []
        /// The configuration set their endpoint, even to the value it had: forget each one's
        /// cached source address, which belonged to the path the peer had roamed to.
        public var endpointSet: [Peer<Runtime>] = []
        /// Removed, and already dead: drop what is staged or queued for them.
        public var removed: [Peer<Runtime>] = []
    }

    /// Makes the running state match `config`.
    @discardableResult
    public func apply(_ config: DeviceConfig, now: Instant) -> AppliedChanges {
        let old = applied.withLock { previous in
            let old = previous
            previous = config
            return old
        }
        if old.privateKey != config.privateKey { changeIdentity(to: config.privateKey) }
        let oldKeys = Set(old.peers.map(\.publicKey))
        let newKeys = Set(config.peers.map(\.publicKey))
        var changes = AppliedChanges()
        for key in oldKeys.subtracting(newKeys) {
            if let peer = removePeer(key) { changes.removed.append(peer) }
        }

        let identity = currentIdentity
        for wanted in config.peers {
            let before = old.peer(wanted.publicKey)
            let peer = peers.withLock { table in
                if let existing = table[wanted.publicKey] { return existing }
                let peer = Peer(publicKey: wanted.publicKey, presharedKey: wanted.presharedKey, identity: identity,
                                runtime: makeRuntime(wanted.publicKey))
                table[wanted.publicKey] = peer
                return peer
            }
            if before?.presharedKey != wanted.presharedKey { peer.setPresharedKey(wanted.presharedKey) }
            // An endpoint line applies even when it repeats the configured value (netlink.c's
            // set_peer): that is how an admin pulls back a peer that roamed. A config that merely
            // carries the endpoint along leaves the roamed one alone.
            if let endpoint = wanted.endpoint,
               endpoint != before?.endpoint || wanted.endpointAssignments.count != before?.endpointAssignments.count {
                peer.endpoint = endpoint
                changes.endpointSet.append(peer)
            }
            if before?.persistentKeepaliveInterval != wanted.persistentKeepaliveInterval,
               peer.setPersistentKeepalive(wanted.persistentKeepaliveInterval, now: now) {
                changes.keepaliveNow.append(peer)
            }
        }
        installRoutes(config)
        let order = config.peers.map(\.publicKey)
        let list = peers.withLock { table in order.compactMap { table[$0] } }
        peerList.withLock { $0 = list }
        return changes
    }

    /// Routes by the configuration's own allowed-IPs trie: shared with it, not copied, so this
    /// costs the same for one prefix or 400,000.
    private func installRoutes(_ config: DeviceConfig) {
        let owners = peers.withLock { table in config.slotOwners.map { key in key.flatMap { table[$0] } } }
        // The trie the table held before is let go of when withLock returns: outside the lock.
        _ = routes.withLock { $0.install(config.allowedIPsTrie, owners: owners) }
    }

    private func changeIdentity(to key: PrivateKey?) {
        let newIdentity = key.map(StaticIdentity.init(privateKey:))
        identity.withLock { $0 = newIdentity }
        cookieChecker.withLock { $0.setPublicKey(newIdentity?.publicKey) }
        for peer in peers.withLock({ Array($0.values) }) { peer.identityChanged(newIdentity, indexTable: indexTable) }
    }

    private func removePeer(_ key: PublicKey) -> Peer<Runtime>? {
        guard let peer = peers.withLock({ $0.removeValue(forKey: key) }) else { return nil }
        routes.withLock { $0.forget(peer) }
        peer.remove(indexTable: indexTable)
        return peer
    }

    // MARK: sending

    /// The peer an outgoing IP packet is for (allowed IPs by destination), or nil: drop it.
    public func route(_ packet: UnsafeRawBufferPointer) -> Peer<Runtime>? {
        guard let (family, _) = IPPacket.parse(packet) else { return nil }
        let destination = IPPacket.destination(packet, family)
        return routes.withLock { $0.lookup(destination) }
    }

    /// Writes a handshake initiation to `peer` into `packet` (148 bytes) if one may be sent now.
    public func createInitiation(for peer: Peer<Runtime>, into packet: UnsafeMutableRawBufferPointer, isRetry: Bool,
                                 now: Instant, wallClock: WallTime, using aead: borrowing ChaCha20Poly1305) -> Bool {
        let made = peer.createInitiation(into: packet, identity: currentIdentity, indexTable: indexTable,
                                         isRetry: isRetry, now: now, wallClock: wallClock, using: aead)
        if made { peer.sentHandshake(bytes: packet.count) }
        return made
    }

    /// Runs `peer`'s timers that are due.
    public func expireTimers(of peer: Peer<Runtime>, now: Instant) -> PeerTimers.Actions {
        peer.expireTimers(now: now, indexTable: indexTable)
    }
}

/// The runtime of a device without a data plane (protocol tests, tools): nothing.
public final class NoRuntime: Sendable {
    public init() {}
}

extension Device where Runtime == NoRuntime {
    public convenience init() { self.init { _ in NoRuntime() } }
}
