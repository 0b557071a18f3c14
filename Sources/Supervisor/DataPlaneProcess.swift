import Crypto
import DataPlane
import Glibc
import Protocol
import Synchronization
public import System

/// Router mode's data plane, as a process of its own (`wgd --data-plane IFNAME`, started by the
/// supervisor with the control channel as descriptor 3). It opens nothing: the TUN and the UDP
/// sockets come over the channel, and so does every change of configuration. Its only output is
/// the channel: replies, figures, log lines, and word that the interface is gone.
///
/// The order of messages it expects: `sockets` (bound for it), `start` (with the TUN), then any.
/// A message it cannot take ends it (status 2): the supervisor starts a fresh one.
public enum DataPlaneProcess {
    public static let channelDescriptor: Int32 = 3

    public static func run(interface name: String, lockDown: () throws -> Void) -> Int32 {
        let channel: ControlSocket
        do {
            channel = try ControlSocket(inheriting: channelDescriptor)
            try lockDown()
        } catch {
            Log.standardError("wgd data plane (\(name)): cannot start: \(error)")
            return 2
        }
        return DataPlaneServer(name: name, channel: channel).serve()
    }
}

/// The data plane's side of the channel.
final class DataPlaneServer: Sendable {
    private let name: String
    private let channel: ControlSocket
    /// Frames from several threads (replies, log lines, the TUN reader's word) must not interleave.
    private let sending = Mutex(())
    private let bind = InheritedBind()
    private let running = Mutex<(interface: Interface, tunnel: InheritedTunnel)?>(nil)
    /// Set by a `start` that says the data plane was restarted: the first configuration is
    /// followed by a handshake with every peer.
    private let greet = Atomic(false)

    init(name: String, channel: ControlSocket) {
        self.name = name
        self.channel = channel
    }

    func send(_ message: DataPlaneMessage) {
        sending.withLock { _ in try? message.encode(to: channel) }
    }

    /// Serves until `stop` or the supervisor's end; the exit status.
    func serve() -> Int32 {
        while true {
            var frame: ControlFrame
            do {
                frame = try SupervisorMessage.receive(from: channel)
            } catch .closed {
                return stop(0)  // the supervisor is gone: so are we
            } catch {
                Log.standardError("wgd data plane (\(name)): \(error)")
                return stop(2)
            }
            let message: SupervisorMessage
            do {
                message = try SupervisorMessage.decode(from: frame)
            } catch {
                Log.standardError("wgd data plane (\(name)): \(error)")
                return stop(2)
            }
            if case .stop = message { return stop(0) }
            if let failure = handle(message, descriptors: &frame.descriptors) {
                Log.standardError("wgd data plane (\(name)): \(failure)")
                return stop(2)
            }
        }
    }

    /// nil, or why the process cannot go on.
    private func handle(_ message: SupervisorMessage, descriptors: inout ReceivedDescriptors) -> String? {
        switch message {
        case .sockets(let port, let hasV6):
            guard let v4 = descriptors.take(0) else { return "sockets without their descriptor" }
            bind.hand(v4: v4, v6: hasV6 ? descriptors.take(1) : nil, port: port)
        case .start(let options):
            guard let tun = descriptors.take(0) else { return "start without the TUN descriptor" }
            return start(options, tun: tun)
        case .configure(let id, let change):
            configure(id, change)
        case .mtu(let mtu):
            running.withLock { $0?.tunnel.mtuChanged(to: Int(mtu)) }
        case .status(let id):
            send(.status(id: id, peers: peerRecords()))
        case .releaseSockets:
            running.withLock { $0?.interface.releaseSockets() }
        case .stop:
            break
        }
        return nil
    }

    private func start(_ options: StartOptions, tun: consuming FileDescriptor) -> String? {
        guard running.withLock({ $0 == nil }) else { return "a second start" }
        let tunnel = InheritedTunnel(name: options.interface, descriptor: tun, mtu: options.mtu, udpOffload: options.udpOffload)
        var interfaceOptions = options.interfaceOptions
        interfaceOptions.log = { [weak self] in self?.send(.log(.error, $0)) }
        do {
            let interface = try Interface(tunnel: tunnel, bind: bind, options: interfaceOptions)
            interface.onInterfaceGone { [weak self] in self?.send(.interfaceGone) }
            try interface.start()
            running.withLock { $0 = (interface, tunnel) }
            greet.store(options.restarted, ordering: .relaxed)
        } catch {
            return "cannot start the interface: \(error)"
        }
        send(.ready)
        return nil
    }

    private func configure(_ id: UInt64, _ change: ConfigChange) {
        guard let interface = running.withLock({ $0?.interface }) else {
            send(.applied(id: id, errno: ENODEV))
            return
        }
        var config = interface.configuration
        change.apply(to: &config)
        do {
            try interface.apply(config)
            send(.applied(id: id, errno: 0))
            if greet.exchange(false, ordering: .relaxed) { interface.greetPeers() }
        } catch {
            send(.applied(id: id, errno: error.code))
        }
    }

    private func peerRecords() -> [PeerRecord] {
        guard let interface = running.withLock({ $0?.interface }) else { return [] }
        return interface.configuration.peerKeys.compactMap { key in
            interface.status(of: key).map { PeerRecord(publicKey: key, status: $0) }
        }
    }

    private func stop(_ status: Int32) -> Int32 {
        running.withLock { $0 }?.interface.stop()
        return status
    }
}
