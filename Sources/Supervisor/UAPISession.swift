import DataPlane
import System
import Protocol

/// The protocol on one connection: operations one after another until the client closes,
/// as wireguard-go's IpcHandle runs them.
struct UAPISession {
    let stream: UAPIStream
    let context: ServerContext

    func run() {
        while true {
            let operation: RequestLine
            do { operation = try stream.readLine() } catch { return }  // wg's probe lands here
            let keepGoing: Bool
            switch operation {
            case .text("get=1"): keepGoing = get()
            case .text("set=1"): keepGoing = set()
            case .text(let other):
                // wireguard-go hangs up without a reply; wg reports the connection's end.
                context.log("uapi: invalid operation '\(other.prefix(32))'")
                keepGoing = false
            case .tooLong, .notText:
                context.log("uapi: invalid operation line")
                keepGoing = false
            }
            guard keepGoing else { return }
        }
    }

    /// `get=1` then an empty line. Reads the configuration without the set lock: a slow set
    /// never delays `wg show`.
    private func get() -> Bool {
        let next: RequestLine
        do { next = try stream.readLine() } catch { return false }
        guard case .text("") = next else { return reply(errno: UAPIError.invalid("").errno) }
        let target = context.target
        var sent = true
        UAPIGet.write(config: target.configuration, listenPort: target.boundListenPort,
                      status: { target.status(of: $0) }) { chunk in
            guard sent else { return }
            do { try stream.write(chunk) } catch { sent = false }
        }
        return sent
    }

    /// `set=1`, then lines until the empty one that ends it. A set cut short by EOF is a dropped
    /// client and changes nothing (wireguard-go applies what it read; `wg` always sends the empty
    /// line, so nothing that speaks the protocol loses by this). The set lock is held from reading
    /// the configuration to applying the new one, so concurrent sets never lose each other's
    /// changes.
    private func set() -> Bool {
        let outcome = context.setLock.withLock { _ in readAndApply() }
        switch outcome {
        case .abandoned(let why):
            context.log("uapi: set abandoned, nothing applied: \(why)")
            return false
        case .replied(let errno, let ended, let problem):
            if let problem { context.log("uapi: \(problem)") }
            return reply(errno: errno) && !ended
        }
    }

    private enum SetOutcome {
        /// `ended`: the request was ended by EOF, so the client sends nothing more.
        case replied(errno: Int32, ended: Bool, problem: String?)
        /// The client vanished, stalled or was cut off mid-request: nothing to apply, no one
        /// to tell.
        case abandoned(String)
    }

    private func readAndApply() -> SetOutcome {
        var request = UAPISet(config: context.target.configuration)
        var rejection: UAPIError?
        reading: while true {
            let line: RequestLine
            do {
                line = try stream.readLine()
            } catch .endOfStream {
                // A half-closed client may still read: tell it why nothing happened.
                return .replied(errno: -71, ended: true, problem: "set ended without the empty line: nothing applied")
            } catch {
                return .abandoned(describe(error))
            }
            // After a bad line the rest is read, to stay in step with the client, but not applied.
            switch line {
            case .text(let text) where text.isEmpty:
                break reading
            case .text(let text):
                guard rejection == nil else { continue }
                do { try request.apply(line: text) } catch { rejection = error }
            case .tooLong:
                rejection = rejection ?? .invalid("line longer than \(UAPIStream.maxLineLength) bytes")
            case .notText:
                rejection = rejection ?? .invalid("line with NUL or invalid UTF-8")
            }
        }
        if let rejection {
            return .replied(errno: rejection.errno, ended: false, problem: "set rejected: \(rejection.message)")
        }
        do {
            try context.target.apply(request.config)
        } catch {
            return .replied(errno: -error.code, ended: false, problem: "set failed: \(error)")
        }
        return .replied(errno: 0, ended: false, problem: nil)
    }

    private func reply(errno: Int32) -> Bool {
        do { try stream.write("errno=\(errno)\n\n") } catch { return false }
        return true
    }

    private func describe(_ end: StreamEnd) -> String {
        switch end {
        case .endOfStream, .truncated: "the client closed mid-request"
        case .timedOut: "no data for \(context.readTimeout) ms"
        case .stopping: "the server is stopping"
        case .failed(let errno): "read failed: \(errno)"
        }
    }
}
