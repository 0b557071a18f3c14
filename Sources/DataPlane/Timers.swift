import Glibc
import Protocol
import System

/// The timer thread (the kernel's timers.c runs a timer per peer; one thread serves them all
/// here): wakes every 100 ms, fires what is due, and re-reads the tunnel's MTU each second
/// (after the interface moved to another namespace it cannot: then large buffers are used).
extension Interface {
    func timerLoop() {
        var ticks = 0
        var warnedMTU = false
        while isRunning {
            usleep(100_000)
            ticks += 1
            if ticks % 10 == 0 { readMTU(&warnedMTU) }
            expireTimers(now: Clock.now())
        }
    }

    private func readMTU(_ warnedMTU: inout Bool) {
        guard let current = try? tun.currentMTU() else {
            mtuKnown.store(false, ordering: .relaxed)
            return
        }
        mtuKnown.store(true, ordering: .relaxed)
        mtu.store(current, ordering: .relaxed)
        if current > largePool.packetRoom && !warnedMTU {
            warnedMTU = true
            options.log("MTU \(current) of \(name) is larger than the \(largePool.packetRoom)-byte packet buffers: larger packets are dropped")
        }
    }

    private func expireTimers(now: Instant) {
        for peer in device.orderedPeers {
            guard let deadline = peer.nextTimerDeadline, deadline <= now else { continue }
            let actions = device.expireTimers(of: peer, now: now)
            if actions.contains(.giveUpHandshake) { peer.runtime.purgeStaged() }
            if actions.contains(.retransmitInitiation) || actions.contains(.newHandshake) {
                // The cached source may be why no answer came.
                peer.runtime.stickySource = .none
                requestHandshake(peer, isRetry: actions.contains(.retransmitInitiation))
            }
            if actions.contains(.sendKeepalive) { sendKeepalive(to: peer) }
        }
    }
}
