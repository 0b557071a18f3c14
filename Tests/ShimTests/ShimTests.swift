import CShim
import Glibc
import Testing

/// The C shims: CPU affinity, the one-pointer ioctl, getrandom.
@Suite struct ShimTests {
    static func allowedCPUs() -> [Int32] {
        var cpus = [Int32](repeating: -1, count: 4096)
        let n = cpus.withUnsafeMutableBufferPointer { wgd_allowed_cpus($0.baseAddress!, Int32($0.count)) }
        return n < 0 ? [] : Array(cpus.prefix(Int(n)))
    }

    @Test func allowedCPUsAreOnlineAndSorted() {
        let cpus = Self.allowedCPUs()
        let online = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        #expect(cpus.count >= 1)
        #expect(online >= 1 && cpus.count <= online, "\(cpus.count) allowed, \(online) online")
        #expect(cpus == cpus.sorted() && Set(cpus).count == cpus.count)
        #expect(cpus.allSatisfy { $0 >= 0 && $0 < 1024 })

        // `max` bounds what is written.
        var one: [Int32] = [-1, -1]
        let n = one.withUnsafeMutableBufferPointer { wgd_allowed_cpus($0.baseAddress!, 1) }
        #expect(n == 1 && one == [cpus[0], -1])
        #expect(wgd_allowed_cpus(nil, 0) == 0)
    }

    final class PinResult: @unchecked Sendable {
        let cpu: Int32
        var status: Int32 = -1
        var allowedAfter: [Int32] = []
        init(cpu: Int32) { self.cpu = cpu }
    }

    /// Pins a fresh thread (never the test runner's), which then sees only that CPU.
    @Test func pinningAThreadRestrictsOnlyThatThread() throws {
        let before = Self.allowedCPUs()
        let target = try #require(before.last)
        let result = PinResult(cpu: target)
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { context in
            let result = Unmanaged<PinResult>.fromOpaque(context!).takeUnretainedValue()
            result.status = wgd_pin_current_thread(result.cpu)
            result.allowedAfter = ShimTests.allowedCPUs()
            return nil
        }, Unmanaged.passUnretained(result).toOpaque())
        try #require(created == 0)
        #expect(pthread_join(thread, nil) == 0)
        withExtendedLifetime(result) {}

        #expect(result.status == 0)
        #expect(result.allowedAfter == [target])
        // The calling thread keeps its mask.
        #expect(Self.allowedCPUs() == before)
    }

    @Test func pinningRejectsBadCPUs() {
        #expect(wgd_pin_current_thread(-1) == EINVAL)
        #expect(wgd_pin_current_thread(Int32.min) == EINVAL)
        #expect(wgd_pin_current_thread(1024) == EINVAL)   // CPU_SETSIZE
        #expect(EINVAL == 22)
    }

    @Test func ioctlPassesThePointer() {
        let FIONREAD: UInt = 0x541B   // <asm-generic/ioctls.h>
        var count: Int32 = 0
        errno = 0
        #expect(wgd_ioctl_ptr(-1, FIONREAD, &count) == -1)
        #expect(errno == EBADF)

        // On a pipe holding 5 bytes, FIONREAD writes 5 through the pointer.
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        #expect([UInt8](repeating: 1, count: 5).withUnsafeBytes { write(fds[1], $0.baseAddress, 5) } == 5)
        count = -1
        #expect(wgd_ioctl_ptr(fds[0], FIONREAD, &count) == 0)
        #expect(count == 5)
    }

    @Test func getrandomFills() {
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBytes { getrandom($0.baseAddress, $0.count, 0) }
        #expect(n == 256)
        #expect(buffer.contains { $0 != 0 })
        var other = [UInt8](repeating: 0, count: 256)
        _ = other.withUnsafeMutableBytes { getrandom($0.baseAddress, $0.count, 0) }
        #expect(other != buffer)
    }
}
