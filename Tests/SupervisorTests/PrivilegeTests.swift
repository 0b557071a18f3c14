import Glibc
import Synchronization
import System
import Testing
@testable import Supervisor

/// What can be checked of the privilege primitives without changing the test process: the drop
/// and the lock-down themselves are irreversible, so they run in wgd's hidden self-tests
/// (scripts/integration/t85-privileges.sh).
@Suite("Privileges")
struct PrivilegeTests {
    @Test func rootIsFoundAndRefusedAsARunUser() throws {
        let root = try RunUser.lookup("root")
        #expect(root.uid == 0 && root.gid == 0)
        #expect(throws: PrivilegeError.rootUser("root")) { try Privileges.dropSupervisor(to: root) }
    }

    @Test func aMissingUserIsNamed() {
        #expect(throws: PrivilegeError.noSuchUser("wgd-no-such-user")) { try RunUser.lookup("wgd-no-such-user") }
    }

    /// With a second thread running, the lock-down refuses before it changes anything.
    @Test func theLockDownRefusesAProcessWithThreads() throws {
        let release = try WakePipe()
        let running = ThreadGroup()
        _ = running.enter()
        try Threads.spawn(name: "wgd-test-hold") {
            var poll = PollSet()
            poll.add(release.pollable)
            _ = try? poll.wait(milliseconds: 10_000)
            running.leave()
        }
        defer { release.signal(); running.wait() }
        let before = try ProcessPrivileges.current()
        #expect {
            try Privileges.lockDownDataPlane(expectedParent: getppid())
        } throws: { error in
            if case .notSingleThreaded(let threads)? = error as? PrivilegeError { return threads >= 2 }
            return false
        }
        #expect(try ProcessPrivileges.current() == before)
    }

    @Test func capabilitySetsPrintAsTheKernelDoes() throws {
        #expect(CapabilitySet.netAdmin.description == "0000000000001000")
        let sets = try CapabilityState.current()
        #expect(sets.effective.isSubset(of: sets.permitted))
    }

    @Test func statusLinesAreParsed() throws {
        let status = ProcessStatus(text: "Name:\twgd\nThreads:\t3\nCapEff:\t0000000000001000\nGroups:\t995 \n")
        #expect(status.threads == 3)
        #expect(status["CapEff"] == "0000000000001000")
        #expect(status["Groups"] == "995 ")
        #expect(try ProcessStatus.read().threads ?? 0 >= 1)
    }

    /// Every name in the allow-list is a system call libseccomp knows (a typo would be an
    /// error), and the calls the data plane must never make are not allowed.
    @Test func theAllowListBuilds() throws {
        let rules = DataPlaneFilter.rules(ownPID: getpid())
        let summary = try DataPlaneFilter.add(rules, to: SeccompFilter())
        #expect(summary.rules > 50)
        let allowed = Set(rules.filter { $0.verdict == .allow }.map(\.name))
        for never in ["open", "openat", "socket", "connect", "bind", "listen", "accept4", "execve", "fork", "vfork",
                      "ptrace", "process_vm_writev", "kill", "inotify_init1", "setuid", "capset", "mount", "bpf"] {
            #expect(!allowed.contains(never), "\(never)")
        }
        #expect(rules.filter { $0.name == "openat" || $0.name == "socket" }.allSatisfy { $0.verdict == .fail(EPERM) })
    }
}
