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

    /// Takes the key and clamps it in its slot: the way in for a key drawn or decoded there.
    public init(_ secret: consuming SecretKey) {
        X25519.clamp(&secret)
        publicKey = X25519.publicKey(for: secret)
        self.secret = secret
    }

    /// Clamps a copy of `bytes` (exactly 32); the caller clears its own.
    public convenience init(copying bytes: UnsafeRawBufferPointer) { self.init(SecretKey(copying: bytes)) }

    public static func generate() -> PrivateKey { PrivateKey(.random()) }

    public var isZero: Bool { secret.isZero }

    public var description: String { "PrivateKey(redacted)" }

    /// Constant time.
    public static func == (a: PrivateKey, b: PrivateKey) -> Bool { a.secret.equals(b.secret) }
}

/// A peer's optional preshared key (Noise's psk2): the post-quantum hedge. Same storage contract
/// as `PrivateKey`.
public final class PresharedKey: Sendable, CustomStringConvertible, Equatable {
    public let secret: SecretKey

    public init(_ secret: consuming SecretKey) { self.secret = secret }

    /// A copy of `bytes` (exactly 32); the caller clears its own.
    public convenience init(copying bytes: UnsafeRawBufferPointer) { self.init(SecretKey(copying: bytes)) }

    public static func generate() -> PresharedKey { PresharedKey(.random()) }

    public var isZero: Bool { secret.isZero }

    public var description: String { "PresharedKey(redacted)" }

    public static func == (a: PresharedKey, b: PresharedKey) -> Bool { a.secret.equals(b.secret) }
}
