public import Protocol

/// What an interface should look like in the kernel, as `LinkSetup` applies it: its addresses,
/// MTU, up state and the routes through it.
public struct LinkConfiguration: Equatable, Sendable {
    /// All the addresses it should have: others it holds are removed (the kernel's IPv6
    /// link-local ones excepted).
    public var addresses: [InterfaceAddress]
    /// nil: left as it is.
    public var mtu: Int?
    public var up: Bool
    /// Destinations to route through it in the main table. Default routes are not installed:
    /// they would need policy routing (wg-quick's fwmark rules), which is not done here.
    public var routes: [IPPrefix]

    public init(addresses: [InterfaceAddress] = [], mtu: Int? = nil, up: Bool = true, routes: [IPPrefix] = []) {
        self.addresses = addresses
        self.mtu = mtu
        self.up = up
        self.routes = routes
    }

    /// The interface the state file describes, up; with `routes`, a route for every peer's
    /// allowed IPs (wg-quick's `Table = auto`).
    public init(_ state: InterfaceState) {
        self.init(addresses: state.addresses, mtu: state.config.mtu,
                  routes: state.routes ? state.config.peers.flatMap(\.allowedIPs) : [])
    }
}
