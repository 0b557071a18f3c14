/// Padding (whitepaper §5.4.6): the plaintext is zero-padded to a multiple of 16 so that packet
/// lengths leak less, but never beyond the MTU, so that a full-size packet still fits.
public enum Padding {
    /// The padded length of a `length`-byte packet on a tunnel with this `mtu`.
    public static func paddedLength(_ length: Int, mtu: Int) -> Int {
        let multiple = WireGuard.paddingMultiple
        let rounded = (length + multiple - 1) / multiple * multiple
        // A packet longer than the MTU (a GSO segment, or an MTU lowered under it) gets no padding.
        return length >= mtu ? length : min(rounded, mtu)
    }
}
