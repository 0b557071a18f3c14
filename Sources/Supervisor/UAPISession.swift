import DataPlane
import Glibc
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
        target.withStatus { status in
            UAPIGet.write(config: target.configuration, listenPort: target.boundListenPort, status: status) { chunk in
                guard sent else { return }
                do { try stream.write(chunk) } catch { sent = false }
            }
        }
        return sent
    }

    /// `set=1`, then lines until the empty one that ends it. The whole request is read and
    /// parsed first, holding nothing another client needs, so a client that stalls mid-request
    /// delays only itself. Then, under the set lock, its operations are applied to the
    /// configuration in force and the result handed to the target whole: concurrent sets never
    /// lose each other's changes, and the lock is held only for work that never waits on a client.
    private func set() -> Bool {
        // The request bytes this set holds under the server's shared limit, until it is done:
        // given back before the reply, so that a client with its answer finds the room free.
        var held = 0
        let answer = finish(readSet(holding: &held))
        context.requestBytes.release(held)
        guard let answer else { return false }
        return reply(errno: answer.errno) && answer.keepGoing
    }

    /// What to answer a set read in full (nil: no one to answer), applying it if it is complete.
    private func finish(_ request: SetRequest) -> (errno: Int32, keepGoing: Bool)? {
        switch request {
        case .abandoned(let why):
            context.log("uapi: set abandoned, nothing applied: \(why)")
            return nil
        case .rejected(let errno, let ended, let problem):
            context.log("uapi: \(problem)")
            return (errno, !ended)
        case .complete(let change):
            // Applied under the lock; made durable (router mode) outside it, so that concurrent
            // sets share one write.
            var failure: Errno?
            switch context.setLock.withLock({ _ in apply(change) }) {
            case .success(let commitment):
                do { try commitment.wait() } catch { failure = error }
            case .failure(let error):
                failure = error
            }
            if let failure { context.log("uapi: set failed: \(failure)") }
            return (failure.map { -$0.code } ?? 0, true)
        }
    }

    private enum SetRequest {
        case complete(ConfigChange)
        /// Nothing to apply. `ended`: the request was ended by EOF, so the client sends nothing more.
        case rejected(errno: Int32, ended: Bool, problem: String)
        /// The client vanished, stalled or was cut off mid-request: nothing to apply, no one
        /// to tell.
        case abandoned(String)
    }

    /// Reads a set's lines up to the empty one, parsing each. After a bad line, past the request
    /// length limit, or past what all sets may hold together, the rest is read, to stay in step
    /// with the client, but not kept. `held` is what this set took of the shared limit.
    /// A set cut short by EOF is a dropped client and changes nothing (wireguard-go applies what
    /// it read; `wg` always sends the empty line, so nothing that speaks the protocol loses by this).
    private func readSet(holding held: inout Int) -> SetRequest {
        var parser = UAPISetParser()
        var change = ConfigChange()
        var rejection: (errno: Int32, message: String)?
        let start = stream.consumed
        while true {
            let line: RequestLine
            do {
                line = try stream.readLine()
            } catch .endOfStream {
                // A half-closed client may still read: tell it why nothing happened.
                return .rejected(errno: -71, ended: true, problem: "set ended without the empty line: nothing applied")
            } catch {
                return .abandoned(describe(error))
            }
            if rejection == nil {
                let length = stream.consumed - start
                if length > context.maxRequestLength {
                    rejection = (-EMSGSIZE, "request longer than \(context.maxRequestLength) bytes")
                } else if context.requestBytes.reserve(length - held) {
                    held = length
                } else {
                    rejection = (-ENOBUFS, "the sets in progress hold \(context.requestBytes.limit) bytes of requests already")
                }
            }
            switch line {
            case .text(let text) where text.isEmpty:
                guard let rejection else { return .complete(change) }
                return .rejected(errno: rejection.errno, ended: false, problem: "set rejected: \(rejection.message)")
            case .text(let text) where rejection == nil:
                do throws(UAPIError) {
                    if let operation = try parser.parse(text) { change.append(operation) }
                } catch {
                    rejection = (error.errno, error.message)
                }
            case .text:
                break
            case .tooLong:
                rejection = rejection ?? (-EINVAL, "line longer than \(UAPIStream.maxLineLength) bytes")
            case .notText:
                rejection = rejection ?? (-EINVAL, "line with NUL or invalid UTF-8")
            }
            if rejection != nil, change.count > 0 { change = ConfigChange() }  // never applied: let it go now
            if rejection != nil, held > 0 {
                context.requestBytes.release(held)
                held = 0
            }
        }
    }

    /// Applies a parsed set to the configuration in force; the target's error if it refused.
    /// A set that would take the interface over a bound (peers, allowed IPs) is refused whole
    /// with ENOSPC and never reaches the target.
    private func apply(_ change: ConfigChange) -> Result<Commitment, Errno> {
        var config = context.target.configuration
        change.apply(to: &config)
        if let violation = ConfigBounds.violation(of: config) {
            context.log("uapi: set refused, nothing applied: \(violation)")
            return .failure(Errno(ENOSPC))
        }
        return Result { () throws(Errno) in try context.target.apply(config, change: change) }
    }

    private func reply(errno: Int32) -> Bool {
        do { try stream.write("errno=\(errno)\n\n") } catch { return false }
        return true
    }

    private func describe(_ end: StreamEnd) -> String {
        switch end {
        case .endOfStream, .truncated: "the client closed mid-request"
        case .timedOut: "no data for \(context.readTimeout) ms"
        case .cut: "cut: silent for \(context.busyIdleTimeout) ms while all \(context.maxConnections) connections were taken and other clients waited"
        case .stopping: "the server is stopping"
        case .failed(let errno): "read failed: \(errno)"
        }
    }
}
