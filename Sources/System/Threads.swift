import CShim
import Glibc

/// Plain POSIX threads (no Foundation, no Dispatch): the data plane's workers are long-lived,
/// pinned and named, which is exactly what pthreads give.
public enum Threads {
    /// Starts a detached thread named `name` (at most 15 characters show in `ps -L`/`top -H`),
    /// pinned to `cpu` if given, running `body`.
    public static func spawn(name: String, cpu: Int32? = nil, _ body: @escaping @Sendable () -> Void) throws(Errno) {
        let box = Unmanaged.passRetained(ThreadStart(name: name, cpu: cpu, body: body)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let result = pthread_create(&thread, &attributes, { raw in
            let start = Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue()
            start.run()
            return nil
        }, box)
        if result != 0 {
            Unmanaged<ThreadStart>.fromOpaque(box).release()
            throw Errno(result)
        }
    }

    /// The CPUs this process may run on (its affinity mask), in order.
    public static func allowedCPUs() -> [Int32] {
        var cpus = [Int32](repeating: 0, count: 1024)
        let count = cpus.withUnsafeMutableBufferPointer { wgd_allowed_cpus($0.baseAddress, Int32($0.count)) }
        return count > 0 ? Array(cpus[0..<Int(count)]) : [0]
    }
}

private final class ThreadStart: Sendable {
    let name: String
    let cpu: Int32?
    let body: @Sendable () -> Void

    init(name: String, cpu: Int32?, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.cpu = cpu
        self.body = body
    }

    func run() {
        _ = wgd_name_current_thread(String(name.prefix(15)))
        if let cpu { _ = wgd_pin_current_thread(cpu) }
        body()
    }
}
