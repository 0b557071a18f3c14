import Crypto
import CShim
import Glibc
import Protocol

/// What each worker thread owns: its AEAD context and the scratch space for a batch, all made
/// once, so that processing a packet allocates nothing.
struct WorkerContext: ~Copyable {
    static let batch = 64
    let aead = ChaCha20Poly1305()
    let datagrams = UnsafeMutablePointer<wgd_datagram>.allocate(capacity: WorkerContext.batch)
    /// A handshake reply or initiation is written here (148 bytes at most).
    let message = UnsafeMutableRawBufferPointer.allocate(byteCount: InitiationLayout.length, alignment: 16)

    deinit {
        datagrams.deallocate()
        message.deallocate()
    }
}

extension Interface {
    // MARK: data

    func encrypt(_ peer: Peer, _ slot: Int, _ context: inout WorkerContext) {
        let queue = peer.runtime.transmit
        let job = queue.job(slot)
        if let keypair = job.pointee.keypair, let bytes = job.pointee.buffer?.bytes {
            let length = DataLayout.headerLength + job.pointee.length + DataLayout.tagLength
            keypair.seal(UnsafeMutableRawBufferPointer(rebasing: bytes[0..<length]), plaintextLength: job.pointee.length,
                         counter: job.pointee.counter, using: context.aead)
            job.pointee.authenticated = true
        }
        queue.finish(slot) { first, count in deliverTransmit(peer, first, count, context.datagrams, WorkerContext.batch) }
    }

    /// Sends a run of encrypted packets of one peer, in order, in batches of sendmmsg. Buffers go
    /// back to the pool only after the batch that points into them was sent.
    func deliverTransmit(_ peer: Peer, _ first: Int, _ count: Int, _ datagrams: UnsafeMutablePointer<wgd_datagram>, _ batch: Int) {
        let queue = peer.runtime.transmit
        let endpoint = peer.endpoint
        let local = peer.runtime.stickySource
        var bytes = 0, onlyKeepalives = true
        var lastKeypair: Keypair?
        var next = first
        while next < first + count {
            let chunk = next
            var ready = 0
            while next < first + count && ready < batch {
                let job = queue.job(next)
                next += 1
                guard job.pointee.authenticated, let endpoint, let data = job.pointee.buffer?.bytes.baseAddress else {
                    counters.count(endpoint == nil ? .noEndpoint : .rejected)
                    continue
                }
                let length = DataLayout.headerLength + job.pointee.length + DataLayout.tagLength
                fill(&datagrams[ready], data: data, length: length, to: endpoint, from: local)
                ready += 1
                bytes += length
                onlyKeepalives = onlyKeepalives && job.pointee.isKeepalive
                lastKeypair = job.pointee.keypair
            }
            if ready > 0, let endpoint { send(datagrams, ready, endpoint: endpoint, peer: peer) }
            for i in chunk..<next {
                queue.job(i).pointee.buffer = nil
                queue.job(i).pointee.keypair = nil
            }
        }
        if let keypair = lastKeypair, peer.sentData(bytes: bytes, isKeepalive: onlyKeepalives, keypair: keypair, now: Clock.now()) {
            requestHandshake(peer, isRetry: false)
        }
    }

    func decrypt(_ peer: Peer, _ slot: Int, _ context: inout WorkerContext) {
        let queue = peer.runtime.receive
        let job = queue.job(slot)
        if let keypair = job.pointee.keypair, let packet = job.pointee.buffer?.packet,
           let (counter, length) = keypair.open(packet, using: context.aead) {
            job.pointee.counter = counter
            job.pointee.length = length
            job.pointee.authenticated = true
        }
        queue.finish(slot) { first, count in deliverReceive(peer, first, count) }
    }

    /// Hands a run of decrypted packets of one peer to the TUN, in order.
    func deliverReceive(_ peer: Peer, _ first: Int, _ count: Int) {
        let queue = peer.runtime.receive
        let now = Clock.now(), wall = Clock.wall()
        // Replies leave from where the newest authenticated packet arrived: set once per run.
        var latestLocal: LocalAddress?
        defer { if let latestLocal { peer.runtime.stickySource = latestLocal } }
        for i in first..<first + count {
            let job = queue.job(i)
            defer { job.pointee.buffer = nil; job.pointee.keypair = nil; job.pointee.source = nil }
            guard job.pointee.authenticated, let keypair = job.pointee.keypair, let source = job.pointee.source,
                  let packet = job.pointee.buffer?.packet else {
                counters.count(.authenticationFailed)
                continue
            }
            let outcome = device.finishData(packet, plaintextLength: job.pointee.length, counter: job.pointee.counter, keypair: keypair,
                                            peer: peer, source: source, now: now, wallClock: wall)
            switch outcome {
            case .data(_, let range, let receipt):
                latestLocal = job.pointee.local
                do throws(Errno) { try tun.write(UnsafeRawBufferPointer(rebasing: packet[range])) } catch { counters.count(.sendFailed) }
                follow(receipt, peer, now)
            case .keepalive(_, let receipt):
                latestLocal = job.pointee.local
                follow(receipt, peer, now)
            default:
                counters.count(.rejected)
            }
        }
    }

