import JSON
public import System

/// The one persistent file of router mode: every interface's configuration, in JSON (schema
/// version 1, documented in the README's "State file" section).
/// - Decoding validates everything and takes the file whole or refuses it, naming the field.
/// - Encoding writes the canonical form (fixed key order, two-space indent), so that
///   decode(encode(x)) == x and an unchanged configuration writes identical bytes.
/// - Runtime figures (handshake times, counters, a roamed endpoint) are not part of it.
public struct StateFile: Sendable, Equatable {
    public static let version = 1

    public var interfaces: [InterfaceState] = []

    public init(interfaces: [InterfaceState] = []) { self.interfaces = interfaces }

    /// Parses and validates a file's bytes.
    public static func decode(_ bytes: [UInt8]) throws(StateFileError) -> StateFile {
        let document: JSONDocument
        do {
            document = try JSON.parseDocument(bytes)
        } catch {
            throw .syntax(error)
        }
        return try StateFileDecoder(fields: StateFileFields(document: document)).decode()
    }

    /// Reads, parses and validates the file at `path` (at most JSON's size limit).
    public static func read(_ path: String) throws(StateFileError) -> StateFile {
        let bytes: [UInt8]
        do {
            bytes = try AtomicFile.read(path, limit: JSON.Limits().maxBytes)
        } catch {
            throw .unreadable(path: path, error)
        }
        return try decode(bytes)
    }

    /// The canonical text.
    public func encode() -> String { JSON.encode(StateFileEncoder.encode(self)) }

    /// Replaces the file at `path` durably and atomically, mode 0600.
    public func write(to path: String) throws(Errno) {
        try AtomicFile.write(Array(encode().utf8), to: path)
    }
}
