import CNetlink
import Glibc
import Testing

/// wgd_link_scan over hand-built rtnetlink messages: which RTM_DELLINK concerns our interface,
/// and whether it was a move to another namespace.
@Suite struct NetlinkTests {
    // Kernel ABI numbers (<linux/rtnetlink.h>, <linux/if_link.h>).
    static let RTM_NEWLINK: UInt16 = 16
    static let RTM_DELLINK: UInt16 = 17
    static let IFLA_IFNAME: UInt16 = 3
    static let IFLA_NEW_NETNSID: UInt16 = 45

    /// One message: nlmsghdr (16 bytes), ifinfomsg (16 bytes) with `index`, then the attributes
    /// (type, payload), each padded to 4 bytes. `payload` shortens the ifinfomsg if given.
    static func message(_ type: UInt16, index: Int32, attributes: [(UInt16, [UInt8])] = [], ifinfoLength: Int = 16) -> [UInt8] {
        var body = [UInt8](repeating: 0, count: ifinfoLength)
        if ifinfoLength >= 8 { withUnsafeBytes(of: index.littleEndian) { body.replaceSubrange(4..<8, with: $0) } }
        for (kind, payload) in attributes {
            body += le(UInt16(4 + payload.count)) + le(kind) + payload
            while body.count % 4 != 0 { body.append(0) }
        }
        return le(UInt32(16 + body.count)) + le(type) + le(UInt16(0)) + le(UInt32(0)) + le(UInt32(0)) + body
    }

    static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

    static func scan(_ bytes: [UInt8], index: Int32) -> Int32 {
        bytes.withUnsafeBytes { wgd_link_scan($0.baseAddress, $0.count, index) }
    }

    static let deleted = Int32(WGD_LINK_DELETED)
    static let moved = Int32(WGD_LINK_MOVED)
    static let name: [(UInt16, [UInt8])] = [(IFLA_IFNAME, Array("wg0\0".utf8))]

    @Test func deletionOfOurIndexOnly() {
        #expect(Self.scan(Self.message(Self.RTM_DELLINK, index: 7, attributes: Self.name), index: 7) == Self.deleted)
        #expect(Self.scan(Self.message(Self.RTM_DELLINK, index: 8, attributes: Self.name), index: 7) == 0)
        #expect(Self.scan(Self.message(Self.RTM_NEWLINK, index: 7, attributes: Self.name), index: 7) == 0)
        #expect(Self.scan([], index: 7) == 0)
    }

    @Test func moveToAnotherNamespaceIsMarked() {
        let move = Self.message(Self.RTM_DELLINK, index: 7, attributes: Self.name + [(Self.IFLA_NEW_NETNSID, Self.le(Int32(0)))])
        #expect(Self.scan(move, index: 7) == Self.deleted | Self.moved)
    }

    @Test func severalMessagesInOneRead() {
        let batch = Self.message(Self.RTM_NEWLINK, index: 7) + Self.message(Self.RTM_DELLINK, index: 9)
            + Self.message(Self.RTM_DELLINK, index: 7, attributes: Self.name)
        #expect(Self.scan(batch, index: 7) == Self.deleted)
        #expect(Self.scan(batch, index: 9) == Self.deleted)
        #expect(Self.scan(batch, index: 3) == 0)
    }

    @Test func aTruncatedDeletionIsAnError() {
        errno = 0
        #expect(Self.scan(Self.message(Self.RTM_DELLINK, index: 7, ifinfoLength: 8), index: 7) == -1)
        #expect(errno == EBADMSG)
    }
}
