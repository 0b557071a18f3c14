import Testing
import Crypto
import Protocol
import System
@testable import Supervisor

/// Thousands of corrupted frames, seeded: the decoders never trap, and what they accept is a
/// message that re-encodes validly — to the very bytes it came from, but for a log text, whose
/// control characters the decoder replaces (and which then decodes to itself).
@Suite("Control message mutations")
struct ControlMessageMutationTests {
    typealias Support = ControlMessageSupport

    /// One to three edits of the payload, sometimes of the type (to a neighbour, often a known
    /// type of the same direction) or of the descriptor count.
    static func mutate(_ type: inout UInt16, _ bytes: inout [UInt8], _ descriptors: inout Int, _ random: inout FastRandom) {
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            let at = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<8, using: &random) {
            case 0 where !bytes.isEmpty: bytes[at] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            case 1 where !bytes.isEmpty: bytes[at] = UInt8.random(in: 0...255, using: &random)
            case 2: bytes.insert(UInt8.random(in: 0...255, using: &random), at: at)
            case 3 where !bytes.isEmpty: bytes.remove(at: at)
            case 4: bytes.removeLast(bytes.count - at)
            case 5: type = UInt16(truncatingIfNeeded: Int(type) + Int.random(in: -2...2, using: &random))
            case 6: descriptors = Int.random(in: 0...2, using: &random)
            default: bytes[at...].reverse()
            }
        }
    }

    static func check<M: ControlMessage & Equatable>(_ message: M, _ random: inout FastRandom,
                                                     isLog: (M) -> Bool) throws -> Bool {
        var type = message.type, bytes = try Support.payload(message), descriptors = message.descriptorCount
        mutate(&type, &bytes, &descriptors, &random)
        let frame = Support.frame(type: type, bytes, descriptors: descriptors)
        let decoded: M
        do throws(ControlError) {
            decoded = try M.decode(from: frame)
        } catch {
            guard case .protocolViolation = error else {
                Issue.record("refused as \(error), not as a violation")
                return false
            }
            return false
        }
        let again = try Support.payload(decoded)
        #expect(decoded.type == type && decoded.descriptorCount == descriptors)
        if isLog(decoded) {
            #expect(try M.decode(from: Support.frame(type: type, again)) == decoded)
        } else {
            #expect(again == bytes, "\(decoded)")
        }
        return true
    }

    /// 1,500 mutations of random messages from `make`: some accepted, most refused.
    static func run<M: ControlMessage & Equatable>(seed: UInt64, _ make: (inout FastRandom) -> M, isLog: (M) -> Bool) throws {
        var random = FastRandom(seed: seed)
        var accepted = 0
        for _ in 0..<1500 {
            if try check(make(&random), &random, isLog: isLog) { accepted += 1 }
        }
        #expect(accepted > 50 && accepted < 1450, "both ways exercised: \(accepted) of 1500 accepted")
    }

    @Test(arguments: 0..<4)
    func corruptedSupervisorFramesAreRefusedOrValid(seed: UInt64) throws {
        try Self.run(seed: 0xF00D_0000 + seed, Support.supervisorMessage, isLog: { _ in false })
    }

    @Test(arguments: 0..<4)
    func corruptedDataPlaneFramesAreRefusedOrValid(seed: UInt64) throws {
        try Self.run(seed: 0xBEEF_0000 + seed, Support.dataPlaneMessage, isLog: { if case .log = $0 { true } else { false } })
    }

    /// Random bytes of random lengths under every known type and a few unknown ones.
    @Test func randomFramesNeverTrap() throws {
        var random = FastRandom(seed: 0xABCD)
        for _ in 0..<3000 {
            let type = UInt16.random(in: 0...9, using: &random) + (Bool.random(using: &random) ? 0x100 : 0)
            let bytes = (0..<Int.random(in: 0...120, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            let count = Int.random(in: 0...2, using: &random)
            _ = try? SupervisorMessage.decode(from: Support.frame(type: type, bytes, descriptors: count))
            _ = try? DataPlaneMessage.decode(from: Support.frame(type: type, bytes, descriptors: count))
        }
    }
}
