public import Glibc

/// poll(2) over a few descriptors held inline (no array, no allocation): up to four, which is as
/// many as any wgd thread waits on at once.
public struct PollSet {
    private var fds: (pollfd, pollfd, pollfd, pollfd)
    public private(set) var count = 0

    public init() {
        let none = pollfd(fd: -1, events: 0, revents: 0)
        fds = (none, none, none, none)
    }

    /// Adds `fd` (a negative one is ignored by poll) waiting for `events`; returns its position.
    @discardableResult
    public mutating func add(_ fd: Int32, _ events: Int32 = 1 /* POLLIN */) -> Int {
        precondition(count < 4, "PollSet holds four descriptors")
        withUnsafeMutableBytes(of: &fds) { $0.baseAddress!.assumingMemoryBound(to: pollfd.self)[count] = pollfd(fd: fd, events: Int16(events), revents: 0) }
        count += 1
        return count - 1
    }

    /// Waits at most `milliseconds` (-1: forever). Returns how many descriptors are ready (0 on
    /// timeout); interrupted waits are retried.
    public mutating func wait(milliseconds: Int32) throws(Errno) -> Int {
        let n = count
        return Int(try withUnsafeMutableBytes(of: &fds) { raw throws(Errno) in
            try retrying { poll(raw.baseAddress!.assumingMemoryBound(to: pollfd.self), nfds_t(n), milliseconds) }
        })
    }

    /// The events that came back for position `i`.
    public func returned(_ i: Int) -> Int32 {
        withUnsafeBytes(of: fds) { Int32($0.baseAddress!.assumingMemoryBound(to: pollfd.self)[i].revents) }
    }

    public func isReady(_ i: Int) -> Bool { returned(i) != 0 }
}
