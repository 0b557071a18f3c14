import DataPlane
import Glibc
import Protocol
import Synchronization

/// The connections a UAPI server is serving, as far as their clients' silence goes: which of
/// them are waiting on their client, and since when. At most `maxConnections` are served at once
/// and the rest wait in the listen backlog, so a few clients that connect and stall (send
/// nothing, or half a request) would otherwise hold every slot until their read timeout while
/// the others wait behind them. When every slot is taken and a client waits, the accept thread
/// cuts the connections whose client has been silent for the busy timeout (1 s): a stalled
/// client delays the others by about that long, not by the read timeout, and one that is merely
/// slow loses its connection only when others need the slot.
final class ServedConnections: Sendable {
    /// One connection: registered by its stream once it owns the descriptor, unregistered by the
    /// stream before the descriptor is closed, so the number is never shut down after its reuse.
    final class Entry: Sendable {
        fileprivate let fd: Int32
        /// The monotonic time (ns) since when the connection waits on its client, plus one;
        /// 0 while it is not waiting (reading what arrived, applying, writing what fits).
        private let waitingSince = Atomic<UInt64>(0)
        private let cutFlag = Atomic(false)

        fileprivate init(fd: Int32) { self.fd = fd }

        func beginWaiting(now: Instant) { waitingSince.store(now.nanoseconds &+ 1, ordering: .releasing) }
        func endWaiting() { waitingSince.store(0, ordering: .releasing) }

        /// Whether the accept thread cut this connection for clients waiting behind it.
        var isCut: Bool { cutFlag.load(ordering: .acquiring) }

        fileprivate func silentLongerThan(_ nanoseconds: UInt64, now: Instant) -> Bool {
            let since = waitingSince.load(ordering: .acquiring)
            return since != 0 && now.nanoseconds >= since - 1 && now.nanoseconds - (since - 1) >= nanoseconds
        }

        fileprivate func cut() {
            cutFlag.store(true, ordering: .releasing)
            // Wakes the connection's poll (and tells the client): both ways, so that the client
            // sees the end at once and the connection's thread reads end of stream.
            shutdown(fd, Int32(SHUT_RDWR))
        }
    }

    private let entries = Mutex<[Entry]>([])

    init() {}

    var count: Int { entries.withLock { $0.count } }

    func register(fd: Int32) -> Entry {
        let entry = Entry(fd: fd)
        entries.withLock { $0.append(entry) }
        return entry
    }

    func unregister(_ entry: Entry) {
        entries.withLock { list in list.removeAll { $0 === entry } }
    }

    /// Cuts every connection whose client has been silent for at least `milliseconds`; returns
    /// how many. Under the lock, so that no entry is unregistered (and its descriptor closed)
    /// while it is being shut down.
    func cutSilent(forAtLeast milliseconds: Int32, now: Instant) -> Int {
        let limit = UInt64(max(milliseconds, 0)) * 1_000_000
        return entries.withLock { list in
            var cut = 0
            for entry in list where !entry.isCut && entry.silentLongerThan(limit, now: now) {
                entry.cut()
                cut += 1
            }
            return cut
        }
    }
}
