/// `wgd --state FILE --check`: validate a state file without running it, for image builders
/// and provisioning scripts. Here rather than in the command line so that it is testable.
public enum StateFileCheck {
    public struct Outcome: Sendable, Equatable {
        /// The exit status: 0 valid, 1 not.
        public let status: Int32
        /// One line: the summary, or what is wrong.
        public let message: String
    }

    public static func run(path: String) -> Outcome {
        do {
            let file = try StateFile.read(path)
            return Outcome(status: 0, message: "\(path): valid, " + summary(file))
        } catch {
            return Outcome(status: 1, message: describe(error, path: path))
        }
    }

    /// What is wrong with the file at `path`, in one line that names it.
    static func describe(_ error: StateFileError, path: String) -> String {
        // An unreadable file's message names the file already.
        if case .unreadable = error { return error.description }
        return "\(path): \(error)"
    }

    /// "2 interfaces: wg0 (3 peers), wg1 (1 peer)".
    static func summary(_ file: StateFile) -> String {
        let count = file.interfaces.count
        let head = "\(count) interface" + (count == 1 ? "" : "s")
        guard count > 0 else { return head }
        return head + ": " + file.interfaces.map { interface in
            let peers = interface.config.peers.count
            return "\(interface.name) (\(peers) peer" + (peers == 1 ? ")" : "s)")
        }.joined(separator: ", ")
    }
}
