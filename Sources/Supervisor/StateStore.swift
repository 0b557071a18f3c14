public import System
import Synchronization

/// The running supervisor's copy of the state file, and the only writer of it.
/// - Readers (`get`, the resolver, reload) see the last durable state and never wait for a write.
/// - A change is made on a copy, written (temp file, fsync, rename, fsync of the directory), and
///   only then becomes the state: a change whose `update` returned is on disk, and a failed write
///   leaves both the file and the state as they were.
/// - Changes are written one at a time, in the order they were made.
final class StateStore: Sendable {
    let path: String
    private let current: Mutex<StateFile>
    /// Held across a whole change, write included, so that changes never interleave.
    private let writing = Mutex(())
    /// Writes that failed, for the log and the tests.
    private let failures = Atomic(0)

    init(path: String, state: StateFile) {
        self.path = path
        current = Mutex(state)
    }

    var state: StateFile { current.withLock { $0 } }

    func interface(named name: String) -> InterfaceState? {
        current.withLock { state in state.interfaces.first { $0.name == name } }
    }

    /// Runs `change` on a copy of the state; if it does not throw, writes the copy durably and
    /// makes it the state. `change` may act on the data plane: if the write then fails, `undo`
    /// runs (with the state as it was) so that it can put the data plane back, and the write's
    /// error is thrown.
    func update(_ change: (inout StateFile) throws(Errno) -> Void,
                undo: (StateFile) -> Void = { _ in }) throws(Errno) {
        try writing.withLock { (_: inout Void) throws(Errno) in
            let before = state
            var after = before
            try change(&after)
            do throws(Errno) {
                try after.write(to: path)
            } catch {
                failures.add(1, ordering: .relaxed)
                undo(before)
                throw error
            }
            current.withLock { $0 = after }
        }
    }

    /// Makes what `reload` returns the state, without writing it: it was just read from the
    /// file (SIGHUP). No change is made meanwhile, so `reload` sees the state it replaces.
    func replace(_ reload: (StateFile) -> StateFile) {
        writing.withLock { _ in
            let next = reload(state)
            current.withLock { $0 = next }
        }
    }
}
