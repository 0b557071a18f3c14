/// Padding (whitepaper §5.4.6): the plaintext is zero-padded to a multiple of 16 so that packet
/// lengths leak less, but never beyond the MTU, so that a full-size packet still fits.
public enum Padding {
    /// The padded length of a `length`-byte packet on a tunnel with this `mtu`.
    ///
    /// As the kernel's calculate_skb_padding: a packet longer than the MTU (which the stack can
    /// hand over, e.g. while the MTU is being lowered) is padded as its last MTU-sized unit would
    /// be, and an MTU of 0 means no cap.
    public static func paddedLength(_ length: Int, mtu: Int) -> Int {
        let multiple = WireGuard.paddingMultiple
        func align(_ n: Int) -> Int { (n + multiple - 1) / multiple * multiple }
        guard mtu > 0 else { return align(length) }
        let lastUnit = length > mtu ? length % mtu : length
        return length + min(mtu, align(lastUnit)) - lastUnit
    }
}
