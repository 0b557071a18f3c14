/// Linux network interface names, as the kernel's dev_valid_name accepts them: 1 to 15 bytes,
/// not "." or "..", and no '/', ':', NUL or white space. The one rule for the whole daemon: the
/// TUN, the UAPI socket path and the command line all check with it.
public enum InterfaceName {
    public static let maxLength = 15

    public static func isValid(_ name: String) -> Bool {
        let bytes = name.utf8
        guard !bytes.isEmpty, bytes.count <= maxLength, name != ".", name != ".." else { return false }
        return !bytes.contains { byte in
            // isspace(3) in the C locale: space, \t, \n, \v, \f, \r.
            byte == UInt8(ascii: "/") || byte == UInt8(ascii: ":") || byte == 0 || byte == 0x20 || (0x09...0x0D).contains(byte)
        }
    }
}
