import Glibc
import Protocol
import System

/// The receive path (the kernel's receive.c): datagrams in batches, data to the peer's ordered
/// receive queue, handshake messages to the handshake queue, decryption on any worker, and
/// in-order delivery to the tunnel.
extension Interface {
    /// Datagrams one receive takes at most.
    static let receiveBatch = 64

    /// How many buffers of `size` the receiver holds for its next batch: a whole batch, but of large buffers
    /// a quarter of the class at most, so that the tunnel and the queues keep the rest.
    func receiveSlots(bufferSize size: Int) -> Int {
        size == largePool.bufferSize ? min(Self.receiveBatch, max(1, largePool.count / 4)) : Self.receiveBatch
    }

    func udpLoop() {
        let batch = Self.receiveBatch
        let datagrams = UnsafeMutablePointer<ReceivedDatagram>.allocate(capacity: batch)
        datagrams.initialize(repeating: ReceivedDatagram(), count: batch)
        let buffers = UnsafeMutablePointer<PacketBuffer?>.allocate(capacity: batch)
        for i in 0..<batch { (buffers + i).initialize(to: nil) }
        // Where a datagram goes when no buffer is free: received and dropped, so the socket
        // never spins on it.
        let sink = UnsafeMutableRawBufferPointer.allocate(byteCount: largePool.bufferSize, alignment: 64)
        // This thread's own crypto context, when it decrypts what it receives (inlineCrypto).
        var context = WorkerContext()
        defer {
            buffers.deinitialize(count: batch); buffers.deallocate()
            datagrams.deinitialize(count: batch); datagrams.deallocate()
            sink.deallocate()
        }
        while isRunning {
            guard let sockets = currentSockets() else { usleep(50_000); continue }
            let size = datagramBufferSize(now: Clock.now())
            let slots = receiveSlots(bufferSize: size)
            for i in slots..<batch { buffers[i] = nil }
            var filled = 0
            while filled < slots {
                // A buffer of the other class waits in this slot from before a change: swap it.
                if let held = buffers[filled]?.bytes.count, held != size { buffers[filled] = nil }
                if buffers[filled] == nil, let fresh = takeBuffer(size: size) { buffers[filled] = consume fresh }
                guard let bytes = buffers[filled]?.bytes else { break }
                datagrams[filled] = ReceivedDatagram()
                datagrams[filled].data = bytes.baseAddress
                datagrams[filled].capacity = bytes.count
                filled += 1
            }
            if filled == 0 {
                datagrams[0] = ReceivedDatagram()
                datagrams[0].data = sink.baseAddress
                datagrams[0].capacity = sink.count
                if sockets.receive(UnsafeMutableBufferPointer(start: datagrams, count: 1), waitingAtMost: 250) > 0 { counters.count(.noBuffer) }
                continue
            }
            let received = sockets.receive(UnsafeMutableBufferPointer(start: datagrams, count: filled), waitingAtMost: 250)
            guard received > 0 else { continue }
            let arrived = Clock.now()
            for i in 0..<received {
                if options.inlineCrypto {
                    take(datagrams[i], buffers[i].take(), now: arrived, inline: &context)
                } else {
                    take(datagrams[i], buffers[i].take(), now: arrived, inline: nil)
                }
            }
            if let peer = context.undelivered {
                context.undelivered = nil
                deliverOpened(peer, &context)
            }
        }
    }

    private func take(_ datagram: ReceivedDatagram, _ buffer: consuming PacketBuffer?, now: Instant,
                      inline: UnsafeMutablePointer<WorkerContext>?) {
        if datagram.truncated {
            lastTruncation.store(now.nanoseconds, ordering: .relaxed)
            counters.count(.tooLarge)
            return
        }
        guard datagram.length > 0, var buffer, let source = datagram.source else {
            counters.count(.malformed)
            return
        }
        buffer.start = 0
        buffer.length = datagram.length
        dispatch(buffer, source: source, local: datagram.local, now: now, inline: inline)
    }

    private func dispatch(_ buffer: consuming PacketBuffer, source: Endpoint, local: LocalAddress, now: Instant,
                          inline: UnsafeMutablePointer<WorkerContext>?) {
        let packet = UnsafeRawBufferPointer(buffer.packet)
        switch Messages.classify(packet) {
        case .data?:
            guard let (keypair, peer) = device.keypair(for: packet, now: now) else { counters.count(.unknownSession); return }
            let queue = peer.runtime.receive
            guard let slot = queue.reserve() else { counters.count(.queueFull); return }
            let job = queue.job(slot)
            job.pointee.buffer = consume buffer
            job.pointee.keypair = keypair
            job.pointee.source = source
            job.pointee.local = local
            job.pointee.authenticated = false
            if let inline {
                if let previous = inline.pointee.undelivered, previous !== peer { deliverOpened(previous, &inline.pointee) }
                inline.pointee.undelivered = peer
                decrypt(peer, slot, &inline.pointee, deliver: false)
            } else {
                submit(.decrypt(peer, slot: slot), slot: slot, of: queue)
            }
        case .initiation?, .response?, .cookieReply?:
            guard handshakes.push(buffer, source: source, local: local) else {
                counters.count(.queueFull)
                return
            }
            // An entry without a work item would hold its buffer until some later handshake came:
            // take one back out (a work item left without an entry is a no-op for its worker).
            if !work.push(.handshake) {
                handshakes.dropNewest()
                counters.count(.queueFull)
            }
        case nil:
            counters.count(.malformed)
        }
    }

