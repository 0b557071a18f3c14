/// Why the control channel could not deliver a frame. After any of them but `.closed` the
/// stream may be mid-frame: the channel is unusable and both ends should close it.
public enum ControlError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The other end closed the stream cleanly, between two frames.
    case closed
    /// The stream ended inside a frame (header or payload).
    case truncated
    /// The other end sent something the protocol does not allow; the reason says what.
    case protocolViolation(String)
    /// A system call failed (EAGAIN: a send or receive timeout expired).
    case system(Errno)

    public var description: String {
        switch self {
        case .closed: "control channel closed"
        case .truncated: "control channel closed inside a frame"
        case .protocolViolation(let reason): "control channel protocol violation: \(reason)"
        case .system(let errno): "control channel: \(errno)"
        }
    }
}
