import DataPlane
import System
import Glibc
import Synchronization
import Testing
@testable import Supervisor

/// LinkMonitor against the real kernel, inside a network namespace of its own: unshare(2) on a
/// thread of ours moves only that thread, so nothing is created in the host's namespace. A TUN
/// that is not persistent is deleted when its descriptor closes, which is the `ip link del` the
/// monitor has to see. Needs root and /dev/net/tun.
@Suite(.enabled(if: PrivateNetworkNamespace.available))
struct LinkMonitorTests {
    /// What happened on the namespaced thread, checked afterwards on the test's own.
    final class Outcome: @unchecked Sendable {  // written by one thread, read after pthread_join
        var notes: [String] = []
        var events: [String: LinkMonitor.Event] = [:]
        var setupError: String?
        var overruns = 0
    }

    /// Runs `body` on a new thread in a fresh network namespace and waits for it.
    static func inPrivateNamespace(_ body: @escaping @Sendable (Outcome) -> Void) -> Outcome {
        let outcome = Outcome()
        if case .failure(let error) = PrivateNetworkNamespace.run({ body(outcome) }) { outcome.setupError = "\(error)" }
        return outcome
    }

    /// Waits at most 5 s for the monitor's socket to have something to read.
    static func readable(_ monitor: LinkMonitor) -> Bool {
        var pfd = pollfd(fd: monitor.pollable, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, 5_000) > 0
    }

    @Test func seesItsInterfaceDeletedAndNoOther() throws {
        let outcome = Self.inPrivateNamespace { outcome in
            do {
                var tun: TunDevice? = try TunDevice(name: "wgtlm0", mtu: 1420)
                var other: TunDevice? = try TunDevice(name: "wgtlm1", mtu: 1420)
                let monitor = try LinkMonitor(interface: "wgtlm0")
                outcome.events["at start"] = monitor.readPending()
                other = nil
                _ = Self.readable(monitor)
                outcome.events["another link deleted"] = monitor.readPending()
                // Stopped: watch returns without a verdict.
                let stopped = try StopSignal()
                stopped.raise()
                outcome.events["watch stopped"] = monitor.watch(until: stopped) { outcome.notes.append("callback when stopped") }
                // Deleted before watching starts (as when the thread is slow to run): the queued
                // notification counts, and the callback runs.
                tun = nil
                _ = Self.readable(monitor)
                let stop = try StopSignal()
                let called = Atomic(false)
                outcome.events["watch after deletion"] = monitor.watch(until: stop) { called.store(true, ordering: .relaxed) }
                if called.load(ordering: .relaxed) { outcome.notes.append("callback") }
                outcome.events["afterwards"] = monitor.readPending()
                _ = (tun, other)
            } catch {
                outcome.setupError = "\(error)"
            }
        }
        #expect(outcome.setupError == nil, "\(outcome.setupError ?? "")")
        #expect(outcome.events["at start"] == LinkMonitor.Event.none)
        #expect(outcome.events["another link deleted"] == LinkMonitor.Event.none)
        #expect(outcome.events["watch stopped"] == LinkMonitor.Event.none)
        #expect(outcome.events["watch after deletion"] == .deleted)
        #expect(outcome.events["afterwards"] == LinkMonitor.Event.none)
        #expect(outcome.notes == ["callback"])
    }

    /// With the socket's queue overflowing, notifications are lost (ENOBUFS): the monitor looks
    /// the link up instead, so a lost deletion is still reported and a lost burst of others is not.
    @Test func overrunFallsBackToLookingTheLinkUp() throws {
        let outcome = Self.inPrivateNamespace { outcome in
            do {
                var tun: TunDevice? = try TunDevice(name: "wgtlm0", mtu: 1420)
                let monitor = try LinkMonitor(interface: "wgtlm0")
                // The smallest receive queue the kernel allows: a few notifications fill it.
                var tiny: Int32 = 1
                _ = setsockopt(monitor.pollable, SOL_SOCKET, SO_RCVBUF, &tiny, socklen_t(MemoryLayout<Int32>.size))
                func burst() throws {
                    for i in 0..<30 { _ = try TunDevice(name: "wgtlx\(i)", mtu: 1420) }  // created, then deleted
                }
                try burst()
                outcome.events["overrun, ours alive"] = monitor.readPending()
                try burst()
                tun = nil  // its RTM_DELLINK finds the queue full
                outcome.events["overrun, ours lost"] = monitor.readPending()
                outcome.overruns = monitor.overruns
                _ = tun
            } catch {
                outcome.setupError = "\(error)"
            }
        }
        #expect(outcome.setupError == nil, "\(outcome.setupError ?? "")")
        #expect(outcome.events["overrun, ours alive"] == LinkMonitor.Event.none)
        #expect(outcome.events["overrun, ours lost"] == .deleted)
        #expect(outcome.overruns == 2, "each burst overflowed the queue")
    }
}
