// The fuzz harnesses' entry points (scripts/fuzz, README "Fuzzing"). One executable holds every
// harness; WGD_FUZZ_TARGET names the one to run.
//
// Built by scripts/fuzz with -sanitize=fuzzer,address -D WGD_FUZZ: main hands over to libFuzzer's
// driver, which calls LLVMFuzzerTestOneInput. (SwiftPM links an executable's main as its module's
// entry point, wgd_fuzz_main, so libFuzzer's own main is never linked in; LLVMFuzzerRunDriver is
// the same driver behind it.) A normal `swift build` has no libFuzzer, so the same target
// gets a small main that replays the files named on its command line through the harness: the
// target always compiles, and a crash file can be replayed without the fuzzer.

#if WGD_FUZZ
/// The harness, chosen once from the environment (libFuzzer calls us millions of times).
nonisolated(unsafe) private var selected: Harness?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    if selected == nil { selected = Harness.fromEnvironment() }
    let input = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    selected!.run(input)
    return 0
}
@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                       _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("wgd_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc, argv = argv
    return runDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) }
}
#else
@main
struct Replay {
    static func main() {
        let harness = Harness.fromEnvironment()
        var count = 0
        for path in CommandLine.arguments.dropFirst() {
            guard let bytes = readFile(path) else { fatal("cannot read \(path)") }
            harness.run(bytes)
            count += 1
        }
        print("\(harness.name): \(count) inputs replayed")
    }
}
#endif
