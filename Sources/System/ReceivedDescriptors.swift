import Glibc

/// The file descriptors that came with a control frame, owned: each is closed when this value is
/// dropped unless it was taken first, so that descriptors a frame should not have carried (or a
/// frame that was refused) cost nothing.
public struct ReceivedDescriptors: ~Copyable, Sendable {
    /// -1 marks a descriptor already taken.
    private var raw: [Int32]

    public init() { raw = [] }

    /// Takes ownership of `descriptors` (tests build frames this way).
    public init(taking descriptors: [Int32]) { raw = descriptors }

    deinit {
        for fd in raw where fd >= 0 { _ = Glibc.close(fd) }
    }

    /// How many came, taken or not.
    public var count: Int { raw.count }

    /// The descriptor at `index` (in the order sent), now owned by the caller; nil if there is no
    /// such index or it was taken already.
    public mutating func take(_ index: Int) -> FileDescriptor? {
        guard raw.indices.contains(index), raw[index] >= 0 else { return nil }
        defer { raw[index] = -1 }
        return FileDescriptor(taking: raw[index])
    }

    mutating func append(_ fd: Int32) { raw.append(fd) }
}
