public import Crypto
public import DataPlane
public import Protocol
public import System
import Glibc

/// One interface in router mode as `wg` sees it (the UAPI target). The state file holds its
/// configuration; the data plane holds its sessions and figures.
/// - A `set` goes to the data plane first, then to the file (StateStore); it is answered only
///   once it is on disk. If the write fails, the data planes get the file's configuration back
///   and the client an error, so that what runs is always what the file says.
/// - A `get` shows the file's configuration with the data plane's figures (a roamed endpoint,
///   handshake times, counters).
final class RouterInterface: ControlTarget {
    let name: String
    private let store: StateStore
    let dataPlane: any ControlTarget
    /// After each change: the host names to resolve may be others now.
    private let changed: @Sendable () -> Void

    init(name: String, store: StateStore, dataPlane: any ControlTarget, changed: @escaping @Sendable () -> Void = {}) {
        self.name = name
        self.store = store
        self.dataPlane = dataPlane
        self.changed = changed
    }

    var configuration: DeviceConfig { store.interface(named: name)?.config ?? DeviceConfig() }

    var boundListenPort: UInt16 { dataPlane.boundListenPort }

    func withStatus<Result>(_ body: (_ status: (PublicKey) -> PeerStatus?) -> Result) -> Result {
        dataPlane.withStatus(body)
    }

    /// The request is applied again to the state as it is under the store's lock, rather than
    /// `config` taken: a reload between the session's read and this call must not be undone.
    func apply(_ config: DeviceConfig, change: ConfigChange) throws(Errno) -> Commitment {
        let commitment = try store.change { (state: inout StateFile) throws(Errno) in
            guard let index = state.interfaces.firstIndex(where: { $0.name == name }) else { throw Errno(ENODEV) }
            var next = state.interfaces[index].config
            change.apply(to: &next)
            // Checked again on the state as it is now: a reload may have added peers since.
            guard ConfigBounds.violation(of: next) == nil else { throw Errno(ENOSPC) }
            _ = try dataPlane.apply(next, change: change)
            state.interfaces[index].take(next)
        }
        changed()
        return commitment
    }
}
