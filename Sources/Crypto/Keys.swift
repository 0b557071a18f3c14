/// A Curve25519 public key. Not secret: printable (base64, as `wg` shows it) and hashable.
public struct PublicKey: Hashable, Sendable, CustomStringConvertible {
    public let bytes: Bytes32

    public init(_ bytes: Bytes32) { self.bytes = bytes }

    public var description: String { KeyEncoding.base64(bytes) }
}

/// The device's static private key, stored clamped (so `get` returns the clamped form, as the
/// kernel and wireguard-go do).
///
/// A class wrapping a move-only `SecretKey`: the configuration model is a copyable value that
/// UAPI, the state file and the data plane share, and sharing a reference lets them do that while
/// the key's bytes still exist exactly once, in locked memory, zeroed when the last user lets go.
/// Its description is redacted, so a stray `print(config)` leaks nothing.
public final class PrivateKey: Sendable, CustomStringConvertible, Equatable {
    public let secret: SecretKey
    public let publicKey: PublicKey

    /// Clamps a copy of `bytes` (exactly 32).
    public init(copying bytes: UnsafeRawBufferPointer) {
        var secret = SecretKey(copying: bytes)
        X25519.clamp(&secret)
        publicKey = X25519.publicKey(for: secret)
        self.secret = secret
    }

    public static func generate() -> PrivateKey {
        var bytes = Bytes32()
        defer { Zeroize.clear(&bytes) }
        bytes.withUnsafeMutableBytes { SystemRandom.fill($0) }
        return bytes.withUnsafeBytes { PrivateKey(copying: $0) }
    }

    public var isZero: Bool { secret.isZero }

    public var description: String { "PrivateKey(redacted)" }

    /// Constant time.
    public static func == (a: PrivateKey, b: PrivateKey) -> Bool { a.secret.equals(b.secret) }
}

/// A peer's optional preshared key (Noise's psk2): the post-quantum hedge. Same storage contract
/// as `PrivateKey`.
public final class PresharedKey: Sendable, CustomStringConvertible, Equatable {
    public let secret: SecretKey

    public init(copying bytes: UnsafeRawBufferPointer) { secret = SecretKey(copying: bytes) }

    public static func generate() -> PresharedKey { PresharedKey(secret: .random()) }

    private init(secret: consuming SecretKey) { self.secret = secret }

    public var isZero: Bool { secret.isZero }

    public var description: String { "PresharedKey(redacted)" }

    public static func == (a: PresharedKey, b: PresharedKey) -> Bool { a.secret.equals(b.secret) }
}
