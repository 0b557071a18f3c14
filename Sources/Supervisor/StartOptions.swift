public import DataPlane
import Protocol
import System

/// How the supervisor asks a data plane to run its interface: the `start` message's fields.
/// The ranges are the data plane's: what the state file and the command line allow.
public struct StartOptions: Sendable, Equatable {
    public var interface: String
    public var cpus: [Int32]
    /// Everyday packet buffers (InterfaceOptions.buffers).
    public var buffers: Int
    /// Buffers for MTUs above 1500 (InterfaceOptions.largeBuffers).
    public var largeBuffers: Int
    public var mtu: Int
    public var logLevel: LogLevel
    /// A data plane started again after one died: it greets its peers with a handshake at once,
    /// since they still hold sessions it lost and would otherwise wait out their timers.
    public var restarted = false
    /// The TUN took USO (TunDevice.udpOffload): the data plane, which cannot ask, may write UDP
    /// super-packets to it.
    public var udpOffload = false

    public static let cpuCounts = 1...1024
    public static let bufferCounts = 64...1_048_576
    public static let largeBufferCounts = 8...65_536

    public init(interface: String, cpus: [Int32], buffers: Int, largeBuffers: Int, mtu: Int, logLevel: LogLevel) {
        self.interface = interface
        self.cpus = cpus
        self.buffers = buffers
        self.largeBuffers = largeBuffers
        self.mtu = mtu
        self.logLevel = logLevel
    }

    /// The data plane's options with these fields set (the rest at their defaults).
    public var interfaceOptions: InterfaceOptions {
        var options = InterfaceOptions()
        options.cpus = cpus
        options.buffers = buffers
        options.largeBuffers = largeBuffers
        options.mtu = mtu
        return options
    }

    func validate() throws(WireError) {
        guard InterfaceName.isValid(interface) else { throw WireError("'\(interface.prefix(32))' is not an interface name") }
        guard Self.cpuCounts.contains(cpus.count) else { throw WireError("\(cpus.count) CPUs, not \(Self.cpuCounts)") }
        var seen = Set<Int32>()
        for cpu in cpus {
            guard StateFileDecoder.cpuRange.contains(cpu) else { throw WireError("CPU \(cpu) is not in \(StateFileDecoder.cpuRange)") }
            guard seen.insert(cpu).inserted else { throw WireError("CPU \(cpu) is listed twice") }
        }
        try Self.check(buffers, Self.bufferCounts, "buffers")
        try Self.check(largeBuffers, Self.largeBufferCounts, "large buffers")
        try Self.check(mtu, StateFileDecoder.mtuRange, "MTU")
    }

    static func check(_ value: Int, _ range: ClosedRange<Int>, _ field: String) throws(WireError) {
        guard range.contains(value) else { throw WireError("\(field) \(value) is not in \(range)") }
    }

    // MARK: wire form: name length u8, name, log level u8, restarted u8, UDP offload u8, mtu u32, buffers u32,
    // large buffers u32, CPU count u16, CPUs i32 each

    static let maxEncodedCount = 1 + InterfaceName.maxLength + 1 + 1 + 1 + 4 + 4 + 4 + 2 + 4 * cpuCounts.upperBound

    var encodedCount: Int { 1 + interface.utf8.count + 1 + 1 + 1 + 4 + 4 + 4 + 2 + 4 * cpus.count }

    /// Only for validated options (the fields fit their wire widths).
    func write(to writer: inout WireWriter) {
        writer.write(UInt8(interface.utf8.count))
        for byte in interface.utf8 { writer.write(byte) }
        writer.write(UInt8(logLevel.rawValue))
        writer.write(UInt8(restarted ? 1 : 0))
        writer.write(UInt8(udpOffload ? 1 : 0))
        writer.write(UInt32(mtu))
        writer.write(UInt32(buffers))
        writer.write(UInt32(largeBuffers))
        writer.write(UInt16(cpus.count))
        for cpu in cpus { writer.write(cpu) }
    }

    static func read(from reader: inout WireReader) throws(WireError) -> StartOptions {
        let nameLength = Int(try reader.integer(UInt8.self))
        guard let name = String(validating: try reader.bytes(nameLength), as: UTF8.self) else {
            throw WireError("the interface name is not UTF-8")
        }
        let level = try reader.integer(UInt8.self)
        guard let logLevel = LogLevel(rawValue: Int(level)) else { throw WireError("log level \(level) is not 0, 1 or 2") }
        let restarted = try reader.bool("restarted")
        let udpOffload = try reader.bool("UDP offload")
        let mtu = Int(try reader.integer(UInt32.self))
        let buffers = Int(try reader.integer(UInt32.self))
        let largeBuffers = Int(try reader.integer(UInt32.self))
        let count = Int(try reader.integer(UInt16.self))
        guard count * 4 == reader.remaining else { throw WireError("\(count) CPUs in \(reader.remaining) bytes") }
        var cpus: [Int32] = []
        cpus.reserveCapacity(count)
        for _ in 0..<count { cpus.append(try reader.integer()) }
        var options = StartOptions(interface: name, cpus: cpus, buffers: buffers, largeBuffers: largeBuffers, mtu: mtu, logLevel: logLevel)
        options.restarted = restarted
        options.udpOffload = udpOffload
        return options
    }
}
