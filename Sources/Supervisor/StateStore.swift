public import DataPlane
public import System
import Glibc
import Synchronization

/// The running supervisor's copy of the state file, and the only writer of it.
/// - A change is applied in memory (and by its caller to the data plane) at once, in the order
///   changes come; its caller then waits until the file holds it, and only then answers.
/// - Group commit: whoever waits while no write is under way writes the latest state, which
///   holds every change made so far; one fsync answers them all. Nothing is answered before it
///   is on disk, and a crash at any instant leaves the old file or a complete newer one.
/// - A failed write fails every change not yet on disk: the state goes back to what the file
///   holds, `rollback` puts the data planes back to it, and each waiting client gets the error.
final class StateStore: Sendable {
    let path: String

    private struct Book {
        /// The latest state: what changes build on and `get` shows.
        var pending: StateFile
        var durable: StateFile
        /// Counts changes; `durableGeneration` is the last one the file holds.
        var pendingGeneration: UInt64 = 0
        var durableGeneration: UInt64 = 0
        /// Changes up to this one were lost to a failed write.
        var failedThrough: UInt64 = 0
        var failure = Errno(EIO)
        var writing = false

        var settled: Bool { durableGeneration >= pendingGeneration || failedThrough >= pendingGeneration }
    }

    private enum Step {
        case done
        case failed(Errno)
        case write(StateFile, UInt64)
    }

    /// Held while a change is made, so that changes (and what they do to the data planes)
    /// happen one at a time and in order. Never held across a write.
    private let applying = Mutex(())
    private let book: ConditionLock<Book>
    private let rollback: Mutex<@Sendable (StateFile) -> Void> = Mutex({ _ in })
    /// Writes done and changes they carried, for the log and the tests.
    private let writes = Atomic(0)

    init(path: String, state: StateFile) {
        self.path = path
        book = ConditionLock(Book(pending: state, durable: state))
    }

    var state: StateFile { book.withLock { $0.pending } }

    var writeCount: Int { writes.load(ordering: .relaxed) }

    func interface(named name: String) -> InterfaceState? {
        book.withLock { $0.pending.interfaces.first { $0.name == name } }
    }

    /// What puts the data planes back to the file's state after a failed write.
    func onRollback(_ body: @escaping @Sendable (StateFile) -> Void) { rollback.withLock { $0 = body } }

    /// Runs `body` on the latest state; if it does not throw, that is the latest state. The
    /// commitment waits until the file holds it: its error is the write's, and then the change
    /// was undone.
    func change(_ body: (inout StateFile) throws(Errno) -> Void) throws(Errno) -> Commitment {
        let generation = try applying.withLock { (_: inout Void) throws(Errno) -> UInt64 in
            var next = state
            try body(&next)
            return book.withLock { book in
                book.pending = next
                book.pendingGeneration += 1
                return book.pendingGeneration
            }
        }
        return Commitment { [self] () throws(Errno) in try waitDurable(generation) }
    }

    private func waitDurable(_ generation: UInt64) throws(Errno) {
        while true {
            let step = book.wait(until: { $0.durableGeneration >= generation || $0.failedThrough >= generation || !$0.writing }) { book -> Step in
                if book.durableGeneration >= generation { return .done }
                if book.failedThrough >= generation { return .failed(book.failure) }
                book.writing = true
                return .write(book.pending, book.pendingGeneration)
            }
            switch step {
            case .done: return
            case .failed(let error): throw error
            case .write(let snapshot, let through): write(snapshot, through: through)
            }
        }
    }

    private func write(_ snapshot: StateFile, through generation: UInt64) {
        do throws(Errno) {
            try snapshot.write(to: path)
            writes.add(1, ordering: .relaxed)
            book.withLock { book in
                book.durable = snapshot
                book.durableGeneration = generation
                book.writing = false
            }
        } catch {
            applying.withLock { _ in
                let durable = book.withLock { book -> StateFile in
                    book.failedThrough = book.pendingGeneration
                    book.failure = error
                    book.pending = book.durable
                    book.writing = false
                    return book.durable
                }
                rollback.withLock { $0 }(durable)
            }
        }
    }

    /// Makes what `reload` returns the state, without writing it: it was just read from the
    /// file (SIGHUP). It waits for changes under way to reach the disk (outside the lock, since
    /// a failed write takes it to roll back), and none is made meanwhile, so `reload` sees the
    /// state the file holds.
    func replace(_ reload: (StateFile) -> StateFile) {
        while true {
            book.wait(until: { !$0.writing && $0.settled }) { _ in }
            let done = applying.withLock { _ -> Bool in
                guard let current = book.withLock({ $0.writing || !$0.settled ? nil : $0.pending }) else { return false }
                let next = reload(current)
                book.withLock { book in
                    book.pending = next
                    book.durable = next
                    book.pendingGeneration += 1
                    book.durableGeneration = book.pendingGeneration
                }
                return true
            }
            if done { return }
        }
    }

    /// A change to what the file does not hold (a host name's resolved address): `edit` is made
    /// to the latest and the durable state alike, never written, and `act` (on the data plane)
    /// follows under the same lock, in order with every other change.
    func amendRuntime(_ edit: (inout StateFile) -> Void, then act: (StateFile) -> Void) {
        applying.withLock { _ in
            let state = book.withLock { book -> StateFile in
                edit(&book.pending)
                edit(&book.durable)
                return book.pending
            }
            act(state)
        }
    }

    /// Runs `body` while no change is being made (a data plane restarting reads the state and
    /// hands it over, and no change may slip between the two).
    func withChangesHeld<Result>(_ body: (StateFile) -> Result) -> Result {
        applying.withLock { _ in body(state) }
    }
}
