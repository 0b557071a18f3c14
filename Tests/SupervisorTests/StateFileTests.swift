import Testing
import Crypto
import JSON
import Protocol
import System
@testable import Supervisor

@Suite("State file")
struct StateFileTests {
    static func decode(_ text: String) throws(StateFileError) -> StateFile { try StateFile.decode(Array(text.utf8)) }

    static func failure(_ text: String) -> StateFileError? {
        do {
            _ = try decode(text)
            return nil
        } catch {
            return error
        }
    }

    /// 1-based line of the first occurrence of `needle` in `text`.
    static func line(of needle: String, in text: String) -> Int? {
        guard let range = text.firstRange(of: needle) else { return nil }
        return text[..<range.lowerBound].filter { $0 == "\n" }.count + 1
    }

    static func key(_ base64: String) -> PublicKey { PublicKey(KeyEncoding.fromBase64(base64)!) }

    // MARK: the example

    @Test func exampleDecodes() throws {
        let file = try Self.decode(StateFileExample.text)
        #expect(file.interfaces.map(\.name) == ["wg0", "wg1"])
        let wg0 = file.interfaces[0]
        #expect(wg0.config.privateKey == PrivateKey(KeyEncoding.secretFromBase64(StateFileExample.wg0PrivateKey.utf8)!))
        #expect(wg0.config.listenPort == 51820 && wg0.config.fwmark == 0 && wg0.config.mtu == 1420)
        #expect(wg0.addresses.map(\.description) == ["192.0.2.1/24", "fd00::1/64"])
        #expect(wg0.cpus == [0, 1] && wg0.routes)
        let peers = wg0.config.peers
        #expect(peers.count == 2)
        #expect(peers[0].publicKey == Self.key("WwrB3c0OmrP3FrcUfzIXhkimvoTnAIIw0aadG9urUks="))
        #expect(peers[0].presharedKey == PresharedKey(KeyEncoding.secretFromBase64("1NfIPImV8BpOqkmmHmWXbuTglLTPFUHNMcQYQHTdbWc=".utf8)!))
        #expect(peers[0].endpoint == Endpoint("198.51.100.7:51820"))
        #expect(peers[0].allowedIPs == [IPPrefix("10.0.0.2/32")!, IPPrefix("fd00::2/128")!])
        #expect(peers[0].persistentKeepaliveInterval == 25)
        #expect(peers[1].presharedKey == nil && peers[1].endpoint == nil && peers[1].persistentKeepaliveInterval == 0)
        #expect(wg0.endpoint(of: peers[1].publicKey) == .host("vpn.example.net", port: 51820))
        let wg1 = file.interfaces[1]
        #expect(wg1.config.privateKey == nil && wg1.cpus == nil && !wg1.routes && wg1.addresses.isEmpty)
        #expect(wg1.config.fwmark == 51821 && wg1.config.mtu == 1280)
        #expect(wg1.config.peers[0].endpoint == Endpoint("[2001:db8::7]:51820"))
    }

    @Test func exampleIsCanonical() throws {
        let encoded = try Self.decode(StateFileExample.text).encode()
        #expect(encoded == StateFileExample.text)
        if encoded != StateFileExample.text { print(encoded) }
    }

