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

    deinit {
        datagrams.deallocate()
        message.deallocate()
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
