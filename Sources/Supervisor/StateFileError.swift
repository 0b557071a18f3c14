public import JSON
public import System
import Glibc

/// Why a state file was refused, said so that the admin can fix it: a JSON error by line and
/// column; a schema error by the field's path and line, e.g.
/// `interfaces[0].peers[3].allowed_ips[1]: "10.0.0.0/33" is not an address/prefix-length (line 27)`.
public enum StateFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be read (EFBIG: larger than the JSON limit).
    case unreadable(path: String, Errno)
    case syntax(JSONError)
    /// `path` is "" for the top-level object.
    case invalid(path: String, message: String, line: Int?)

    public var description: String {
        switch self {
        case .unreadable(let path, let errno) where errno.code == EFBIG:
            return "\(path): larger than the \(JSON.Limits().maxBytes) bytes a state file may have"
        case .unreadable(let path, let errno):
            return "\(path): \(errno)"
        case .syntax(let error):
            return error.description
        case .invalid(let path, let message, let line):
            let at = line.map { " (line \($0))" } ?? ""
            return (path.isEmpty ? "" : path + ": ") + message + at
        }
    }
}
