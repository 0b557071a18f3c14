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
    /// Runtime figures of a peer (`wg show`), nil if there is no such peer.
    func status(of peer: PublicKey) -> PeerStatus?
    /// Makes `config` the configuration in force, all or nothing. Throws the errno to report
    /// (EADDRINUSE for a port in use, EIO for other failures) and then nothing changed.
    func apply(_ config: DeviceConfig) throws(Errno)
}
