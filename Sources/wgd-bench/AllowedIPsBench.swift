import CShim
import Crypto
import Protocol

/// `allowedips`: what one peer with many allowed IPs costs the engine once applied: the kernel
/// selftest's 130,560 (a /64 and a /128 per pair) and 400,000 host routes, each taken through the
/// UAPI set path from empty and applied to a device. Figures: heap bytes per allowed IP held by
/// the configuration and the routes together (mallinfo2, after the request is gone), the
/// time to parse and apply, and route lookups per second over the table (hits, one thread).
let allowedIPsBenchmark = Benchmark(
    name: "allowedips",
    summary: "heap bytes per allowed IP once applied, set time, route lookups per second"
) { options in
    for shape in AllowedIPsShape.allCases { measureShape(shape, seconds: options.seconds) }
}

private enum AllowedIPsShape: CaseIterable {
    case selftest, hosts

    var count: Int { self == .selftest ? 255 * 256 * 2 : 400_000 }

    var label: String { self == .selftest ? "130,560 (kernel selftest)" : "400,000 host routes" }

    /// The i-th prefix, as text for the set and as an address inside it for lookups.
    func prefix(_ i: Int) -> (text: String, address: IPAddress) {
        let hex = { (n: Int) in String(n, radix: 16) }
        switch self {
        case .selftest:
            let a = hex(1 + i / 512), b = hex(i / 2 % 256)
            let text = i % 2 == 0 ? "fd00:35:\(a):\(b)::/64" : "fd00:36::\(a):\(b)/128"
            return (text, IPAddress(i % 2 == 0 ? "fd00:35:\(a):\(b)::77" : "fd00:36::\(a):\(b)")!)
        case .hosts:
            let text = "fd00:40::\(hex(i >> 16)):\(hex(i & 0xFFFF))"
            return (text + "/128", IPAddress(text)!)
        }
    }
}

private func measureShape(_ shape: AllowedIPsShape, seconds: Double) {
    let device = Device()
    let peer = Bytes32((0..<32).map { UInt8($0 + 1) })!
    let before = Int(wgd_heap_in_use())
    let started = cpuNanoseconds()
    do {
        var request = UAPISet(config: device.config)
        try? request.apply(line: Substring("public_key=" + KeyEncoding.hex(peer)))
        for i in 0..<shape.count { try? request.apply(line: Substring("allowed_ip=" + shape.prefix(i).text)) }
        device.apply(request.config, now: .zero)
    }
    let elapsed = Double(cpuNanoseconds() - started) / 1e9
    let held = Int(wgd_heap_in_use()) - before
    let applied = device.config.peers.first?.allowedIPs.count ?? 0
    report("allowed IPs, \(shape.label): set and apply \(fixed(elapsed)) s CPU; "
        + "\(fixed(Double(held) / Double(shape.count), places: 1)) heap bytes per allowed IP once applied"
        + (applied == shape.count ? "" : " (warning: \(applied) applied)"))

    var rng = SystemRandomNumberGenerator()
    let probes = (0..<4096).map { _ in shape.prefix(Int.random(in: 0..<shape.count, using: &rng)).address }
    var hits = 0
    let lookups = measure(seconds: seconds / 2, batchSize: probes.count) {
        timed { for address in probes where device.route(address) != nil { hits += 1 } }
    }
    report("  route lookups over it, 1 thread: \(Int(Double(lookups.operations) / lookups.seconds)) per second"
        + (hits == 0 ? " (warning: no hits)" : ""))
}
