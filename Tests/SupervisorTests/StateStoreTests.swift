import Testing
import Foundation
import Crypto
import Protocol
import System
import Synchronization
@testable import Supervisor

/// The state store: every change is on disk before it is answered, concurrent changes share
/// writes, and a failed write undoes every change not yet written.
@Suite("State store")
struct StateStoreTests {
    static func directory() -> String {
        let path = NSTemporaryDirectory() + "wgd-store-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        return path
    }

    static func initial() -> StateFile {
        var interface = InterfaceState(name: "wg0")
        interface.config.setPrivateKey(PrivateKey.generate())
        return StateFile(interfaces: [interface])
    }

    static func addPeer(_ key: PublicKey) -> (inout StateFile) throws(Errno) -> Void {
        { state in _ = state.interfaces[0].config.addPeer(key) }
    }

    @Test func aChangeIsOnDiskWhenItsCommitmentReturns() throws {
        let dir = Self.directory()
        let path = dir + "/state.json"
        let store = StateStore(path: path, state: Self.initial())
        let key = PrivateKey.generate().publicKey
        let commitment = try store.change(Self.addPeer(key))
        try commitment.wait()
        let onDisk = try StateFile.read(path)
        #expect(onDisk.interfaces[0].config.peer(key) != nil)
        #expect(onDisk == store.state)
    }

    @Test func concurrentChangesShareWrites() throws {
        let dir = Self.directory()
        let path = dir + "/state.json"
        let store = StateStore(path: path, state: Self.initial())
        let keys = (0..<64).map { _ in PrivateKey.generate().publicKey }
        let failures = Atomic(0)
        DispatchQueue.concurrentPerform(iterations: keys.count) { i in
            do throws(Errno) {
                try store.change(Self.addPeer(keys[i])).wait()
            } catch {
                failures.add(1, ordering: .relaxed)
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        let onDisk = try StateFile.read(path)
        #expect(keys.allSatisfy { onDisk.interfaces[0].config.peer($0) != nil })
        // How many writes the changes shared depends on timing; that each was answered only
        // with itself on disk is the contract, checked above.
        print("state store: \(keys.count) concurrent changes, \(store.writeCount) writes")
    }

    @Test func aFailedWriteUndoesTheChangeAndRollsBack() throws {
        let dir = Self.directory()
        let path = dir + "/missing-directory/state.json"
        let before = Self.initial()
        let store = StateStore(path: path, state: before)
        let rolledBack = Mutex<StateFile?>(nil)
        store.onRollback { state in rolledBack.withLock { $0 = state } }
        let commitment = try store.change(Self.addPeer(PrivateKey.generate().publicKey))
        #expect(store.state != before)  // the latest state holds it while the write is pending
        #expect(throws: Errno.self) { try commitment.wait() }
        #expect(store.state == before)
        #expect(rolledBack.withLock { $0 } == before)
        // The next change builds on the state the file would have held.
        let next = try store.change(Self.addPeer(PrivateKey.generate().publicKey))
        #expect(throws: Errno.self) { try next.wait() }
        #expect(store.state == before)
    }

    @Test func aRefusedChangeChangesNothing() throws {
        let dir = Self.directory()
        let store = StateStore(path: dir + "/state.json", state: Self.initial())
        let before = store.state
        #expect(throws: Errno.self) { _ = try store.change { (_: inout StateFile) throws(Errno) in throw Errno(EADDRINUSE) } }
        #expect(store.state == before)
        #expect(store.writeCount == 0)
        #expect(!FileManager.default.fileExists(atPath: dir + "/state.json"))
    }

    @Test func aReloadWaitsForWritesAndReplacesTheState() throws {
        let dir = Self.directory()
        let store = StateStore(path: dir + "/state.json", state: Self.initial())
        try store.change(Self.addPeer(PrivateKey.generate().publicKey)).wait()
        var reloaded = Self.initial()
        reloaded.interfaces[0].name = "wg9"
        store.replace { _ in reloaded }
        #expect(store.state == reloaded)
        #expect(store.interface(named: "wg9") != nil)
    }
}
