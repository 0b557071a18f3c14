import Glibc

/// Nanoseconds of CPU time this thread has used. CPU time rather than wall-clock time, so that other
/// processes sharing the machine (a build, a test run) change the figures little; it is also what
/// `openssl speed` divides by (user CPU time), which scripts/bench prints beside ours.
/// Reading it is a system call (~0.5 µs here; the vDSO serves only the wall clocks), so the callers
/// read it per batch of operations and `timed` subtracts the cost of a pair of reads.
@inline(__always)
func cpuNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// What a pair of `cpuNanoseconds()` reads costs: the least of many tries.
let clockReadPairNanoseconds: UInt64 = {
    var least = UInt64.max
    for _ in 0..<1000 {
        let start = cpuNanoseconds()
        least = min(least, cpuNanoseconds() - start)
    }
    return least
}()

/// Runs `batch` (which does `batchSize` operations and returns how many nanoseconds of it count)
/// in `rounds` rounds of `seconds / rounds` counted time each, and returns the fastest round's
/// operations and counted seconds. The best round rather than the total, so that what else runs on a
/// shared machine (cache and frequency effects) disturbs the figure less.
func measure(seconds: Double, rounds: Int = 5, batchSize: Int, _ batch: () -> UInt64) -> (operations: Int, seconds: Double) {
    let budget = UInt64(seconds * 1e9) / UInt64(rounds)
    var best = (operations: 0, seconds: Double.infinity)
    for _ in 0..<rounds {
        var spent: UInt64 = 0
        var operations = 0
        repeat {
            spent += batch()
            operations += batchSize
        } while spent < budget
        let round = (operations: operations, seconds: Double(spent) / 1e9)
        if Double(round.operations) / round.seconds > Double(best.operations) / best.seconds { best = round }
    }
    return best
}

/// Times `body` and returns the CPU nanoseconds it took, less the cost of reading the clock.
@inline(__always)
func timed(_ body: () -> Void) -> UInt64 {
    let start = cpuNanoseconds()
    body()
    let elapsed = cpuNanoseconds() - start
    return elapsed > clockReadPairNanoseconds ? elapsed - clockReadPairNanoseconds : 0
}

/// `x` with exactly `places` decimals ("1.50"): there is no String(format:) without Foundation.
func fixed(_ x: Double, places: Int = 2) -> String {
    guard x.isFinite else { return String(x) }
    var scale = 1
    for _ in 0..<places { scale *= 10 }
    let scaled = Int((abs(x) * Double(scale)).rounded())
    var fraction = String(scaled % scale)
    while fraction.count < places { fraction = "0" + fraction }
    return (x < 0 ? "-" : "") + String(scaled / scale) + (places > 0 ? "." + fraction : "")
}

/// Bytes per second in GB/s, 1 GB = 1e9 bytes.
func gigabytesPerSecond(bytes: Int, seconds: Double) -> String {
    fixed(Double(bytes) / seconds / 1e9)
}
