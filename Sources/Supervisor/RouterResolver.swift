import Crypto
import DataPlane
import Glibc
import Protocol
import Synchronization
import System

/// Endpoints by host name in router mode: the supervisor resolves them (the data plane has no
/// DNS and should have none) and hands the address to the data plane; the file keeps the name.
/// The resolver learns the peers' handshake times from the data planes every `feedInterval`, so
/// that a peer whose handshake went stale is looked up again (its address may have changed).
final class RouterResolver: Sendable {
    private let store: StateStore
    private let log: Log
    private let thread: ResolverThread
    private let targets: @Sendable () -> [(name: String, dataPlane: DataPlaneChild)]
    private let stop = Atomic(false)
    static let feedInterval: UInt32 = 10_000_000

    init(store: StateStore, log: Log, targets: @escaping @Sendable () -> [(name: String, dataPlane: DataPlaneChild)]) throws(Errno) {
        self.store = store
        self.log = log
        self.targets = targets
        let box = Mutex<RouterResolver?>(nil)
        thread = try ResolverThread(log: { log.verbose($0) }) { peer, endpoint in
            box.withLock { $0 }?.resolved(peer, endpoint)
        }
        box.withLock { $0 = self }
    }

    func start() throws(Errno) {
        refresh()
        try thread.start()
        try Threads.spawn(name: "wgd-resolve-feed") { [self] in
            while !stop.load(ordering: .acquiring) {
                usleep(Self.feedInterval)
                feed()
            }
        }
    }

    func shutDown() {
        stop.store(true, ordering: .releasing)
        thread.stop()
    }

    /// The host names the state holds now: after a start, a set, a reload.
    func refresh() {
        var wanted: [HostEndpoint] = []
        for interface in store.state.interfaces {
            for case let (peer, .host(host, port)) in interface.hostNamedPeers {
                wanted.append(HostEndpoint(peer: HostEndpointPeer(interface: interface.name, peer: peer), host: host, port: port))
            }
        }
        thread.set(wanted)
    }

    /// A name resolved to a new address: into the state (not the file) and the data plane.
    private func resolved(_ peer: HostEndpointPeer, _ endpoint: Endpoint) {
        let dataPlane = targets().first { $0.name == peer.interface }?.dataPlane
        store.amendRuntime({ state in
            guard let index = state.interfaces.firstIndex(where: { $0.name == peer.interface }) else { return }
            _ = state.interfaces[index].resolved(peer.peer, to: endpoint)
        }, then: { state in
            guard let interface = state.interfaces.first(where: { $0.name == peer.interface }),
                  interface.hostNamedPeers.contains(where: { $0.0 == peer.peer }), let dataPlane else { return }
            var change = ConfigChange()
            change.append(.peer(peer.peer))
            change.append(.updateOnly)
            change.append(.endpoint(endpoint))
            do { _ = try dataPlane.apply(interface.config, change: change) } catch {
                log.error("(\(peer.interface)) cannot hand over the address of a peer's host name: \(error)")
            }
        })
        log.verbose("(\(peer.interface)) peer \(peer.peer): host name now resolves to \(endpoint)")
    }

    /// Handshake times of host-named peers, from the data planes, on the resolver's clock.
    private func feed() {
        let hosts = store.state.interfaces.map { interface in (interface.name, Set(interface.hostNamedPeers.map(\.0))) }
        for (name, dataPlane) in targets() {
            guard let peers = hosts.first(where: { $0.0 == name })?.1, !peers.isEmpty else { continue }
            let now = Clock.now(), wall = Clock.wall()
            dataPlane.withStatus { status in
                for peer in peers {
                    let figures = status(peer)
                    thread.observe(HostEndpointPeer(interface: name, peer: peer),
                                   lastHandshake: figures.flatMap { Self.monotonic($0.lastHandshake, now: now, wall: wall) },
                                   endpoint: figures?.endpoint)
                }
            }
        }
    }

    /// A wall-clock handshake time on the monotonic clock; nil for none.
    static func monotonic(_ handshake: WallTime, now: Instant, wall: WallTime) -> Instant? {
        guard handshake != .zero else { return nil }
        let age = Int64(wall.seconds) * 1_000_000_000 + Int64(wall.nanoseconds) - Int64(handshake.seconds) * 1_000_000_000 - Int64(handshake.nanoseconds)
        let ago = UInt64(max(age, 0))
        return Instant(nanoseconds: now.nanoseconds > ago ? now.nanoseconds - ago : 0)
    }
}
