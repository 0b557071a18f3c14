import DataPlane
import System
import Glibc

/// Notices our socket file being unlinked or renamed away by someone else: wireguard-go exits
/// then, and `wg` relies on that to take an interface down (`rm /var/run/wireguard/wg0.sock`).
///
/// The directory is watched rather than the socket's inode, so that a rename of the file, or of
/// the directory itself, is seen as well. Any event leads to an lstat: the file is gone as soon
/// as the path no longer names the socket we bound, whatever the event said.
/// Unchecked Sendable: only the accept thread reads events into the buffer; the path is read-only.
struct SocketWatch: ~Copyable, @unchecked Sendable {
    private let inotify: FileDescriptor
    private let identity: FileIdentity
    // Made once: events come whenever any daemon's socket in the shared directory comes or
    // goes, and a running daemon allocates nothing for them.
    private let path: UnsafeMutablePointer<CChar>
    private let events: UnsafeMutableRawBufferPointer

    init(directory: String, path: String, identity: FileIdentity) throws(Errno) {
        let inotify = FileDescriptor(taking: try retrying { inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK)) })
        let mask = UInt32(IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)
        _ = try retrying { inotify_add_watch(inotify.rawValue, directory, mask) }
        self.inotify = inotify
        self.path = strdup(path)
        self.identity = identity
        self.events = .allocate(byteCount: 4096, alignment: 8)
    }

    deinit {
        free(path)
        events.deallocate()
    }

    /// The descriptor to poll for POLLIN.
    var pollable: Int32 { inotify.rawValue }

    /// Consumes pending events; true if the path no longer names our socket.
    func socketGone() -> Bool {
        while ((try? inotify.read(into: events)) ?? 0) > 0 {}
        return FileIdentity(socketAt: UnsafePointer(path)) != identity
    }
}