    // MARK: on a worker (or inline, on the receiving thread)

    /// Opens a slot; with `deliver`, also hands the run it completes to the tunnel (else the
    /// caller does, with `deliverOpened`).
    func decrypt(_ peer: Peer, _ slot: Int, _ context: inout WorkerContext, deliver: Bool = true) {
        let queue = peer.runtime.receive
        let job = queue.job(slot)
        if let keypair = job.pointee.keypair, let packet = job.pointee.buffer?.packet,
           let (counter, length) = keypair.open(packet, using: context.aead) {
            job.pointee.counter = counter
            job.pointee.length = length
            job.pointee.authenticated = true
        }
        guard deliver else { return queue.markDone(slot) }
        queue.finish(slot, deliver: { first, count in gatherReceive(peer, first, count, &context.tunGroup) },
                     delivered: { flush(&context.tunGroup) })
    }

    /// Hands what this thread opened for `peer` to the tunnel: every run finished at the queue's
    /// head, with super-packets gathered across runs (a run ends with its 16-slot chunk).
    func deliverOpened(_ peer: Peer, _ context: inout WorkerContext) {
        peer.runtime.receive.drain(deliver: { first, count in gatherReceive(peer, first, count, &context.tunGroup) },
                                   delivered: { flush(&context.tunGroup) })
    }

    /// Hands a run of decrypted packets of one peer to the tunnel, in order, through `group`: on
    /// an offloading tunnel, consecutive segments of one flow join one super-packet
    /// (TunCoalesce). A group that holds (a thread's context) takes each job's buffer as it
    /// goes, so it may outlast the run; with any other, the caller empties the jobs once the
    /// group is written, since it points into them.
    private func gatherReceive(_ peer: Peer, _ first: Int, _ count: Int, _ group: inout TunGroup) {
        let queue = peer.runtime.receive
        let now = Clock.now(), wall = Clock.wall()
        // Replies leave from where the newest authenticated packet arrived: set once per run.
        var latestLocal: LocalAddress?
        for i in first..<first + count {
            let job = queue.job(i)
            defer { if group.holds { job.pointee.buffer = nil; job.pointee.keypair = nil; job.pointee.source = nil } }
            guard job.pointee.authenticated, let keypair = job.pointee.keypair, let source = job.pointee.source,
                  let packet = job.pointee.buffer?.packet else {
                counters.count(.authenticationFailed)
                continue
            }
            if let range = finish(job, packet, keypair, peer, source, now, wall, &latestLocal), write(packet, range, &group),
               group.holds, let buffer = job.pointee.buffer.take() {
                group.hold(buffer)
            }
        }
        if let latestLocal { peer.runtime.stickySource = latestLocal }
    }

    /// Authenticated: the protocol's checks and side effects; the inner packet's range if it is to
    /// be written.
    private func finish(_ job: UnsafeMutablePointer<Job>, _ packet: UnsafeMutableRawBufferPointer, _ keypair: Keypair, _ peer: Peer,
                        _ source: Endpoint, _ now: Instant, _ wall: WallTime, _ latestLocal: inout LocalAddress?) -> Range<Int>? {
        let outcome = device.finishData(packet, plaintextLength: job.pointee.length, counter: job.pointee.counter, keypair: keypair,
                                        peer: peer, source: source, now: now, wallClock: wall)
        switch outcome {
        case .data(_, let range, let receipt):
            latestLocal = job.pointee.local
            follow(receipt, peer, now)
            return range
        case .keepalive(_, let receipt):
            latestLocal = job.pointee.local
            follow(receipt, peer, now)
        case .rejectedAfterAuthentication(_, _, let receipt):
            // Authentic, so its side effects stand (receive.c's order): the source, staged
            // packets on confirmation, keep-key-fresh; only the inner packet is dropped.
            latestLocal = job.pointee.local
            counters.count(.rejected)
            follow(receipt, peer, now)
        default:
            counters.count(.rejected)
        }
        return nil
    }

    /// `gatherReceive` for a thread with no context to gather in (a full work queue's drop): the
    /// run's own group, written before its buffers go back.
    func deliverReceive(_ peer: Peer, _ first: Int, _ count: Int) {
        // Room for the virtio header, the first packet, and one payload per packet after it.
        withUnsafeTemporaryAllocation(of: iovec.self, capacity: count + 2) { vectors in
            var group = TunGroup(vectors: vectors)
            gatherReceive(peer, first, count, &group)
            flush(&group)
        }
        let queue = peer.runtime.receive
        for i in first..<first + count {
            let job = queue.job(i)
            job.pointee.buffer = nil; job.pointee.keypair = nil; job.pointee.source = nil
        }
    }

