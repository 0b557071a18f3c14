import Glibc
import Protocol
import System

/// The transmit path (the kernel's send.c): tunnel reads, staging while there is no session,
/// the ordered transmit queue, encryption on any worker, and in-order delivery to the socket.
extension Interface {
    func tunLoop() {
        // This thread's own crypto context, when it encrypts what it reads (inlineCrypto).
        var context = WorkerContext()
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: largePool.bufferSize, alignment: 64)
        defer { scratch.deallocate() }
        while isRunning {
            guard var buffer = takeTunnelBuffer() else {
                // No buffer: read the packet anyway, to drop it, rather than stall the tunnel.
                if (try? tun.read(into: scratch, waitingAtMost: 100)) != nil { counters.count(.noBuffer) }
                continue
            }
            let room = UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[BufferPool.headroom..<BufferPool.headroom + buffer.packetRoom])
            let length: Int
            do throws(Errno) {
                guard let n = try tun.read(into: room, waitingAtMost: 100) else { continue }
                length = n
            } catch {
                if error.code == EINTR || error.code == EAGAIN { continue }
                options.log("tun \(name): \(error); the interface is gone")
                interfaceGone()
                return
            }
            // The tunnel reports a packet's whole length even when it did not fit: drop it, and
            // read into large buffers for a while (the MTU may have grown unseen).
            guard length <= room.count else {
                lastTunnelTruncation.store(Clock.now().nanoseconds, ordering: .relaxed)
                counters.count(.tooLarge)
                continue
            }
            buffer.start = BufferPool.headroom
            buffer.length = length
            guard let peer = device.route(UnsafeRawBufferPointer(buffer.packet)) else {
                counters.count(.noRoute)
                continue
            }
            if options.inlineCrypto {
                transmit(buffer, to: peer, now: Clock.now(), inline: &context)
            } else {
                transmit(buffer, to: peer, now: Clock.now())
            }
        }
    }

    /// Sends an IP packet (or, with length 0, a keepalive) to `peer`: encrypted if a session
    /// exists, else staged while a handshake is requested. With `inline`, this thread encrypts
    /// it; else a worker does.
    func transmit(_ buffer: consuming PacketBuffer, to peer: Peer, now: Instant,
                  inline: UnsafeMutablePointer<WorkerContext>? = nil) {
        let runtime = peer.runtime
        // Packets already waiting go first, so that order holds.
        if runtime.stagedCount > 0 {
            if runtime.stage(buffer).droppedOne { counters.count(.queueFull) }
            sendStaged(peer, now: now, inline: inline)
            return
        }
        guard let (keypair, counter) = peer.reserveNonce(now: now) else {
            if runtime.stage(buffer).droppedOne { counters.count(.queueFull) }
            requestHandshake(peer, isRetry: false)
            return
        }
        enqueueTransmit(buffer, peer: peer, keypair: keypair, counter: counter, inline: inline)
    }

    /// Moves staged packets into the transmit queue while a session lasts.
    func sendStaged(_ peer: Peer, now: Instant, inline: UnsafeMutablePointer<WorkerContext>? = nil) {
        let runtime = peer.runtime
        while runtime.stagedCount > 0 {
            guard let (keypair, counter) = peer.reserveNonce(now: now) else {
                requestHandshake(peer, isRetry: false)
                return
            }
            guard let buffer = runtime.unstage() else { return }
            enqueueTransmit(buffer, peer: peer, keypair: keypair, counter: counter, inline: inline)
        }
    }

    private func enqueueTransmit(_ buffer: consuming PacketBuffer, peer: Peer, keypair: Keypair, counter: UInt64,
                                 inline: UnsafeMutablePointer<WorkerContext>?) {
        let queue = peer.runtime.transmit
        guard let slot = queue.reserve() else {
            counters.count(.queueFull)
            return
        }
        let padded = Padding.paddedLength(buffer.length, mtu: mtu.load(ordering: .relaxed))
        let bytes = buffer.bytes
        let end = BufferPool.headroom + buffer.length
        if padded > buffer.length { UnsafeMutableRawBufferPointer(rebasing: bytes[end..<BufferPool.headroom + padded]).initializeMemory(as: UInt8.self, repeating: 0) }
        let job = queue.job(slot)
        job.pointee.isKeepalive = buffer.length == 0
        job.pointee.length = padded
        job.pointee.buffer = consume buffer
        job.pointee.keypair = keypair
        job.pointee.counter = counter
        job.pointee.authenticated = false
        if let inline {
            encrypt(peer, slot, &inline.pointee)
        } else {
            submit(.encrypt(peer, slot: slot), slot: slot, of: queue)
        }
    }

    /// Hands a filled slot to the workers. With the work queue full the packet is dropped, and
    /// its slot finished empty; if that makes this thread the drainer, the finished packets
    /// around it are delivered properly (one datagram at a time: this thread has no batch).
    func submit(_ item: Work, slot: Int, of queue: OrderedQueue) {
        guard !work.push(item) else { return }
        counters.count(.queueFull)
        queue.job(slot).pointee.buffer = nil
        queue.job(slot).pointee.keypair = nil
        switch item {
        case .encrypt(let peer, _):
            withUnsafeTemporaryAllocation(of: iovec.self, capacity: 1) { scratch in
                queue.finish(slot) { first, count in deliverTransmit(peer, first, count, scratch.baseAddress!, 1) }
            }
        case .decrypt(let peer, _):
            queue.finish(slot) { first, count in deliverReceive(peer, first, count) }
        case .handshake, .initiate:
            break
        }
    }

    func sendKeepalive(to peer: Peer) {
        guard var buffer = pool.take() else { counters.count(.noBuffer); return }
        buffer.start = BufferPool.headroom
        buffer.length = 0
        transmit(buffer, to: peer, now: Clock.now())
    }

    /// Asks a worker for an initiation to `peer`, unless one is already asked for.
    func requestHandshake(_ peer: Peer, isRetry: Bool) {
        guard peer.runtime.claimInitiation() else { return }
        if !work.push(.initiate(peer, isRetry: isRetry)) { peer.runtime.releaseInitiation() }
    }

    // MARK: on a worker (or inline, on the thread that read the packet)

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
    func deliverTransmit(_ peer: Peer, _ first: Int, _ count: Int, _ datagrams: UnsafeMutablePointer<iovec>, _ batch: Int) {
        let queue = peer.runtime.transmit
        // A removed peer sends nothing more, not even what was encrypted before it went.
        let endpoint = peer.sendingEndpoint
        var bytes = 0, onlyKeepalives = true
        var lastKeypair: Keypair?
        var next = first
        while next < first + count {
            let chunk = next
            var ready = 0
            while next < first + count && ready < batch {
                let job = queue.job(next)
                next += 1
                guard job.pointee.authenticated, endpoint != nil, let data = job.pointee.buffer?.bytes.baseAddress else {
                    counters.count(endpoint == nil ? .noEndpoint : .rejected)
                    continue
                }
                let length = DataLayout.headerLength + job.pointee.length + DataLayout.tagLength
                datagrams[ready] = iovec(iov_base: data, iov_len: length)
                ready += 1
                bytes += length
                onlyKeepalives = onlyKeepalives && job.pointee.isKeepalive
                lastKeypair = job.pointee.keypair
            }
            if ready > 0, let endpoint { send(UnsafeBufferPointer(start: datagrams, count: ready), to: endpoint, peer: peer) }
            for i in chunk..<next {
                queue.job(i).pointee.buffer = nil
                queue.job(i).pointee.keypair = nil
            }
        }
        if let keypair = lastKeypair, peer.sentData(bytes: bytes, isKeepalive: onlyKeepalives, keypair: keypair, now: Clock.now()) {
            requestHandshake(peer, isRetry: false)
        }
    }

    func initiate(_ peer: Peer, isRetry: Bool, _ context: inout WorkerContext) {
        peer.runtime.releaseInitiation()
        guard let endpoint = peer.endpoint else { counters.count(.noEndpoint); return }
        let message = UnsafeMutableRawBufferPointer(rebasing: context.message[0..<InitiationLayout.length])
        guard device.createInitiation(for: peer, into: message, isRetry: isRetry, now: Clock.now(),
                                      wallClock: Clock.wall(), using: context.aead) else { return }
        context.datagrams[0] = iovec(iov_base: message.baseAddress!, iov_len: InitiationLayout.length)
        send(UnsafeBufferPointer(start: context.datagrams, count: 1), to: endpoint, peer: peer)
    }
}
