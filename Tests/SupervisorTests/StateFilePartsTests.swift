import Glibc
import Testing
import Protocol
import System
@testable import Supervisor

@Suite("State file parts")
struct StateFilePartsTests {
    @Test(arguments: [
        ("192.0.2.7:51820", ConfiguredEndpoint.address(Endpoint("192.0.2.7:51820")!)),
        ("[2001:db8::1]:1", .address(Endpoint("[2001:db8::1]:1")!)),
        ("vpn.example.net:51820", .host("vpn.example.net", port: 51820)),
        ("localhost:65535", .host("localhost", port: 65535)),
        ("0host.a-b.Example:7", .host("0host.a-b.Example", port: 7)),
        ("xn--bcher-kva.example:1", .host("xn--bcher-kva.example", port: 1)),
    ])
    func endpointsParse(_ text: String, _ expected: ConfiguredEndpoint) {
        #expect(ConfiguredEndpoint(text) == expected)
        #expect(ConfiguredEndpoint(text)?.description == text)
    }

    @Test(arguments: [
        "", ":51820", "host", "host:", "host:0", "host:065536", "host:65536", "host:01", "host:+1", "host:-1",
        "192.0.2.7:0", "192.0.2.256:1", "1.2.3:1", "10.0.0.1.5:1", "example.123:1",
        "[2001:db8::1]", "[2001:db8::1:1", "2001:db8::1:1", "[host]:1", "[192.0.2.7]:1",
        "-a.example:1", "a-.example:1", "a..example:1", ".example:1", "example.:1", "a_b.example:1", "a b:1", "é.example:1",
        String(repeating: "a", count: 64) + ".example:1",
        Array(repeating: String(repeating: "a", count: 63), count: 4).joined(separator: ".") + ":1",
    ])
    func endpointsRefused(_ text: String) {
        #expect(ConfiguredEndpoint(text) == nil)
    }

    @Test func longestHostNameIsTaken() {
        // 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 characters.
        let host = Array(repeating: String(repeating: "a", count: 63), count: 3).joined(separator: ".") + "." + String(repeating: "b", count: 61)
        #expect(host.count == 253)
        #expect(ConfiguredEndpoint(host + ":1") == .host(host, port: 1))
        #expect(ConfiguredEndpoint(host + "b:1") == nil)
    }

    @Test func interfaceAddressesKeepTheirHostBits() {
        let address = InterfaceAddress("192.0.2.1/24")
        #expect(address?.description == "192.0.2.1/24")
        #expect(address?.subnet == IPPrefix("192.0.2.0/24"))
        #expect(InterfaceAddress("fd00::1/64")?.description == "fd00::1/64")
        #expect(InterfaceAddress("fd00::1/128") != nil && InterfaceAddress("0.0.0.0/0") != nil)
        for bad in ["192.0.2.1", "192.0.2.1/", "192.0.2.1/33", "fd00::1/129", "192.0.2.1/024", "192.0.2.1/+2", "/24", "x/1", "192.0.2.1/2/3"] {
            #expect(InterfaceAddress(bad) == nil, "\(bad)")
        }
    }

    @Test func endpointsByHostNameLiveBesideTheConfiguration() {
        var interface = InterfaceState(name: "wg0")
        let key = StateFileTests.key("WwrB3c0OmrP3FrcUfzIXhkimvoTnAIIw0aadG9urUks=")
        interface.config.addPeer(key)
        interface.setEndpoint(.host("vpn.example.net", port: 1), of: key)
        #expect(interface.endpoint(of: key) == .host("vpn.example.net", port: 1))
        #expect(interface.config.peer(key)?.endpoint == nil)
        interface.setEndpoint(.address(Endpoint("192.0.2.1:2")!), of: key)
        #expect(interface.endpoint(of: key) == .address(Endpoint("192.0.2.1:2")!))
        #expect(interface.hostEndpoints.isEmpty)
        interface.setEndpoint(nil, of: key)
        #expect(interface.endpoint(of: key) == nil)
        interface.setEndpoint(.host("vpn.example.net", port: 1), of: key)
        interface.removePeer(key)
        #expect(interface.hostEndpoints.isEmpty && interface.config.peers.isEmpty)
    }
}

/// `wgd --state FILE --check`, as the command line calls it.
@Suite("State file check")
struct StateFileCheckTests {
    let directory: String

    init() {
        var template = Array("/tmp/wgd-statecheck-XXXXXX".utf8CString)
        directory = String(cString: mkdtemp(&template)!)
    }

    func removeAll() { _ = system("rm -rf '\(directory)'") }

    @Test func aValidFileIsSummarized() throws {
        defer { removeAll() }
        let path = directory + "/state.json"
        try AtomicFile.write(Array(StateFileExample.text.utf8), to: path)
        let outcome = StateFileCheck.run(path: path)
        #expect(outcome == StateFileCheck.Outcome(status: 0, message: "\(path): valid, 2 interfaces: wg0 (2 peers), wg1 (1 peer)"))
        // Checking only reads.
        #expect(try AtomicFile.read(path, limit: 1 << 20) == Array(StateFileExample.text.utf8))
    }

    @Test func anInvalidFileIsRefusedWithTheReasonAndLeftAlone() throws {
        defer { removeAll() }
        let path = directory + "/state.json"
        let text = StateFileExample.text.replacing("\"10.0.0.2/32\"", with: "\"10.0.0.0/33\"")
        try AtomicFile.write(Array(text.utf8), to: path)
        let outcome = StateFileCheck.run(path: path)
        #expect(outcome.status == 1)
        #expect(outcome.message == "\(path): interfaces[0].peers[0].allowed_ips[0]: \"10.0.0.0/33\" is not an address/prefix-length (line 25)")
        #expect(try AtomicFile.read(path, limit: 1 << 20) == Array(text.utf8))
    }

    @Test func unreadableFiles() throws {
        defer { removeAll() }
        let missing = StateFileCheck.run(path: directory + "/none.json")
        #expect(missing.status == 1 && missing.message.contains("No such file or directory"))
        let big = directory + "/big.json"
        try AtomicFile.write([UInt8](repeating: 0x20, count: (4 << 20) + 1), to: big)
        #expect(StateFileCheck.run(path: big) == StateFileCheck.Outcome(status: 1, message: "\(big): larger than the 4194304 bytes a state file may have"))
        let empty = directory + "/empty.json"
        try AtomicFile.write([], to: empty)
        #expect(StateFileCheck.run(path: empty).message == "\(empty): line 1, column 1: unexpected end of input, expected a value")
        #expect(StateFileCheck.run(path: directory).status == 1)
    }

    @Test func summaries() {
        #expect(StateFileCheck.summary(StateFile()) == "0 interfaces")
        #expect(StateFileCheck.summary(StateFile(interfaces: [InterfaceState(name: "wg0")])) == "1 interface: wg0 (0 peers)")
    }

    @Test func aFileWrittenByStateFileReadsBack() throws {
        defer { removeAll() }
        let path = directory + "/state.json"
        let file = try StateFile.decode(Array(StateFileExample.text.utf8))
        try file.write(to: path)
        #expect(try StateFile.read(path) == file)
    }
}
