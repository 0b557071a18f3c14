import Crypto
import Glibc
import Testing
import System
@testable import Supervisor

/// `wgd --state FILE --public-key` and `--set-private-key`, which factory provisioning runs.
@Suite("State file key")
struct StateFileKeyTests {
    let directory: String
    let path: String

    init() throws {
        var template = Array("/tmp/wgd-statekey-XXXXXX".utf8CString)
        directory = String(cString: mkdtemp(&template)!)
        path = directory + "/state.json"
        try AtomicFile.write(Array(StateFileExample.text.utf8), to: path)
    }

    func removeAll() { _ = system("rm -rf '\(directory)'") }
    func bytes() throws -> [UInt8] { try AtomicFile.read(path, limit: 1 << 22) }

    @Test func thePublicKeyOfAnInterfaceWithAKey() throws {
        defer { removeAll() }
        let expected = try #require(try StateFile.read(path).interfaces[0].config.publicKey)
        #expect(StateFileKey.publicKey(path: path, interface: "wg0") == .init(status: .done, message: expected.description))
        #expect(StateFileKey.publicKey(path: path, interface: "wg1").status == .noKey)
        #expect(StateFileKey.publicKey(path: path, interface: "wg9").status == .noSuchInterface)
    }

    @Test func aKeyIsGivenOnceAndTheRestOfTheFileIsKept() throws {
        defer { removeAll() }
        let before = try StateFile.read(path)
        let key = PrivateKey.generate()
        let outcome = StateFileKey.setPrivateKey(path: path, interface: "wg1", key: key)
        #expect(outcome == .init(status: .done, message: key.publicKey.description))
        var expected = before
        expected.interfaces[1].config.setPrivateKey(key)
        #expect(try StateFile.read(path) == expected)
        // Again, with another key: refused, and the file is not even rewritten.
        let written = try bytes()
        #expect(StateFileKey.setPrivateKey(path: path, interface: "wg1", key: PrivateKey.generate()).status == .hasKey)
        #expect(try bytes() == written)
        #expect(StateFileKey.publicKey(path: path, interface: "wg1").message == key.publicKey.description)
    }

    @Test func refusalsChangeNothing() throws {
        defer { removeAll() }
        let original = try bytes()
        #expect(StateFileKey.setPrivateKey(path: path, interface: "wg0", key: PrivateKey.generate()).status == .hasKey)
        #expect(StateFileKey.setPrivateKey(path: path, interface: "wg9", key: PrivateKey.generate()).status == .noSuchInterface)
        #expect(StateFileKey.setPrivateKey(path: path, interface: "wg1", key: nil).status == .badKey)
        #expect(try bytes() == original)

        // A key whose public key is one of the interface's peers would silently drop that peer.
        var file = try StateFile.read(path)
        let key = PrivateKey.generate()
        file.interfaces[1].config.addPeer(key.publicKey)
        try file.write(to: path)
        let withPeer = try bytes()
        #expect(StateFileKey.setPrivateKey(path: path, interface: "wg1", key: key).status == .badKey)
        #expect(try bytes() == withPeer)
    }

    @Test func anInvalidFileIsNeverRewritten() throws {
        defer { removeAll() }
        let corrupt = Array(StateFileExample.text.utf8.dropLast(20))
        try AtomicFile.write(corrupt, to: path)
        let outcome = StateFileKey.setPrivateKey(path: path, interface: "wg1", key: PrivateKey.generate())
        #expect(outcome.status == .invalidFile)
        #expect(outcome.message.hasPrefix(path + ": "))
        #expect(try bytes() == corrupt)
        #expect(StateFileKey.publicKey(path: directory + "/missing.json", interface: "wg0").status == .invalidFile)
    }
    // A failed write (a read-only file system) is tested by scripts/firmware/t10-provision, in a
    // mount namespace of its own: root, which CI is, ignores directory permissions.
}
