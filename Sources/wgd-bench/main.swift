import Glibc

// wgd-bench: release-built benchmark behind scripts/bench. It prints plain lines of figures and
// never asserts; the figures are for people (and for comparing runs), not for pass/fail.
//
//     wgd-bench [crypto|all|…] [--seconds S]
//
// ┌─ ADDING A BENCHMARK ───────────────────────────────────────────────────────────────────────┐
// │ Write `let fooBenchmark = Benchmark(name: "foo", summary: …) { options in … }` in its own   │
// │ file (FooBench.swift), add it to `benchmarks` below, and add the name to scripts/bench's    │
// │ usage line. `all` runs every entry in table order. Helpers: Timing.swift (clock, batching,  │
// │ formatting), Alloc.swift (heap allocation counter).                                         │
// └────────────────────────────────────────────────────────────────────────────────────────────┘
let benchmarks: [Benchmark] = [
    cryptoBenchmark,
    handshakeBenchmark,
    allowedIPsBenchmark,
]

func usage() -> String {
    var text = "usage: wgd-bench [all"
    for benchmark in benchmarks { text += "|" + benchmark.name }
    text += "] [--seconds S]\n"
    text += "  all         every benchmark below, in order (the default)\n"
    for benchmark in benchmarks {
        text += "  " + benchmark.name + String(repeating: " ", count: max(1, 12 - benchmark.name.count)) + benchmark.summary + "\n"
    }
    text += "  --seconds S time for each measurement (default \(Options.defaultSeconds))\n"
    return text
}

let arguments = Array(CommandLine.arguments.dropFirst())
var options = Options()
var selected: [Benchmark] = []
var index = 0
while index < arguments.count {
    let argument = arguments[index]
    index += 1
    switch argument {
    case "-h", "--help", "help":
        writeOut(usage())
        exit(0)
    case "--seconds":
        guard index < arguments.count, let seconds = Double(arguments[index]), seconds > 0, seconds.isFinite else {
            writeError("wgd-bench: --seconds needs a positive number\n" + usage())
            exit(2)
        }
        options.seconds = seconds
        index += 1
    case "all":
        selected += benchmarks
    default:
        guard let benchmark = benchmarks.first(where: { $0.name == argument }) else {
            writeError("wgd-bench: unknown benchmark '\(argument)'\n" + usage())
            exit(2)
        }
        selected.append(benchmark)
    }
}
if selected.isEmpty { selected = benchmarks }

for benchmark in selected {
    benchmark.run(options)
}