    private func follow(_ receipt: Peer.DataReceipt, _ peer: Peer, _ now: Instant) {
        if receipt.sessionConfirmed { sendStaged(peer, now: now) }
        if receipt.wantsHandshake { requestHandshake(peer, isRetry: false) }
    }

    // MARK: handshakes

    func handshake(_ context: inout WorkerContext) {
        let now = Clock.now()
        guard let entry = handshakes.pop(now: now), let source = entry.source, let packet = entry.packet else { return }
        let local = entry.local
        let outcome = device.receive(packet, from: source, underLoad: entry.underLoad, reply: context.message,
                                     now: now, wallClock: Clock.wall(), using: context.aead)
        switch outcome {
        case .reply(let length, let peer):
            if let peer { peer.runtime.stickySource = local }
            fill(&context.datagrams[0], data: context.message.baseAddress!, length: length, to: source, from: local)
            send(context.datagrams, 1, endpoint: source, peer: peer)
        case .sessionReady(let peer):
            peer.runtime.stickySource = local
            // Staged packets confirm the session; with none, a keepalive does (the kernel's way).
            if peer.runtime.stagedCount > 0 { sendStaged(peer, now: now) } else { sendKeepalive(to: peer) }
        case .cookieStored:
            break
        default:
            counters.count(.rejected)
        }
    }

    func initiate(_ peer: Peer, isRetry: Bool, _ context: inout WorkerContext) {
        peer.runtime.releaseInitiation()
        guard let endpoint = peer.endpoint else { counters.count(.noEndpoint); return }
        let message = UnsafeMutableRawBufferPointer(rebasing: context.message[0..<InitiationLayout.length])
        guard device.createInitiation(for: peer, into: message, isRetry: isRetry, now: Clock.now(),
                                      wallClock: Clock.wall(), using: context.aead) else { return }
        fill(&context.datagrams[0], data: message.baseAddress!, length: InitiationLayout.length, to: endpoint, from: peer.runtime.stickySource)
        send(context.datagrams, 1, endpoint: endpoint, peer: peer)
    }

    // MARK: sockets

    private func fill(_ d: inout wgd_datagram, data: UnsafeMutableRawPointer, length: Int, to endpoint: Endpoint, from local: LocalAddress) {
        d = wgd_datagram()
        d.data = data
        d.length = UInt32(length)
        d.remote_length = withUnsafeMutableBytes(of: &d.remote) { endpoint.writeSockaddr(into: $0.baseAddress!) }
        // Use the sticky source only for the family it belongs to.
        let family = endpoint.sendingAddress.isV4 ? AF_INET : AF_INET6
        if local.family == family {
            d.local_family = local.family
            d.local_ifindex = local.interfaceIndex
            var bytes = local.bytes
            withUnsafeBytes(of: &bytes) { src in withUnsafeMutableBytes(of: &d.local) { $0.copyMemory(from: src) } }
        }
    }

    /// sendmmsg with the sticky source; if the kernel refuses that source (the address is gone),
    /// forget it and send from whatever the routing table picks (wireguard-go's netns test
    /// "not-too-sticky source").
    private func send(_ datagrams: UnsafeMutablePointer<wgd_datagram>, _ count: Int, endpoint: Endpoint, peer: Peer?) {
        let sockets = currentSockets()
        guard let fd = sockets.socket(for: endpoint) else { counters.count(.noEndpoint, UInt64(count)); return }
        var sent = 0
        var retried = false
        while sent < count {
            let n = wgd_udp_send(fd, datagrams + sent, UInt32(count - sent))
            if n > 0 { sent += Int(n); continue }
            let error = errno
            if !retried && (error == EINVAL || error == EADDRNOTAVAIL || error == ENETUNREACH) {
                retried = true
                peer?.runtime.stickySource = .none
                for i in sent..<count { datagrams[i].local_family = 0 }
                continue
            }
            if error == EINTR { continue }
            counters.count(.sendFailed, UInt64(count - sent))
            return
        }
    }

    // MARK: timers

    /// One thread runs every peer's timers: wakes at least every 100 ms and fires what is due.
    func timerLoop() {
        var ticks = 0
        var warnedMTU = false
        while isRunning {
            usleep(100_000)
            ticks += 1
            if ticks % 10 == 0, let current = try? tun.currentMTU() {
                mtu.store(current, ordering: .relaxed)
                let room = pool.bufferSize - BufferPool.headroom - WireGuard.paddingMultiple - DataLayout.tagLength
                if current > room && !warnedMTU {
                    warnedMTU = true
                    options.log("MTU \(current) of \(name) is larger than the \(room)-byte packet buffers: larger packets are dropped")
                }
            }
            let now = Clock.now()
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
}
