import Glibc
import Protocol
import System

/// Sending through the current sockets with the sticky source (the kernel's socket.c).
extension Interface {
    /// Sends the datagrams to `endpoint` from the peer's sticky source. If the kernel refuses
    /// that source (the address is gone), it is forgotten and the send retried from whatever the
    /// routing table picks (wireguard-go's netns test "not-too-sticky source").
    func send(_ datagrams: UnsafeBufferPointer<iovec>, to endpoint: Endpoint, peer: Peer?, from source: LocalAddress? = nil) {
        guard let sockets = currentSockets() else { counters.count(.sendFailed, UInt64(datagrams.count)); return }
        var local = source ?? peer?.runtime.stickySource ?? .none
        var sent = 0
        var retried = false
        while sent < datagrams.count {
            do throws(Errno) {
                let n = try sockets.send(UnsafeBufferPointer(rebasing: datagrams[sent...]), to: endpoint, from: local)
                guard n > 0 else { break }
                sent += n
            } catch {
                if error.code == EINTR { continue }
                if !retried && local.family != 0 && (error.code == EINVAL || error.code == EADDRNOTAVAIL || error.code == ENETUNREACH) {
                    retried = true
                    local = .none
                    peer?.runtime.stickySource = .none
                    continue
                }
                break
            }
        }
        if sent < datagrams.count { counters.count(.sendFailed, UInt64(datagrams.count - sent)) }
    }
}
