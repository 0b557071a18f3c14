import DataPlane
import System
import Glibc

/// Why a connection's stream ended.
enum StreamEnd: Error {
    /// The client closed after a complete line (or before sending anything).
    case endOfStream
    /// The client closed in the middle of a line: a request cut short.
    case truncated
    /// Nothing arrived, or nothing could be sent, for the whole read timeout.
    case timedOut
    /// Cut by the server: the client was silent while every connection was taken and other
    /// clients waited (`ServedConnections`).
    case cut
    case stopping
    case failed(Errno)
}

/// One line of a request, as far as framing goes.
enum RequestLine {
    case text(Substring)
    /// Longer than `UAPIStream.maxLineLength`; its bytes were dropped as they came.
    case tooLong
    /// Contains NUL or is not UTF-8: no key or value `wg` sends looks like that.
    case notText
}

/// A UAPI connection as lines in, text out, through one fixed buffer: a client can send as much
/// as it likes, the memory the stream costs stays at `bufferSize` (a set's parsed lines are
/// bounded by the server's request length limit). Every wait is bounded by the read timeout and
/// cut short by a stop.
final class UAPIStream {
    /// Far above any line `wg` sends (the longest, an endpoint or a key, is under 100 bytes).
    static let maxLineLength = 4096
    static let bufferSize = 64 * 1024

    private let socket: FileDescriptor
    private let stop: StopSignal
    private let timeout: Int32
    /// The server's table of connections, where this one says when it waits on its client.
    private let served: ServedConnections?
    private let entry: ServedConnections.Entry?
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: UAPIStream.bufferSize, alignment: 1)
    private var start = 0  // buffer[start..<end] is received and not yet consumed
    private var end = 0
    /// Bytes taken from the connection as lines so far (dropped bytes of overlong lines too).
    private(set) var consumed = 0

    init(socket: consuming FileDescriptor, stop: StopSignal, timeoutMilliseconds: Int32,
         served: ServedConnections? = nil) throws(Errno) {
        try socket.setNonBlocking()
        entry = served?.register(fd: socket.rawValue)
        self.served = served
        self.socket = socket
        self.stop = stop
        self.timeout = timeoutMilliseconds
    }

    deinit {
        // Out of the table before the descriptor closes (after this body), so that a cut never
        // reaches a number the system has handed to someone else.
        if let entry { served?.unregister(entry) }
        buffer.deallocate()
    }

    func readLine() throws(StreamEnd) -> RequestLine {
        var discarding = false
        while true {
            if let newline = firstNewline() {
                defer {
                    consumed += newline + 1 - start
                    start = newline + 1
                }
                if discarding || newline - start > Self.maxLineLength { return .tooLong }
                return decode(start..<newline)
            }
            // An overlong line's bytes are dropped as they come, so it never needs more room.
            if discarding || end - start > Self.maxLineLength {
                discarding = true
                consumed += end - start
                start = 0
                end = 0
            }
            try fill(midLine: discarding || end > start)
        }
    }

    /// Sends all of `text`, waiting (bounded) while the client is slow to read.
    func write(_ text: String) throws(StreamEnd) {
        var text = text
        var failure: StreamEnd?
        text.withUTF8 { bytes in
            do throws(StreamEnd) { try write(UnsafeRawBufferPointer(bytes)) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    private func write(_ bytes: UnsafeRawBufferPointer) throws(StreamEnd) {
        var done = 0
        while done < bytes.count {
            do {
                done += try socket.send(UnsafeRawBufferPointer(rebasing: bytes[done...]))
            } catch where error == .again {
                try wait(for: POLLOUT)
            } catch {
                if entry?.isCut == true { throw .cut }
                throw .failed(error)
            }
        }
    }

    private func firstNewline() -> Int? {
        guard end > start, let base = buffer.baseAddress,
              let found = memchr(base + start, 0x0A, end - start) else { return nil }
        return base.distance(to: found)
    }

    private func decode(_ range: Range<Int>) -> RequestLine {
        let bytes = UnsafeRawBufferPointer(rebasing: buffer[range])
        guard !bytes.contains(0), let text = String(validating: bytes, as: UTF8.self) else { return .notText }
        return .text(text[...])
    }

    /// Reads more after what is buffered; at EOF, says whether a line was left unfinished.
    private func fill(midLine: Bool) throws(StreamEnd) {
        if end == buffer.count {
            buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: end - start)
            end -= start
            start = 0
        }
        while true {
            // Poll even when data may be waiting: a client that streams without pause must
            // still notice a stop.
            try wait(for: POLLIN)
            let count: Int
            do {
                count = try socket.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
            } catch where error == .again {
                continue
            } catch {
                throw .failed(error)
            }
            if count == 0 {
                if entry?.isCut == true { throw .cut }
                throw midLine ? .truncated : .endOfStream
            }
            end += count
            return
        }
    }

    private func wait(for events: Int32) throws(StreamEnd) {
        if entry?.isCut == true { throw .cut }
        entry?.beginWaiting(now: Clock.now())
        let readiness: Readiness
        do {
            defer { entry?.endWaiting() }
            readiness = try waitFor(events, on: socket.rawValue, or: stop, milliseconds: timeout)
        } catch {
            throw .failed(error)
        }
        if entry?.isCut == true { throw .cut }
        switch readiness {
        case .ready: return
        case .timedOut: throw .timedOut
        case .stopping: throw .stopping
        }
    }
}
