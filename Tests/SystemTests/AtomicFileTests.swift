import Glibc
import Testing
import System

/// AtomicFile on a real file system: each test in a directory of its own.
@Suite("AtomicFile")
struct AtomicFileTests {
    let directory: String

    init() {
        var template = Array("/tmp/wgd-atomicfile-XXXXXX".utf8CString)
        directory = String(cString: mkdtemp(&template)!)
    }

    /// The names in `path`, without "." and "..".
    static func names(in path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func status(_ path: String) -> stat? {
        var info = stat()
        return lstat(path, &info) == 0 ? info : nil
    }

    static func writePlain(_ text: String, to path: String, mode: mode_t = 0o644) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        precondition(fd >= 0)
        _ = Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    func removeAll() { _ = system("rm -rf '\(directory)'") }

    @Test func createsTheFileWithMode0600() throws {
        defer { removeAll() }
        let path = directory + "/state.json"
        try AtomicFile.write(Array("{}\n".utf8), to: path)
        #expect(try AtomicFile.read(path, limit: 100) == Array("{}\n".utf8))
        #expect(Self.status(path).map { $0.st_mode & 0o7777 } == 0o600)
        #expect(Self.names(in: directory) == ["state.json"])
    }

    @Test func replacesTheTargetWhole() throws {
        defer { removeAll() }
        let path = directory + "/state.json"
        Self.writePlain("old content, longer than the new\n", to: path, mode: 0o644)
        let before = try #require(Self.status(path))
        try AtomicFile.write(Array("new\n".utf8), to: path)
        let after = try #require(Self.status(path))
        #expect(try AtomicFile.read(path, limit: 100) == Array("new\n".utf8))
        // A new inode renamed over the old one: no reader ever saw a half-written file.
        #expect(after.st_ino != before.st_ino)
        #expect(after.st_mode & 0o7777 == 0o600)
        #expect(Self.names(in: directory) == ["state.json"])
    }

    @Test func aRelativePathUsesTheCurrentDirectory() throws {
        defer { removeAll() }
        let saved = getcwd(nil, 0)!
        defer { chdir(saved); free(saved) }
        #expect(chdir(directory) == 0)
        try AtomicFile.write(Array("x".utf8), to: "relative.json")
        #expect(try AtomicFile.read(directory + "/relative.json", limit: 10) == Array("x".utf8))
        #expect(Self.names(in: directory) == ["relative.json"])
    }

    /// rename fails after the content was written and synced (the target is a directory, which
    /// root cannot overwrite either): the target is untouched and no temp file is left.
    @Test func aFailedRenameLeavesTheTargetAndNoTempFile() throws {
        defer { removeAll() }
        let path = directory + "/state.json"
        #expect(mkdir(path, 0o755) == 0)
        Self.writePlain("inside\n", to: path + "/kept")
        #expect(throws: Errno.self) { try AtomicFile.write(Array("new\n".utf8), to: path) }
        #expect(Self.names(in: directory) == ["state.json"])
        #expect(Self.names(in: path) == ["kept"])
        #expect(try AtomicFile.read(path + "/kept", limit: 100) == Array("inside\n".utf8))
    }

    @Test func aMissingDirectoryFailsCleanly() {
        defer { removeAll() }
        #expect(throws: Errno(ENOENT)) { try AtomicFile.write(Array("x".utf8), to: directory + "/missing/state.json") }
        #expect(Self.names(in: directory) == [])
    }

    @Test func readIsBounded() throws {
        defer { removeAll() }
        let path = directory + "/big"
        let content = [UInt8](repeating: 0x61, count: 200_000)
        try AtomicFile.write(content, to: path)
        #expect(try AtomicFile.read(path, limit: 200_000) == content)
        #expect(throws: Errno(EFBIG)) { try AtomicFile.read(path, limit: 199_999) }
        #expect(throws: Errno(ENOENT)) { try AtomicFile.read(directory + "/none", limit: 10) }
        try AtomicFile.write([], to: path)
        #expect(try AtomicFile.read(path, limit: 0) == [])
    }
}
