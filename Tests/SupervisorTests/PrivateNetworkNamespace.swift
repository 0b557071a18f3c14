import Glibc

/// Runs test code against the real kernel in a network namespace of its own: unshare(2) on a
/// new thread moves only that thread, so nothing it creates (links, addresses, routes) reaches
/// the host's namespace. The namespace goes away once the thread has ended and the descriptors
/// opened in it are closed (a TUN's, a netlink socket's), which `run` leaves to `body`'s end.
enum PrivateNetworkNamespace {
    /// Root, and a TUN to create links with.
    static var available: Bool { geteuid() == 0 && access("/dev/net/tun", R_OK | W_OK) == 0 }

    struct SetupError: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs `body` on a new thread in a fresh network namespace, waits for the thread to end,
    /// and returns what `body` returned or threw.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) -> Result<T, any Error> {
        let outcome = Outcome<T>()
        let start = Start {
            guard unshareNetwork() == 0 else {
                outcome.result = .failure(SetupError(description: "unshare(CLONE_NEWNET): errno \(errno)"))
                return
            }
            outcome.result = Result { try body() }
        }
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { raw in
            Unmanaged<Start>.fromOpaque(raw!).takeUnretainedValue().work()
            return nil
        }, Unmanaged.passUnretained(start).toOpaque())
        guard created == 0 else { return .failure(SetupError(description: "pthread_create: \(created)")) }
        pthread_join(thread, nil)
        return outcome.result
    }

    private final class Outcome<T>: @unchecked Sendable {  // written by the thread, read after pthread_join
        var result: Result<T, any Error> = .failure(SetupError(description: "the thread did not run"))
    }

    /// The work, behind a pointer a C thread start can take (a C function captures nothing).
    private final class Start: Sendable {
        let work: @Sendable () -> Void
        init(_ work: @escaping @Sendable () -> Void) { self.work = work }
    }

    /// unshare(CLONE_NEWNET) for the calling thread. unshare is a GNU declaration that Glibc's
    /// module does not show Swift: looked up by name instead.
    private static func unshareNetwork() -> Int32 {
        let CLONE_NEWNET: Int32 = 0x4000_0000  // <linux/sched.h>
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "unshare") else { return -1 }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32) -> Int32).self)(CLONE_NEWNET)
    }
}
