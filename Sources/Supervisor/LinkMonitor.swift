import CMnl
import CNetlink
import DataPlane
import System
import Glibc

/// Tells the daemon the moment its interface is deleted (`ip link del`). The kernel's WireGuard
/// closes its UDP sockets while the link is being deleted, and scripts rely on it: wireguard-go's
/// tests/netns.sh binds the same port as soon as `ip` returns.
///
/// - Source: the kernel's link notifications, a NETLINK_ROUTE socket subscribed to RTNLGRP_LINK
///   (libmnl), filtered on the index our TUN had at start (an index, unlike a name, survives a
///   rename).
/// - Overrun: when the socket's queue overflowed (ENOBUFS), or a message did not fit the buffer,
///   notifications were lost; the index is then looked up again, and its absence counts as a
///   deletion.
/// - Moved away (`ip link set IF netns NS`): the kernel sends this namespace an RTM_DELLINK that
///   names the new namespace. The link lives on, out of this socket's sight; from then on only the
///   TUN's read error tells of a deletion, and the monitor reports nothing more.
final class LinkMonitor: @unchecked Sendable {  // one thread reads it; the socket is closed in deinit
    enum Event: Equatable {
        case none
        case deleted
        case movedAway
        /// The socket failed for good: the TUN's read error is left to tell of a deletion.
        case failed(Errno)
    }

    let interfaceIndex: UInt32
    /// How many times notifications were lost (ENOBUFS) so far.
    private(set) var overruns = 0
    private let socket: OpaquePointer
    private var absentAtStart = false
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 8)
    /// Large enough for any notification: the kernel builds them within min(page size, 8 KiB).
    private static let bufferSize = 16_384

    init(interface name: String) throws(Errno) {
        let index = if_nametoindex(name)
        guard index != 0 else { throw Errno.current }
        guard let socket = wgd_link_subscribe() else { throw Errno.current }
        interfaceIndex = index
        self.socket = socket
        // Gone already: deleted before the subscription began, so no notification will come.
        // Checked here, before the daemon says it is ready: a script may move the link to another
        // namespace as soon as it is (netns.sh does), and a later look-up would take that move
        // for a deletion.
        absentAtStart = !linkExists
    }

    deinit {
        mnl_socket_close(socket)
        buffer.deallocate()
    }

    /// The descriptor to poll for POLLIN.
    var pollable: Int32 { mnl_socket_get_fd(socket) }

    /// Reads every notification pending (without blocking) and says what became of the link.
    func readPending() -> Event {
        var found: Int32 = 0
        var overrun = false
        var failure: Errno?
        reading: while true {
            do throws(Errno) {
                let n = try retrying { mnl_socket_recvfrom(socket, buffer.baseAddress, buffer.count) }
                let bits = wgd_link_scan(buffer.baseAddress, n, Int32(bitPattern: interfaceIndex))
                // A message we cannot parse may have been about us: look the link up instead.
                if bits < 0 { overrun = true } else { found |= bits }
            } catch {
                switch error.code {
                case EAGAIN: break reading
                case ENOBUFS:  // the socket stays usable: read on
                    overrun = true
                    overruns += 1
                case ENOSPC:  // one message larger than the buffer, truncated: lost, like an overrun
                    overrun = true
                default: failure = error; break reading
                }
            }
        }
        if found & Int32(WGD_LINK_MOVED) != 0 { return .movedAway }
        if found & Int32(WGD_LINK_DELETED) != 0 { return .deleted }
        if (overrun || failure != nil) && !linkExists { return .deleted }
        if let failure { return .failed(failure) }
        return .none
    }

    /// Whether our index still names a link in this namespace.
    var linkExists: Bool {
        // On the stack: this runs after an overrun, while the daemon is busy.
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(IF_NAMESIZE)) { name in
            if_indextoname(interfaceIndex, name.baseAddress!) != nil
        }
    }

    /// Waits for notifications until the link is deleted (then calls `onDeleted`), moves away, the
    /// socket fails, or `stop` is raised; returns the event it ended with (.none: stopped).
    /// Notifications queued since the subscription count, and so does a link gone before it.
    @discardableResult
    func watch(until stop: StopSignal, onDeleted: () -> Void) -> Event {
        var event = readPending()
        if event == .none && absentAtStart { event = .deleted }
        while event == .none {
            let readiness: Readiness
            do { readiness = try waitFor(POLLIN, on: pollable, or: stop, milliseconds: -1) } catch { return .failed(error) }
            if readiness == .stopping { return .none }
            event = readPending()
        }
        if event == .deleted { onDeleted() }
        return event
    }
}
