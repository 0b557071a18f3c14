import Crypto
import Glibc
import Protocol

/// What each worker thread owns: its AEAD context and the scratch space for a batch, all made
/// once, so that processing a packet allocates nothing.
struct WorkerContext: ~Copyable {
    static let batch = 64
    let aead = ChaCha20Poly1305()
    let datagrams = UnsafeMutablePointer<iovec>.allocate(capacity: WorkerContext.batch)
    /// A handshake reply or initiation is written here (148 bytes at most).
    let message = UnsafeMutableRawBufferPointer.allocate(byteCount: InitiationLayout.length, alignment: 16)
    /// The peer whose packets this thread opened inline and has not yet handed to the tunnel:
    /// they go as one run (so a TCP flow's segments coalesce) when the batch ends or another
    /// peer's packet comes.
    var undelivered: Peer?
    /// The peer whose packets the tunnel reader sealed inline and has not yet sent, and how many:
    /// the reader goes on reading while the tunnel has more, and sends them as one run (one
    /// sendmmsg, one GSO send) when the tunnel is empty, the run is a batch, or another peer's
    /// packet comes.
    var unsent: Peer?
    var unsentCount = 0
    /// One peer's sealed datagrams gathered across its transmit queue's runs (a run ends with its
    /// 16-slot chunk) by whichever thread drains it, so that up to a batch leave in one sendmmsg;
    /// their buffers are held here until then, since a drained chunk goes back to the pool at once.
    let gathered = UnsafeMutablePointer<PacketBuffer?>.allocate(capacity: WorkerContext.batch)
    var gatheredCount = 0
    var gatheredBytes = 0
    var gatheredOnlyKeepalives = true
    var gatheredKeypair: Keypair?

    /// The super-packet the draining thread gathers for the tunnel across the receive queue's
    /// runs, and the buffers it points into (written when the drain ends, or once it holds a
    /// receive batch).
    var tunGroup: Interface.TunGroup
    private let tunVectors = UnsafeMutablePointer<iovec>.allocate(capacity: Interface.receiveBatch + 2)
    private let tunHeld = UnsafeMutablePointer<PacketBuffer?>.allocate(capacity: Interface.receiveBatch + 2)

    init() {
        for i in 0..<WorkerContext.batch { (gathered + i).initialize(to: nil) }
        for i in 0..<Interface.receiveBatch + 2 { (tunHeld + i).initialize(to: nil) }
        tunGroup = Interface.TunGroup(vectors: UnsafeMutableBufferPointer(start: tunVectors, count: Interface.receiveBatch + 2), held: tunHeld)
    }

    deinit {
        datagrams.deallocate()
        message.deallocate()
        gathered.deinitialize(count: WorkerContext.batch)
        gathered.deallocate()
        tunHeld.deinitialize(count: Interface.receiveBatch + 2)
        tunHeld.deallocate()
        tunVectors.deallocate()
    }
}

extension Interface {
    /// One pinned worker: takes the device-wide work in order, whatever peer it is for.
    func workerLoop() {
        var context = WorkerContext()
        while isRunning {
            guard let item = work.pop() else { continue }
            switch item {
            case .encrypt(let peer, let slot): encrypt(peer, slot, &context)
            case .decrypt(let peer, let slot): decrypt(peer, slot, &context)
            case .handshake: handshake(&context)
            case .initiate(let peer, let isRetry): initiate(peer, isRetry: isRetry, &context)
            }
        }
    }
}