    /// The super-packet being gathered: its first packet (whole, in `vectors[1]`), then the
    /// payloads of the segments that followed it. With `held`, it keeps the buffers of what it
    /// gathered (one per piece after the header) and gives them back once written.
    struct TunGroup {
        let vectors: UnsafeMutableBufferPointer<iovec>
        let held: UnsafeMutablePointer<PacketBuffer?>?
        var heldCount = 0
        var packet: UnsafeMutableRawBufferPointer?
        var range = 0..<0
        var first: TunCoalesce.Segment?
        var last: TunCoalesce.Segment?
        var length = 0
        var pieces = 0

        init(vectors: UnsafeMutableBufferPointer<iovec>, held: UnsafeMutablePointer<PacketBuffer?>? = nil) {
            self.vectors = vectors
            self.held = held
        }

        var holds: Bool { held != nil }

        mutating func hold(_ buffer: consuming PacketBuffer) {
            guard let held else { return }
            held[heldCount] = consume buffer
            heldCount += 1
        }

        mutating func release() {
            guard let held else { return }
            for i in 0..<heldCount { held[i] = nil }
            heldCount = 0
        }
    }

    /// Writes the inner packet at `range` of `packet`, or keeps it to join the group's flow (true:
    /// the group points into `packet` now).
    private func write(_ packet: UnsafeMutableRawBufferPointer, _ range: Range<Int>, _ group: inout TunGroup) -> Bool {
        let inner = UnsafeRawBufferPointer(rebasing: packet[range])
        guard tun.offloads, let segment = TunCoalesce.segment(inner, udp: tun.udpOffload) else {
            flush(&group)
            writeToTunnel(packet, range)
            return false
        }
        if let head = group.packet, let first = group.first, let last = group.last, group.pieces < group.vectors.count,
           TunCoalesce.follows(inner, segment, head: UnsafeRawBufferPointer(rebasing: head[group.range]), first: first, last: last, length: group.length) {
            group.vectors[group.pieces] = iovec(iov_base: packet.baseAddress! + range.lowerBound + segment.headers, iov_len: segment.payload)
            group.pieces += 1
            group.last = segment
            group.length += segment.payload
            return true
        }
        flush(&group)
        group.packet = packet
        group.range = range
        group.first = segment
        group.last = segment
        group.length = inner.count
        group.vectors[1] = iovec(iov_base: packet.baseAddress! + range.lowerBound, iov_len: inner.count)
        group.pieces = 2
        return true
    }

    /// Writes the group: as it was if it is one packet, else as a super-packet.
    func flush(_ group: inout TunGroup) {
        guard let packet = group.packet, let first = group.first, let last = group.last else { return }
        defer { group.packet = nil; group.first = nil; group.last = nil; group.pieces = 0; group.release() }
        guard group.pieces > 2 else { return writeToTunnel(packet, group.range) }
        let start = group.range.lowerBound
        let header = TunCoalesce.finish(UnsafeMutableRawBufferPointer(rebasing: packet[start..<start + first.headers]), first, last: last, length: group.length)
        let virtio = UnsafeMutableRawBufferPointer(rebasing: packet[start - VirtioHeader.length..<start])
        header.write(to: virtio)
        group.vectors[0] = iovec(iov_base: virtio.baseAddress!, iov_len: VirtioHeader.length)
        do throws(Errno) {
            try tun.write(vectors: UnsafeBufferPointer(rebasing: group.vectors[0..<group.pieces]))
        } catch {
            counters.count(.sendFailed)
        }
    }

    /// Writes the inner packet at `range`; an offloading tunnel takes a virtio header in front,
    /// written into the data message's header, which is spent by now (flags 0: the checksums are
    /// whole, the peer made them).
    private func writeToTunnel(_ packet: UnsafeMutableRawBufferPointer, _ range: Range<Int>) {
        var start = range.lowerBound
        if tun.offloads {
            start -= VirtioHeader.length
            UnsafeMutableRawBufferPointer(rebasing: packet[start..<range.lowerBound]).initializeMemory(as: UInt8.self, repeating: 0)
        }
        do throws(Errno) { try tun.write(UnsafeRawBufferPointer(rebasing: packet[start..<range.upperBound])) } catch { counters.count(.sendFailed) }
    }

    private func follow(_ receipt: DataReceipt, _ peer: Peer, _ now: Instant) {
        if receipt.sessionConfirmed { sendStaged(peer, now: now) }
        if receipt.wantsHandshake { requestHandshake(peer, isRetry: false) }
    }

    func handshake(_ context: inout WorkerContext) {
        let now = Clock.now()
        guard let entry = handshakes.pop(now: now), let source = entry.source, let packet = entry.packet else { return }
        let local = entry.local
        let outcome = device.receive(packet, from: source, underLoad: entry.underLoad, reply: context.message,
                                     now: now, wallClock: Clock.wall(), using: context.aead)
        switch outcome {
        case .reply(let length, let peer):
            if let peer { peer.runtime.stickySource = local }
            context.datagrams[0] = iovec(iov_base: context.message.baseAddress!, iov_len: length)
            send(UnsafeBufferPointer(start: context.datagrams, count: 1), to: source, peer: peer, from: local)
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
}
