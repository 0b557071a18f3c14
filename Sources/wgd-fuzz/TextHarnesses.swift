import JSON
import Protocol
import Supervisor
import System

/// The UAPI `set` parser, line by line as UAPISession feeds it (split at '\n'). Bytes that are
/// not UTF-8 are repaired as the session's String(decoding:) would.
func fuzzUAPI(_ input: [UInt8]) {
    let text = String(decoding: input, as: UTF8.self)
    var parser = UAPISetParser()
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        do { _ = try parser.parse(line) } catch { _ = error.errno; _ = error.message }
    }
}

/// IPPrefix, Endpoint and IPAddress from text: whatever parses renders back to text that parses
/// to the same value, and that text is stable.
func fuzzPrefixEndpoint(_ input: [UInt8]) {
    let text = String(decoding: input, as: UTF8.self)
    if let prefix = IPPrefix(text) {
        let again = IPPrefix(prefix.description)
        check(again == prefix, "prefix '\(text)' renders as '\(prefix)', which parses to \(String(describing: again))")
    }
    if let endpoint = Endpoint(text) {
        let again = Endpoint(endpoint.description)
        check(again == endpoint, "endpoint '\(text)' renders as '\(endpoint)', which parses to \(String(describing: again))")
    }
    if let address = IPAddress(text) {
        check(IPAddress(address.description) == address, "address '\(text)' does not round-trip")
    }
}

/// The state file's JSON parser: a document that parses re-encodes to one that parses equal.
func fuzzJSON(_ input: [UInt8]) {
    guard let document = try? JSON.parseDocument(input) else { return }
    let text = JSON.encode(document.value)
    let again = try? JSON.parseDocument(Array(text.utf8))
    check(again?.value == document.value, "JSON re-encoded as \(text) does not parse back equal")
}

/// The state file decoder: a file that decodes re-encodes (as the daemon writes it) to one that
/// decodes to the same state.
func fuzzStateFile(_ input: [UInt8]) {
    guard let state = try? StateFile.decode(input) else { return }
    let text = state.encode()
    let again: StateFile
    do { again = try StateFile.decode(Array(text.utf8)) } catch { fatalError("invariant: re-encoded state file refused: \(error)") }
    check(again == state, "state file re-encoded as \(text) decodes to a different state")
}

/// What the supervisor decodes from the (untrusted) data plane: input bytes 0–1 are the frame
/// type (little-endian), the rest its payload. A message that decodes re-encodes to a payload
/// that decodes to the same message.
func fuzzDataPlaneMessage(_ input: [UInt8]) {
    guard input.count >= 2 else { return }
    let type = UInt16(input[0]) | UInt16(input[1]) << 8
    let frame = ControlFrame(type: type, payload: ZeroingBuffer(copying: input[2...]))
    guard let message = try? DataPlaneMessage.decode(from: frame) else { return }
    let payload: ZeroingBuffer
    do { payload = try message.encodedPayload() } catch { fatalError("invariant: decoded \(message) does not encode: \(error)") }
    let again = try? DataPlaneMessage.decode(from: ControlFrame(type: frame.type, payload: payload))
    check(again == message, "data-plane message \(message) does not round-trip")
}

/// The config change codec of the control channel: a change that decodes re-encodes to bytes
/// that decode to the same change.
func fuzzConfigWire(_ input: [UInt8]) {
    let change: ConfigChange
    do {
        change = try input.withUnsafeBytes { (bytes) throws(WireError) -> ConfigChange in
            var reader = WireReader(bytes)
            return try ConfigWire.decode(&reader)
        }
    } catch { return }
    let count: Int
    do { count = try ConfigWire.encodedCount(of: change) } catch { fatalError("invariant: decoded change has no encoding: \(error)") }
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { buffer in
        var writer = WireWriter(buffer)
        ConfigWire.encode(change, to: &writer)
        check(writer.isFull, "encodedCount \(count) but wrote \(writer.offset)")
    }
    let again = try? bytes.withUnsafeBytes { (b) throws(WireError) -> ConfigChange in
        var reader = WireReader(b)
        return try ConfigWire.decode(&reader)
    }
    check(again == change, "config change does not round-trip")
}
