import DataPlane
import Glibc
public import Protocol

/// Why a host name gave no endpoint.
public enum ResolveError: Error, Sendable, Equatable, CustomStringConvertible {
    /// getaddrinfo failed: its EAI_* code and gai_strerror's text (strerror's for EAI_SYSTEM).
    /// EAI_AGAIN is the usual one at boot, before DNS is up.
    case lookup(host: String, code: Int32, message: String)
    /// Answers came, none of them IPv4 or IPv6.
    case noAddress(host: String)

    public var description: String {
        switch self {
        case .lookup(let host, _, let message): "cannot resolve \(host): \(message)"
        case .noAddress(let host): "\(host) has neither an IPv4 nor an IPv6 address"
        }
    }
}

/// Host name → endpoint, for the peers the state file gives as `host:port`. Only the supervisor
/// resolves: the data plane has no DNS and should have none.
///
/// As `wg` does (wireguard-tools, config.c): any family, datagram sockets, UDP, and the first
/// answer, in the order getaddrinfo sorts them (RFC 6724, /etc/gai.conf). No AI_ADDRCONFIG,
/// again as `wg`: at boot, before the WAN has an address, it would drop every family (loopback
/// does not count), and the one socket pair serves both families anyway. Blocks for as long as
/// the resolver takes (resolv.conf's timeout and attempts).
public enum EndpointResolver {
    public static func resolve(host: String, port: UInt16) throws(ResolveError) -> Endpoint {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        hints.ai_protocol = Int32(IPPROTO_UDP)
        hints.ai_flags = AI_NUMERICSERV  // the port is a number: no /etc/services
        var answers: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &answers)
        guard status == 0 else {
            let message = status == EAI_SYSTEM ? String(cString: strerror(errno)) : String(cString: gai_strerror(status))
            throw .lookup(host: host, code: status, message: message)
        }
        defer { freeaddrinfo(answers) }
        // The list getaddrinfo made: walk it while it lives, keep the first IPv4 or IPv6 address.
        var answer = answers
        while let current = answer {
            if let address = current.pointee.ai_addr,
               let endpoint = Endpoint(sockaddr: address, length: Int(current.pointee.ai_addrlen)) {
                return endpoint
            }
            answer = current.pointee.ai_next
        }
        throw .noAddress(host: host)
    }
}
