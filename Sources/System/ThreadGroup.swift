import Glibc

/// Counts running threads so that `stop()` can wait for them: `Threads.spawn` makes detached
/// threads, which cannot be joined. A pthread mutex and condition, because Synchronization's
/// Mutex has no way to sleep until a count reaches zero.
public final class ThreadGroup: @unchecked Sendable {
    // Heap-allocated: pthread objects must not move, and a class's stored properties may.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let drained = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var running = 0  // guarded by mutex

    public init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(drained, nil)
    }

    deinit {
        pthread_cond_destroy(drained)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        drained.deallocate()
    }

    /// Counts one more thread unless `limit` are already running; false means "refuse it".
    public func enter(limit: Int = .max) -> Bool {
        locked {
            guard running < limit else { return false }
            running += 1
            return true
        }
    }

    /// Threads counted now.
    public var count: Int { locked { running } }

    public func leave() {
        locked {
            running -= 1
            if running == 0 { pthread_cond_broadcast(drained) }
        }
    }

    /// Returns once no thread is counted.
    public func wait() {
        pthread_mutex_lock(mutex)
        while running > 0 { pthread_cond_wait(drained, mutex) }
        pthread_mutex_unlock(mutex)
    }

    private func locked<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }
}
