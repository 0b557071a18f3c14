public import Crypto
public import Protocol
public import System

/// What a control channel (the UAPI server in wireguard-go-compatible mode, the supervisor in
/// router mode) may ask of a running interface: the typed control API of the data plane.
public protocol ControlTarget: Sendable {
    /// The configuration in force.
    var configuration: DeviceConfig { get }
    /// The UDP port actually bound (the configured one, or the kernel's pick for 0).
    var boundListenPort: UInt16 { get }
    /// Runs `body` with a lookup of the peers' runtime figures (`wg show`; nil for no such peer),
    /// taken once for a whole `get`: a data plane in another process answers for every peer in
    /// one round trip.
    func withStatus<Result>(_ body: (_ status: (PublicKey) -> PeerStatus?) -> Result) -> Result
    /// Makes `config` the configuration in force, all or nothing; `change` is the request that
    /// gave it (the operations of one `set`), for a target that forwards requests rather than
    /// whole configurations. Throws the errno to report (EADDRINUSE for a port in use, EIO for
    /// other failures) and then nothing changed. What it returns is waited on, outside any
    /// lock, before the client is answered.
    func apply(_ config: DeviceConfig, change: ConfigChange) throws(Errno) -> Commitment
}

/// What an accepted change still waits for before its reply: nothing when the configuration
/// lives in memory only; in router mode, the state file's write (which may fail, and then the
/// change is undone and the client gets the error).
public struct Commitment: Sendable {
    private let body: @Sendable () throws(Errno) -> Void

    public init(waitingFor body: @escaping @Sendable () throws(Errno) -> Void) { self.body = body }

    public static let immediate = Commitment {}

    public func wait() throws(Errno) { try body() }
}
