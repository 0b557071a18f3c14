import Testing
@testable import DataPlane

/// The drop counters as SIGUSR1 and the exit log print them.
@Suite struct CountersTests {
    @Test func reportListsEveryReasonWithZeros() {
        let counters = Counters()
        #expect(counters.report == "noBuffer=0 noRoute=0 noEndpoint=0 queueFull=0 malformed=0 tooLarge=0 "
            + "unknownSession=0 authenticationFailed=0 rejected=0 sendFailed=0")
        #expect(counters.summary == "no drops")
        counters.count(.malformed, 3)
        counters.count(.rejected)
        #expect(counters.report == "noBuffer=0 noRoute=0 noEndpoint=0 queueFull=0 malformed=3 tooLarge=0 "
            + "unknownSession=0 authenticationFailed=0 rejected=1 sendFailed=0")
        #expect(counters.summary == "malformed=3 rejected=1")
    }
}
