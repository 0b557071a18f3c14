public import Crypto

/// `wgd --state FILE --public-key IFNAME` and `--set-private-key IFNAME`: the two steps factory
/// provisioning needs, so that a shell script never edits JSON. Each exit status means one
/// thing, for the script to act on.
public enum StateFileKey {
    public enum Status: Int32, Sendable {
        case done = 0
        /// The file is missing, unreadable or not a valid state file (as `--check` says).
        case invalidFile = 1
        case noSuchInterface = 3
        /// `--public-key`: the interface has no private key yet.
        case noKey = 4
        /// `--set-private-key`: the interface has one already; it is never replaced.
        case hasKey = 5
        /// `--set-private-key`: standard input did not hold a key, or its public key is a peer's.
        case badKey = 6
        case writeFailed = 7
    }

    public struct Outcome: Sendable, Equatable {
        public let status: Status
        /// One line: the public key, or what is wrong.
        public let message: String
    }

    /// The interface's public key.
    public static func publicKey(path: String, interface name: String) -> Outcome {
        let file: StateFile
        do { file = try read(path) } catch { return error.outcome }
        guard let interface = file.interfaces.first(where: { $0.name == name }) else {
            return Outcome(status: .noSuchInterface, message: "\(path): no interface \(name)")
        }
        guard let key = interface.config.publicKey else {
            return Outcome(status: .noKey, message: "\(path): \(name) has no private key")
        }
        return Outcome(status: .done, message: key.description)
    }

    /// Gives the interface `key` if it has none, writing the file durably (temp file, fsync,
    /// rename); an interface that has a key keeps it, and the file is then not touched.
    public static func setPrivateKey(path: String, interface name: String, key: PrivateKey?) -> Outcome {
        var file: StateFile
        do { file = try read(path) } catch { return error.outcome }
        guard let index = file.interfaces.firstIndex(where: { $0.name == name }) else {
            return Outcome(status: .noSuchInterface, message: "\(path): no interface \(name)")
        }
        guard file.interfaces[index].config.privateKey == nil else {
            return Outcome(status: .hasKey, message: "\(path): \(name) has a private key already; it is kept")
        }
        guard let key else {
            return Outcome(status: .badKey, message: "the key on standard input is not the correct length or format")
        }
        // The file forbids a peer with the interface's own key; setting it would drop that peer.
        guard file.interfaces[index].config.peer(key.publicKey) == nil else {
            return Outcome(status: .badKey, message: "the key's public key is a peer of \(name)")
        }
        file.interfaces[index].config.setPrivateKey(key)
        do {
            try file.write(to: path)
        } catch {
            return Outcome(status: .writeFailed, message: "cannot write \(path): \(error)")
        }
        return Outcome(status: .done, message: key.publicKey.description)
    }

    private static func read(_ path: String) throws(Failure) -> StateFile {
        do {
            return try StateFile.read(path)
        } catch {
            throw Failure(outcome: Outcome(status: .invalidFile, message: StateFileCheck.describe(error, path: path)))
        }
    }

    private struct Failure: Error {
        let outcome: Outcome
    }
}
