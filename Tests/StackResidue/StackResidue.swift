import Glibc

/// Memory a call has finished with, searched for secrets: the tests that secrets do not outlive
/// their use look at the stack (`stackResidue(of:)`), where Swift's copies (locals, temporaries,
/// spilled values) live and nothing clears them, and at values the code under test left behind.
public struct Residue {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// The offset of the first run of `length` bytes of `secret` left on the stack, or nil.
    public func firstRun(of secret: [UInt8], length: Int = 8) -> Int? {
        precondition(secret.count >= length && length >= 8)
        // Index the secret's runs by their first eight bytes, then look at every offset once.
        var starts: [UInt64: [Int]] = [:]
        for start in 0...(secret.count - length) {
            starts[secret.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: start, as: UInt64.self) }, default: []].append(start)
        }
        return bytes.withUnsafeBytes { stack -> Int? in
            for offset in 0...(stack.count - length) {
                guard let candidates = starts[stack.loadUnaligned(fromByteOffset: offset, as: UInt64.self)] else { continue }
                for start in candidates where stack[offset..<offset + length].elementsEqual(secret[start..<start + length]) {
                    return offset
                }
            }
            return nil
        }
    }

    /// Every secret in `secrets` by name whose run of `length` bytes was found.
    public func leaks(_ secrets: KeyValuePairs<String, [UInt8]>, length: Int = 8) -> [String] {
        secrets.filter { firstRun(of: $0.value, length: length) != nil }.map(\.key)
    }
}

/// Whether `stackResidue` cannot look: the test executable carries a sanitizer's runtime
/// (`swift test --sanitize=address` or `thread`, scripts/sanitize). Both intercept memset and
/// memcpy with functions that have frames of their own below the stack pointer, in the very
/// region being zeroed: the memset wipes its own return address (ThreadSanitizer crashed at pc
/// 0). And AddressSanitizer keeps locals in a "fake stack" on the heap, so nothing of `body`'s
/// would be left where `stackResidue` looks.
public let stackResidueUnavailable = dlsym(nil, "__asan_init") != nil || dlsym(nil, "__tsan_init") != nil

/// Runs `body` on a zeroed stack and returns what it left in the `depth` bytes below this call.
/// The stack grows down on every target wgd supports.
///
/// Zeroing and reading below the stack pointer is safe: nothing else uses this thread's stack
/// there. Run the code under test once before: the first call of a library function goes through
/// the dynamic linker, which may save registers (whatever secret a memcpy left in them) on the
/// stack while it binds the symbol.
@inline(never)
public func stackResidue(depth: Int = 64 * 1024, of body: () throws -> Void) rethrows -> Residue {
    // Everything is set up before `body` runs, and after it only memcpy (no frame of its own)
    // touches the stack, so that the copy shows exactly what `body` left.
    let top = belowCaller()
    let region = UnsafeMutableRawPointer(bitPattern: top - UInt(depth))!
    let copy = UnsafeMutableRawPointer.allocate(byteCount: depth, alignment: 16)
    defer { copy.deallocate() }
    memset(region, 0, depth)
    try body()
    memcpy(copy, region, depth)
    return Residue(bytes: Array(UnsafeRawBufferPointer(start: copy, count: depth)))
}

/// An address in a frame below the caller's: the caller's own live locals are all above it.
@inline(never)
private func belowCaller() -> UInt {
    var marker: UInt8 = 0
    return withUnsafeMutablePointer(to: &marker) { UInt(bitPattern: $0) } & ~15
}
