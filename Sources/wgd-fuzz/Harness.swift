import Glibc

/// One fuzz target: a name (WGD_FUZZ_TARGET, the corpus directory Tests/FuzzCorpus/<name>) and
/// the function that takes one input. Each run must be deterministic and assert what it cheaply
/// can: a failed check traps, and libFuzzer keeps the input.
struct Harness: Sendable {
    let name: String
    let run: @Sendable ([UInt8]) -> Void

    static let all: [Harness] = [
        Harness(name: "uapi", run: fuzzUAPI),
        Harness(name: "prefix-endpoint", run: fuzzPrefixEndpoint),
        Harness(name: "json", run: fuzzJSON),
        Harness(name: "statefile", run: fuzzStateFile),
        Harness(name: "dataplane-message", run: fuzzDataPlaneMessage),
        Harness(name: "config-wire", run: fuzzConfigWire),
        Harness(name: "handshake-responder", run: fuzzHandshakeResponder),
        Harness(name: "handshake-initiator", run: fuzzHandshakeInitiator),
        Harness(name: "data-receive", run: fuzzDataReceive),
    ]

    static func fromEnvironment() -> Harness {
        guard let raw = getenv("WGD_FUZZ_TARGET") else { fatal("WGD_FUZZ_TARGET is not set: \(names)") }
        let name = String(cString: raw)
        guard let harness = all.first(where: { $0.name == name }) else { fatal("no fuzz target '\(name)': \(names)") }
        return harness
    }

    static var names: String { all.map(\.name).joined(separator: " ") }
}

func fatal(_ message: String) -> Never {
    // File descriptor 2 directly: the C `stderr` global is shared mutable state to Swift 6.
    let line = Array("wgd-fuzz: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

/// An invariant the input broke: a trap, so libFuzzer records a crash.
func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("invariant: \(message())") }
}

func readFile(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&chunk, 1, chunk.count, file)
        if n == 0 { break }
        bytes += chunk[0..<n]
    }
    return bytes
}
