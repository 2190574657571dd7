import ArgumentParser
import Foundation
import Glibc
import Unlocked

enum OutputFormat: String, EnumerableFlag {
    case table, markdown, csv, json

    static func help(for value: OutputFormat) -> ArgumentHelp? {
        switch value {
        case .table: "Print an aligned table (the default)."
        case .markdown: "Print a Markdown table."
        case .csv: "Print CSV, one line per row, units in the header."
        case .json: "Print one JSON document: context, parameters, raw samples and statistics (README: JSON output)."
        }
    }
}

/// How `bench` and `compare` print what they measured.
struct OutputOptions: ParsableArguments {
    @Flag var format: OutputFormat = .table

    @Option(help: ArgumentHelp("Also write an SVG chart of the results (bench: speedup and throughput; the table: time per engine).", valueName: "file.svg"))
    var plot: String?
}

/// The width of the terminal `descriptor` writes to: `COLUMNS` when set,
/// else the terminal's own when it is one, else nil.
func terminalColumns(_ descriptor: Int32 = STDOUT_FILENO) -> Int? {
    if let text = ProcessInfo.processInfo.environment["COLUMNS"], let columns = Int(text), columns > 0 { return columns }
    var size = winsize()
    guard isatty(descriptor) == 1, ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
    return Int(size.ws_col)
}

extension OutputOptions {
    /// Writes the chart atomically (a temporary file renamed into place).
    func writePlot(_ svg: String) throws(UnlockedError) {
        guard let plot else { return }
        do {
            try Data(svg.utf8).write(to: URL(fileURLWithPath: plot), options: .atomic)
        } catch {
            throw .usage("--plot \(plot): cannot write the file: \(error.localizedDescription)")
        }
    }
}

/// A progress bar on stderr, drawn only when stderr is a terminal so logs
/// and pipes get nothing. Redrawn at most ten times a second. Main thread only.
final class TerminalProgress {
    let label: String
    let enabled = isatty(STDERR_FILENO) == 1
    let start = monotonicNanoseconds()
    var lastDraw: UInt64 = 0

    init(label: String) { self.label = label }

    func update(_ progress: SweepProgress) {
        guard enabled else { return }
        let now = monotonicNanoseconds()
        guard now - lastDraw > 100_000_000 || progress.done == progress.planned else { return }
        lastDraw = now
        // Cut to the terminal, or a wrapped line would not redraw in place.
        let line = progressLine(progress, elapsedSeconds: Double(now - start) * 1e-9, label: label)
        write("\r" + line.prefix(max((terminalColumns(STDERR_FILENO) ?? 80) - 1, 10)) + "\u{1B}[K")
    }

    /// Clears the bar so the report starts on a clean line.
    func finish() {
        if enabled { write("\r\u{1B}[K") }
    }

    private func write(_ text: String) {
        _ = text.withCString { Glibc.write(STDERR_FILENO, $0, strlen($0)) }
    }
}
