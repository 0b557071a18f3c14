import Glibc

/// A value behind a pthread mutex with a condition to sleep on until the value is as wanted:
/// Synchronization's Mutex cannot sleep. Every change made through `withLock` wakes the sleepers.
public final class ConditionLock<State>: @unchecked Sendable {
    // Heap-allocated: pthread objects must not move, and a class's stored properties may.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var state: State  // guarded by mutex

    public init(_ state: State) {
        self.state = state
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        changed.deallocate()
    }

    public func withLock<Result, Failure: Error>(_ body: (inout State) throws(Failure) -> Result) throws(Failure) -> Result {
        try wait(until: { _ in true }, body)
    }

    /// Sleeps until `ready` holds, then runs `body`, both under the lock.
    public func wait<Result, Failure: Error>(until ready: (State) -> Bool,
                                             _ body: (inout State) throws(Failure) -> Result) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer {
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(mutex)
        }
        while !ready(state) { pthread_cond_wait(changed, mutex) }
        return try body(&state)
    }

    /// As `wait(until:_:)`, but for `milliseconds` at most: `body` learns whether `ready` held.
    public func wait<Result>(until ready: (State) -> Bool, milliseconds: Int,
                             _ body: (inout State, _ ready: Bool) -> Result) -> Result {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)  // pthread_cond_timedwait's default clock
        let end = Int(now.tv_sec) * 1_000_000_000 + Int(now.tv_nsec) + milliseconds * 1_000_000
        var deadline = timespec(tv_sec: end / 1_000_000_000, tv_nsec: end % 1_000_000_000)
        pthread_mutex_lock(mutex)
        defer {
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(mutex)
        }
        while !ready(state) {
            if pthread_cond_timedwait(changed, mutex, &deadline) == ETIMEDOUT { break }
        }
        return body(&state, ready(state))
    }
}
