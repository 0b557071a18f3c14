import Glibc
import Protocol
import System

/// The transmit path (the kernel's send.c): tunnel reads, staging while there is no session,
/// the ordered transmit queue, encryption on any worker, and in-order delivery to the socket.
extension Interface {
    func tunLoop() {
        if tun.offloads { return offloadedTunLoop() }
        // This thread's own crypto context, when it encrypts what it reads (inlineCrypto).
        var context = WorkerContext()
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: largePool.bufferSize, alignment: 64)
        defer { scratch.deallocate() }
        while isRunning {
            guard var buffer = takeTunnelBuffer() else {
                // Packets held for one send may hold the last buffers: send them, then try again.
                if context.unsent != nil { flushUnsent(&context); continue }
                // No buffer: read the packet anyway, to drop it, rather than stall the tunnel.
                if (try? tun.read(into: scratch, waitingAtMost: 100)) != nil { counters.count(.noBuffer) }
                continue
            }
            let room = UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[BufferPool.headroom..<BufferPool.headroom + buffer.packetRoom])
            let length: Int
            switch readTunnel(into: room, waiting: context.unsent == nil) {
            case .packet(let n): length = n
            case .again: flushUnsent(&context); continue
            case .gone: return
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
            if options.inlineCrypto { noteUnsent(peer, count: 1, &context) }
            transmitRead(buffer, to: peer, now: Clock.now(), &context)
        }
        flushUnsent(&context)
    }

    /// The tunnel reader for a tunnel with offloads: each read is a packet or a TCP super-packet
    /// behind its virtio header, cut into segments in pool buffers (everyday ones whenever a
    /// segment fits) and sealed and sent together: one read and one sendmmsg for up to 64 KiB.
    func offloadedTunLoop() {
        var context = WorkerContext()
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: VirtioHeader.length + InterfaceOptions.largestMTU, alignment: 64)
        defer { scratch.deallocate() }
        while isRunning {
            let length: Int
            switch readTunnel(into: scratch, waiting: context.unsent == nil) {
            case .packet(let n): length = n
            case .again: flushUnsent(&context); continue
            case .gone: return
            }
            guard length > VirtioHeader.length, length <= scratch.count else { counters.count(.malformed); continue }
            let header = VirtioHeader(UnsafeRawBufferPointer(rebasing: scratch[0..<VirtioHeader.length]))
            let packet = UnsafeMutableRawBufferPointer(rebasing: scratch[VirtioHeader.length..<length])
            guard let peer = device.route(UnsafeRawBufferPointer(packet)) else {
                counters.count(.noRoute)
                continue
            }
            do throws(OffloadError) {
                let now = Clock.now()
                if header.gsoType == VirtioHeader.gsoNone {
                    if header.flags & VirtioHeader.needsChecksum != 0 { try TunOffload.finishChecksum(packet, header) }
                    if options.inlineCrypto { noteUnsent(peer, count: 1, &context) }
                    try transmitCopy(of: packet, to: peer, now: now, &context)
                } else {
                    try transmitSegments(of: UnsafeRawBufferPointer(packet), header, to: peer, now: now, &context)
                }
            } catch {
                counters.count(.malformed)
            }
        }
        flushUnsent(&context)
    }

    /// Before the reader seals a packet for `peer` inline: another peer's run leaves first (so
    /// that each run stays in order and whole), and a run that reached a batch leaves now.
    private func noteUnsent(_ peer: Peer, count: Int, _ context: inout WorkerContext) {
        if let unsent = context.unsent, unsent !== peer || context.unsentCount >= WorkerContext.batch {
            flushUnsent(&context)
        }
        context.unsent = peer
        context.unsentCount += count
    }

    /// Sends the run the reader sealed and has not sent yet.
    private func flushUnsent(_ context: inout WorkerContext) {
        guard let peer = context.unsent else { return }
        context.unsent = nil
        context.unsentCount = 0
        flushTransmit(peer, &context)
    }

    private enum TunnelRead { case packet(Int), again, gone }

    /// One read from the tunnel, waiting 100 ms at most (not at all while the reader holds
    /// unsent packets: an empty tunnel is then the moment to send them); on an error other than
    /// EINTR or EAGAIN the interface is gone, and the reader ends.
    private func readTunnel(into room: UnsafeMutableRawBufferPointer, waiting: Bool) -> TunnelRead {
        do throws(Errno) {
            guard let n = try tun.read(into: room, waitingAtMost: waiting ? 100 : 0) else { return .again }
            return .packet(n)
        } catch {
            if error.code == EINTR || error.code == EAGAIN { return .again }
            options.log("tun \(name): \(error); the interface is gone")
            interfaceGone()
            return .gone
        }
    }

    /// A buffer with room for a packet of `length`: everyday when it fits. Packets held for one
    /// send may hold the last buffers: they are sent first, then the pool is asked again.
    private func takeBuffer(forPacket length: Int, _ context: inout WorkerContext) -> PacketBuffer? {
        let pool = length <= pool.packetRoom ? pool : largePool
        if let buffer = pool.take() { return buffer }
        guard context.unsent != nil else { return nil }
        flushUnsent(&context)
        return pool.take()
    }

    private func transmitCopy(of packet: UnsafeMutableRawBufferPointer, to peer: Peer, now: Instant,
                              _ context: inout WorkerContext) throws(OffloadError) {
        guard var buffer = takeBuffer(forPacket: packet.count, &context) else { counters.count(.noBuffer); return }
        buffer.start = BufferPool.headroom
        buffer.length = packet.count
        buffer.packet.copyMemory(from: UnsafeRawBufferPointer(packet))
        transmitRead(buffer, to: peer, now: now, &context)
    }

    private func transmitSegments(of packet: UnsafeRawBufferPointer, _ header: VirtioHeader, to peer: Peer, now: Instant,
                                  _ context: inout WorkerContext) throws(OffloadError) {
        let (count, largest) = try TunOffload.segments(packet, header)
        for index in 0..<count {
            if options.inlineCrypto { noteUnsent(peer, count: 1, &context) }
            guard var buffer = takeBuffer(forPacket: largest, &context) else {
                counters.count(.noBuffer)
                continue
            }
            let room = UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[BufferPool.headroom..<BufferPool.headroom + buffer.packetRoom])
            buffer.length = try TunOffload.segment(packet, header, index: index, into: room)
            buffer.start = BufferPool.headroom
            transmitRead(buffer, to: peer, now: now, &context)
        }
    }

    /// Hands a packet read from the tunnel on: sealed here (inlineCrypto) or by a worker.
    private func transmitRead(_ buffer: consuming PacketBuffer, to peer: Peer, now: Instant, _ context: inout WorkerContext) {
        if options.inlineCrypto {
            transmit(buffer, to: peer, now: now, inline: &context)
        } else {
            transmit(buffer, to: peer, now: now)
        }
    }

    /// Sends what this thread sealed for `peer` (inline, nothing is sent until this): every run
    /// finished at the queue's head, gathered into sends of up to a batch.
    func flushTransmit(_ peer: Peer, _ context: inout WorkerContext) {
        peer.runtime.transmit.drain(deliver: { first, count in gatherTransmit(peer, first, count, &context) },
                                    delivered: { sendGathered(peer, &context) })
    }

    /// Takes a run's sealed datagrams (and their buffers) into the context's gathered send.
    private func gatherTransmit(_ peer: Peer, _ first: Int, _ count: Int, _ context: inout WorkerContext) {
        let queue = peer.runtime.transmit
        for slot in first..<first + count {
            let job = queue.job(slot)
            defer { job.pointee.keypair = nil }
            guard job.pointee.authenticated, let buffer = job.pointee.buffer.take() else {
                job.pointee.buffer = nil
                counters.count(.rejected)
                continue
            }
            let length = DataLayout.headerLength + job.pointee.length + DataLayout.tagLength
            let n = context.gatheredCount
            context.datagrams[n] = iovec(iov_base: buffer.bytes.baseAddress!, iov_len: length)
            context.gathered[n] = consume buffer
            context.gatheredCount = n + 1
            context.gatheredBytes += length
            context.gatheredOnlyKeepalives = context.gatheredOnlyKeepalives && job.pointee.isKeepalive
            context.gatheredKeypair = job.pointee.keypair
            if n + 1 == WorkerContext.batch { sendGathered(peer, &context) }
        }
    }

    /// Sends the gathered datagrams, then gives their buffers back. A removed peer sends nothing
    /// more, not even what was sealed before it went.
    private func sendGathered(_ peer: Peer, _ context: inout WorkerContext) {
        let count = context.gatheredCount
        guard count > 0 else { return }
        if let endpoint = peer.sendingEndpoint {
            send(UnsafeBufferPointer(start: context.datagrams, count: count), to: endpoint, peer: peer)
        } else {
            counters.count(.noEndpoint, UInt64(count))
        }
        for i in 0..<count { context.gathered[i] = nil }
        let keypair = context.gatheredKeypair
        let bytes = context.gatheredBytes, onlyKeepalives = context.gatheredOnlyKeepalives
        context.gatheredCount = 0
        context.gatheredBytes = 0
        context.gatheredOnlyKeepalives = true
        context.gatheredKeypair = nil
        if let keypair, peer.sentData(bytes: bytes, isKeepalive: onlyKeepalives, keypair: keypair, now: Clock.now()) {
            requestHandshake(peer, isRetry: false)
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
            encrypt(peer, slot, &inline.pointee, drain: false)
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

    /// Seals a slot; with `drain`, also sends the run it completes (else the caller flushes).
    func encrypt(_ peer: Peer, _ slot: Int, _ context: inout WorkerContext, drain: Bool = true) {
        let queue = peer.runtime.transmit
        let job = queue.job(slot)
        if let keypair = job.pointee.keypair, let bytes = job.pointee.buffer?.bytes {
            let length = DataLayout.headerLength + job.pointee.length + DataLayout.tagLength
            keypair.seal(UnsafeMutableRawBufferPointer(rebasing: bytes[0..<length]), plaintextLength: job.pointee.length,
                         counter: job.pointee.counter, using: context.aead)
            job.pointee.authenticated = true
        }
        guard drain else { return queue.markDone(slot) }
        queue.finish(slot, deliver: { first, count in gatherTransmit(peer, first, count, &context) },
                     delivered: { sendGathered(peer, &context) })
    }

    /// Sends a run of encrypted packets of one peer, in order, in batches of sendmmsg, for a
    /// thread with no context to gather in (a full work queue's drop). Buffers go back to the
    /// pool only after the batch that points into them was sent.
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
