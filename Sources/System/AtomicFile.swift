import Glibc

/// A file replaced whole or not at all, and durably: the state file's write path.
/// - The new content goes to a fresh temp file in the target's directory (rename only replaces
///   atomically within one file system), created exclusively with mode 0600: it holds keys.
/// - The file is fsynced before the rename, so that after a crash the name points at the old
///   content or the complete new one, never at a torn file.
/// - The directory is fsynced after the rename, so that the new name itself survives a crash.
/// - On any failure the temp file is removed and the target is untouched.
public enum AtomicFile {
    /// Replaces `path` with `bytes`, mode 0600. An error from the directory's fsync comes after
    /// the rename: the new content is in place but its durability was not confirmed.
    public static func write(_ bytes: UnsafeRawBufferPointer, to path: String) throws(Errno) {
        let (raw, temp) = try createTemp(besides: path)
        let file = FileDescriptor(taking: raw)
        do throws(Errno) {
            try file.writeAll(bytes)
            try file.sync()
            _ = try retrying { rename(temp, path) }
        } catch {
            unlink(temp)
            throw error
        }
        try syncDirectory(of: path)
    }

    public static func write(_ bytes: [UInt8], to path: String) throws(Errno) {
        var result = Result<Void, Errno>.success(())
        bytes.withUnsafeBytes { buffer in result = Result { () throws(Errno) in try write(buffer, to: path) } }
        try result.get()
    }

    /// The whole of `path`, which must hold at most `limit` bytes (EFBIG otherwise): a file that
    /// grew without bound must not take the memory with it.
    public static func read(_ path: String, limit: Int) throws(Errno) -> [UInt8] {
        let file = FileDescriptor(taking: try retrying { open(path, O_RDONLY | O_CLOEXEC) })
        var bytes: [UInt8] = []
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 1)
        defer { chunk.deallocate() }
        while true {
            let n = try file.read(into: chunk)
            if n == 0 { return bytes }
            guard bytes.count + n <= limit else { throw Errno(EFBIG) }
            bytes += chunk[..<n]
        }
    }

    /// "dir/.name.tmp-<random>", opened O_EXCL so that no other writer's file is ever reused;
    /// a clash (a stale temp file of the same name) draws another name.
    private static func createTemp(besides path: String) throws(Errno) -> (Int32, String) {
        let (directory, name) = split(path)
        var attempts = 0
        while true {
            let temp = directory + "." + name + ".tmp-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
            do throws(Errno) {
                let raw = try retrying { open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
                // The umask may have narrowed the mode; 0600 exactly is what the file promises.
                guard fchmod(raw, 0o600) == 0 else {
                    let error = Errno.current
                    close(raw)
                    unlink(temp)
                    throw error
                }
                return (raw, temp)
            } catch where error.code == EEXIST && attempts < 16 {
                attempts += 1
            }
        }
    }

    private static func syncDirectory(of path: String) throws(Errno) {
        let directory = split(path).directory
        let file = FileDescriptor(taking: try retrying { open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) })
        try file.sync()
    }

    /// "a/b/c" → ("a/b/", "c"); "c" → ("", "c").
    private static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return ("", path) }
        let afterSlash = path.utf8.index(after: slash)
        return (String(path[..<afterSlash]), String(path[afterSlash...]))
    }
}
