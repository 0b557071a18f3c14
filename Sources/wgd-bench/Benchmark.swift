import Glibc

/// One entry of the table in main.swift: a subcommand that measures and prints.
struct Benchmark: Sendable {
    let name: String
    /// One line for the usage text.
    let summary: String
    let run: @Sendable (Options) -> Void
}

struct Options: Sendable {
    static let defaultSeconds = 1.0
    /// Timed duration of each measurement (warm-up and untimed setup come on top).
    var seconds = Options.defaultSeconds
}

/// One line on stdout, flushed at once so that progress shows while the next figure is measured.
func report(_ line: String) {
    writeOut(line + "\n")
}

func writeOut(_ text: String) { write(fd: STDOUT_FILENO, text) }
func writeError(_ text: String) { write(fd: STDERR_FILENO, text) }

/// Straight to the file descriptor: no stdio buffer to flush, and no access to the C globals
/// `stdout`/`stderr`, which Swift 6 rejects as shared mutable state.
private func write(fd: Int32, _ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n > 0 { done += n } else if n < 0 && errno == EINTR { continue } else { return }
        }
    }
}
