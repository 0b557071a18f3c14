import Glibc
public import System

/// The kernel's own account of this process (/proc/self/status): what the drop and the lock-down
/// check besides their own read-backs (the thread count), and what the self-tests print.
public struct ProcessStatus: Sendable {
    /// "Name: value" lines in the kernel's order, the value without surrounding white space.
    public let fields: [(name: String, value: String)]

    /// Reads /proc/self/status.
    public static func read() throws(Errno) -> ProcessStatus {
        let fd = FileDescriptor(taking: try retrying { open("/proc/self/status", O_RDONLY | O_CLOEXEC) })
        return try read(from: fd)
    }

    /// Reads the file from a descriptor opened earlier: the kernel writes the text at the first
    /// read, so a descriptor opened before a system-call filter tells what holds after it.
    public static func read(from fd: borrowing FileDescriptor) throws(Errno) -> ProcessStatus {
        var text: [UInt8] = []
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 1)
        defer { chunk.deallocate() }
        while true {
            let n = try fd.read(into: chunk)
            if n == 0 { break }
            text += chunk[..<n]
        }
        return ProcessStatus(text: String(decoding: text, as: UTF8.self))
    }

    init(text: String) {
        fields = text.split(separator: "\n").compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
            return (String(line[..<colon]), String(value))
        }
    }

    public subscript(name: String) -> String? { fields.first { $0.name == name }?.value }

    /// The process's thread count ("Threads:").
    public var threads: Int? { self["Threads"].flatMap { Int($0) } }
}