    /// The README shows the same example, so that it cannot drift from what the code reads.
    @Test func theReadmeShowsTheExample() throws {
        let root = String(#filePath.split(separator: "/Tests/", omittingEmptySubsequences: false)[0])
        let readme = String(decoding: try AtomicFile.read(root + "/README.md", limit: 1 << 20), as: UTF8.self)
        let section = try #require(readme.split(separator: "## State file\n").dropFirst().first)
        let block = try #require(section.split(separator: "```json\n").dropFirst().first?.split(separator: "```").first)
        #expect(String(block) == StateFileExample.text)
    }

    @Test func optionalFieldsMayBeLeftOut() throws {
        let file = try Self.decode("""
        {"version": 1, "interfaces": [{"name": "wg0", "listen_port": 0, "fwmark": 0, "mtu": 1420, "addresses": [], "peers": [
          {"public_key": "WwrB3c0OmrP3FrcUfzIXhkimvoTnAIIw0aadG9urUks=", "allowed_ips": []}]}]}
        """)
        #expect(file.interfaces[0].routes == false && file.interfaces[0].cpus == nil)
        #expect(try Self.decode(#"{"interfaces": [], "version": 1}"#) == StateFile())
    }

    // MARK: refusals, by path and line

    /// A change to the example (`old` → `new`, first occurrence) and what it must be refused
    /// with; the line is the line of `old` unless given.
    struct Invalid: CustomTestStringConvertible, Sendable {
        let old: String
        let new: String
        let message: String
        let line: Int?

        init(_ old: String, _ new: String, _ message: String, line: Int? = nil) {
            self.old = old
            self.new = new
            self.message = message
            self.line = line
        }

        var testDescription: String { "\(old) → \(new)" }
    }

    static let invalid: [Invalid] = [
        Invalid(#""version": 1"#, #""version": 2"#, "version: version 2 is not supported (this wgd reads version 1)"),
        Invalid(#""version": 1"#, #""version": "1""#, "version \"1\" is not supported"),
        Invalid(#""version": 1,"#, "", "missing key \"version\"", line: 1),
        Invalid(#""listen_port": 51820"#, #""listen_port": 70000"#, "interfaces[0].listen_port: expected an integer from 0 to 65535, got 70000"),
        Invalid(#""listen_port": 51820"#, #""listen_port": 51820.0"#, "got 51820.0"),
        Invalid(#""listen_port": 51820"#, #""listen_port": 5182e1"#, "got 5182e1"),
        Invalid(#""listen_port": 51820"#, #""listen_port": "51820""#, "got \"51820\""),
        Invalid(#""listen_port": 51820"#, #""listen_port": -1"#, "got -1"),
        Invalid(#""listen_port": 51821"#, #""listen_port": 51820"#, "interfaces[1].listen_port: port 51820 is also the port of interfaces[0]"),
        Invalid(#""fwmark": 0"#, #""fwmark": 4294967296"#, "interfaces[0].fwmark: expected an integer from 0 to 4294967295"),
        Invalid(#""mtu": 1420"#, #""mtu": 67"#, "interfaces[0].mtu: expected an integer from 68 to 65535, got 67"),
        Invalid(#""mtu": 1420"#, #""mtu": null"#, "got null"),
        Invalid(#""name": "wg0""#, #""name": "wg0/x""#, "interfaces[0].name: \"wg0/x\" is not an interface name"),
        Invalid(#""name": "wg0""#, #""name": "sixteen-bytes-xx""#, "is not an interface name"),
        Invalid(#""name": "wg0""#, #""name": """#, "is not an interface name"),
        Invalid(#""name": "wg1""#, #""name": "wg0""#, "interfaces[1].name: interface \"wg0\" is also interfaces[0]"),
        Invalid(#""name": "wg1","#, "", "interfaces[1]: missing key \"name\"", line: 39),
        Invalid("KO8LsxM4DRZKyawPNdybtVLHY0NgAihM9wtNeTsd80Q=", "KO8LsxM4DRZKyawPNdybtVLHY0NgAihM9wtNeTsd80Q", "interfaces[0].private_key: not a key (44 characters of base64, 32 bytes)"),
        // The unused low bits of the last symbol must be zero: one key, one spelling.
        Invalid("KO8LsxM4DRZKyawPNdybtVLHY0NgAihM9wtNeTsd80Q=", "KO8LsxM4DRZKyawPNdybtVLHY0NgAihM9wtNeTsd80R=", "private_key: not a key"),
        Invalid("1NfIPImV8BpOqkmmHmWXbuTglLTPFUHNMcQYQHTdbWc=", "1NfIPImV8BpOqkmmHmWXbuTglLTPFUHNMcQYQHTdbW==", "interfaces[0].peers[0].preshared_key: not a key"),
        Invalid("WwrB3c0OmrP3FrcUfzIXhkimvoTnAIIw0aadG9urUks=", "WwrB3c0OmrP3FrcUfzIXhkimvoTnAIIw0aadG9urUk!", "interfaces[0].peers[0].public_key: \"WwrB3c0OmrP3FrcUfzIXhkimvoTnAIIw0aadG9urUk!\" is not a key"),
        Invalid("tzLXdNOfCCkoAIEW8LYk10JNQ9Qx059wW3vOIybrG9k=", "WwrB3c0OmrP3FrcUfzIXhkimvoTnAIIw0aadG9urUks=",
                "interfaces[0].peers[1].public_key: peer WwrB3c0OmrP3FrcUfzIXhkimvoTnAIIw0aadG9urUks= is listed twice (also peers[0])"),
        Invalid("\"10.0.0.2/32\"", "\"10.0.0.0/33\"", "interfaces[0].peers[0].allowed_ips[0]: \"10.0.0.0/33\" is not an address/prefix-length (line 25)"),
        Invalid("\"fd00::2/128\"", "\"fd00::2/0128\"", "\"fd00::2/0128\" is not an address/prefix-length"),
        Invalid("\"fd00::2/128\"", "\"10.0.0.2/32\"", "interfaces[0].peers[0].allowed_ips[1]: 10.0.0.2/32 is listed twice for this peer"),
        Invalid("\"10.0.1.0/24\"", "\"10.0.0.2/32\"", "interfaces[0].peers[1].allowed_ips[0]: 10.0.0.2/32 already belongs to peer WwrB3c0OmrP3FrcUfzIXhkimvoTnAIIw0aadG9urUks="),
        Invalid("\"10.0.1.0/24\"", "10", "interfaces[0].peers[1].allowed_ips[0]: expected a string, got a number"),
        Invalid("\"192.0.2.1/24\"", "\"192.0.2.1/33\"", "interfaces[0].addresses[0]: \"192.0.2.1/33\" is not an address/prefix-length"),
        Invalid("\"192.0.2.1/24\"", "\"192.0.2.1\"", "is not an address/prefix-length"),
        Invalid("\"fd00::1/64\"", "\"192.0.2.1/32\"", "interfaces[0].addresses[1]: 192.0.2.1 is listed twice"),
        Invalid("\"198.51.100.7:51820\"", "\"198.51.100.7:0\"", "interfaces[0].peers[0].endpoint: \"198.51.100.7:0\" is not an endpoint"),
        Invalid("\"198.51.100.7:51820\"", "\"198.51.100.7\"", "is not an endpoint"),
        Invalid("\"198.51.100.7:51820\"", "\"198.51.100.256:51820\"", "is not an endpoint"),
        Invalid("\"vpn.example.net:51820\"", "\"vpn..example.net:51820\"", "interfaces[0].peers[1].endpoint: \"vpn..example.net:51820\" is not an endpoint"),
        Invalid("\"vpn.example.net:51820\"", "\"vpn.example.net:65536\"", "is not an endpoint"),
        Invalid("\"vpn.example.net:51820\"", "\"vpn_1.example.net:51820\"", "is not an endpoint"),
        Invalid("\"[2001:db8::7]:51820\"", "\"2001:db8::7:51820\"", "interfaces[1].peers[0].endpoint: \"2001:db8::7:51820\" is not an endpoint"),
        Invalid("\"persistent_keepalive\"", "\"persistent_keepalve\"", "interfaces[0].peers[0].persistent_keepalve: unknown key \"persistent_keepalve\""),
        Invalid("\"persistent_keepalive\": 25", "\"persistent_keepalive\": 65536", "interfaces[0].peers[0].persistent_keepalive: expected an integer from 0 to 65535"),
        Invalid("\"routes\": true", "\"routes\": \"yes\"", "interfaces[0].routes: expected true or false, got \"yes\""),
        Invalid("\"routes\": true", "\"routes\": true, \"listen-port\": 1", "interfaces[0].listen-port: unknown key"),
        Invalid("\"cpus\": [\n        0,\n        1\n      ]", "\"cpus\": []", "interfaces[0].cpus: no CPUs"),
        Invalid("\"cpus\": [\n        0,\n        1\n      ]", "\"cpus\": [0, 4096]", "interfaces[0].cpus[1]: expected an integer from 0 to 4095, got 4096"),
        Invalid("\"cpus\": [\n        0,\n        1\n      ]", "\"cpus\": [1, 1]", "interfaces[0].cpus[1]: CPU 1 is listed twice"),
        Invalid("\"peers\": [\n        {\n          \"public_key\": \"54", "\"peers\": {}, \"x\": [{\"public_key\": \"54", "interfaces[1].x: unknown key"),
        // Syntax: line and column.
        Invalid("\"fd00::1/64\"\n", "\"fd00::1/64\",\n", "line 13, column 7: trailing comma before ']'"),
        Invalid("\"listen_port\": 51820,", "\"listen_port\": 51820, \"private_key\": \"x\",", "line 7, column 29: duplicate key \"private_key\""),
        Invalid("\"wg0\"", "\"wg\u{00}0\"", "control character 0x00"),
    ]

    @Test(arguments: invalid)
    func refused(_ case: Invalid) throws {
        let text = StateFileExample.text.replacing(`case`.old, with: `case`.new, maxReplacements: 1)
        try #require(text != StateFileExample.text, "the change does not apply")
        let error = try #require(Self.failure(text), "accepted")
        #expect(error.description.contains(`case`.message), "\(error)")
        if case .invalid(_, _, let line) = error {
            #expect(line == (`case`.line ?? Self.line(of: `case`.old, in: StateFileExample.text)), "\(error)")
        }
    }

    @Test func aPeerThatIsTheInterfaceItselfIsRefused() throws {
        let own = PrivateKey(KeyEncoding.secretFromBase64(StateFileExample.wg0PrivateKey.utf8)!).publicKey
        let text = StateFileExample.text.replacing("tzLXdNOfCCkoAIEW8LYk10JNQ9Qx059wW3vOIybrG9k=", with: own.description)
        #expect(Self.failure(text)?.description == "interfaces[0].peers[1].public_key: peer \(own) is the interface's own public key (line 31)")
    }

    @Test func secretsAreNeverRepeatedInMessages() {
        let bad = "KO8LsxM4DRZKyawPNdybtVLHY0NgAihM9wtNeTsd80=="
        let text = StateFileExample.text.replacing(StateFileExample.wg0PrivateKey, with: bad)
        let message = Self.failure(text)?.description ?? ""
        #expect(message.contains("private_key") && !message.contains("KO8Lsx"))
    }

    @Test func notAnObjectAtTheTop() {
        #expect(Self.failure("[]")?.description == "expected an object, got an array (line 1)")
        #expect(Self.failure("")?.description == "line 1, column 1: unexpected end of input, expected a value")
        #expect(Self.failure(#"{"version": 1}"#)?.description == "missing key \"interfaces\" (line 1)")
        #expect(Self.failure(#"{"version": 1, "interfaces": {}}"#)?.description == "interfaces: expected an array, got an object (line 1)")
    }
}
