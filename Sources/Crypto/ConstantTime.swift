internal import CLibcrypto
import Glibc

/// Comparisons whose time does not depend on where the inputs differ: MACs, tags and keys must
/// never leak a matching prefix through timing.
public enum ConstantTime {
    public static func equals(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        if a.count == 0 { return true }
        return CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0
    }

    public static func isZero(_ a: UnsafeRawBufferPointer) -> Bool {
        var acc: UInt8 = 0
        for byte in a { acc |= byte }
        return acc == 0
    }
}

/// Zeroing that the optimizer may not remove, for secrets in caller memory. explicit_bzero
/// rather than OPENSSL_cleanse: the C library's is its vectorized memset behind a compiler
/// barrier, where OpenSSL's stores 8 bytes a loop, and the handshake clears a KiB of stack after
/// every BLAKE2s block (2 % of its CPU went to OPENSSL_cleanse).
public enum Zeroize {
    public static func clear(_ bytes: UnsafeMutableRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        explicit_bzero(base, bytes.count)
    }

    public static func clear<T>(_ value: inout T) {
        withUnsafeMutableBytes(of: &value) { clear($0) }
    }

    /// `count` bytes (at most 128) of zeroed stack for a secret intermediate, cleansed when `body`
    /// returns or throws: the memory exists only inside `body`, so no path skips the clearing.
    @inlinable
    public static func withScratch<R: ~Copyable, E: Error>(_ count: Int, _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        precondition(count <= 128, "scratch is 128 bytes")
        var words = InlineArray<16, UInt64>(repeating: 0)
        defer { clear(&words) }
        return try withUnsafeMutableBytes(of: &words) { (all) throws(E) -> R in
            try body(UnsafeMutableRawBufferPointer(rebasing: all[0..<count]))
        }
    }

    /// Clears `kib` KiB of stack below the caller's frame: the frames of the functions it has just
    /// called, with their locals and spilled registers, for secrets that live in no buffer one
    /// could clear. A KiB per frame, because larger temporaries may come from the heap.
    @inline(never)
    static func clearStack(kib: Int) {
        withUnsafeTemporaryAllocation(byteCount: 1024, alignment: 16) { clear($0) }
        if kib > 1 { clearStack(kib: kib - 1) }
    }
}
