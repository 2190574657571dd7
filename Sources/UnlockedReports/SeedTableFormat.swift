#if os(Linux)
import Foundation
import UnlockedMeasurement

/// How `unlocked` lays out its table: within `width` characters (columns cut
/// into parts that each repeat the engine, verdicts on their own lines
/// below), or `wide`: one line per engine with every column and its verdict.
public enum SeedTableLayout: Sendable, Equatable {
    case width(Int)
    case wide

    /// What fits a terminal `columns` wide when there is one: never wider
    /// than it, nor than 100 characters.
    public static func fitting(terminalColumns columns: Int?) -> SeedTableLayout {
        .width(min(columns ?? defaultWidth, defaultWidth))
    }

    public static let defaultWidth = 100
}

extension SeedTable {
    private var smallName: String { formatCount(Double(plan.workload.smallSize)) }
    private var largeName: String { formatCount(Double(plan.workload.largeSize)) }

    /// The talk's columns: what each engine is and what it starts and exchanges.
    private var modelColumns: [(header: String, cells: [String], right: Bool)] {
        [
            ("model", rows.map(\.profile.model), false),
            ("execution", rows.map(\.profile.execution), false),
            ("start-up", rows.map { row in
                row.startup.map { formatTime($0.median * 1e-9) + String(format: " ±%.0f%%", $0.relativeSpread * 100) } ?? "-"
            }, true),
            ("started\nper job", rows.map { $0.jobStartupNanoseconds.map { formatTime($0 * 1e-9) } ?? "-" }, true),
            ("exchange", rows.map(\.profile.exchange), false),
            ("copied\nper job", rows.map { row in row.bytesExchanged.map { $0 == 0 ? "0" : formatBytes($0) } ?? "-" }, true),
        ]
    }

    /// The measured columns; an imprecise median is marked `?`.
    private var measuredColumns: [(header: String, cells: [String], right: Bool)] {
        func time(_ statistics: SampleStatistics?, precise: Bool) -> String {
            statistics.map { formatTime($0.median * 1e-9) + (precise ? "" : "?") } ?? "-"
        }
        func times(_ x: Double?) -> String { x.map(formatRatio) ?? "-" }
        func percent(_ x: Double?) -> String { x.map { String(format: "%.0f%%", $0 * 100) } ?? "-" }
        return [
            ("workers", rows.map { "\($0.workers)" }, true),
            ("steady\n@\(smallName)", rows.map { time($0.small, precise: $0.smallPrecise) }, true),
            ("wake-up\n@\(smallName)", rows.map { time($0.smallWake, precise: true) }, true),
            ("time\n@\(largeName)", rows.map { time($0.large, precise: $0.largePrecise) }, true),
            ("speedup\n@\(smallName)", rows.map { times($0.smallSpeedup) }, true),
            ("speedup\n@\(largeName)", rows.map { times($0.largeSpeedup) }, true),
            ("efficiency", rows.map { percent($0.efficiency) }, true),
            ("% of\nbandwidth", rows.map { percent($0.ceilingFraction) }, true),
        ]
    }

    private func table(_ columns: [(header: String, cells: [String], right: Bool)]) -> TextTable {
        let all = [(header: "engine", cells: rows.map(\.profile.name), right: false)] + columns
        return TextTable(headers: all.map(\.header), rows: rows.indices.map { row in all.map { $0.cells[row] } },
                         rightAligned: Set(all.indices.filter { all[$0].right }))
    }

    /// Every column in one table, the verdict last (for `--wide` and Markdown).
    public var table: TextTable {
        table(modelColumns + measuredColumns + [(header: "verdict", cells: rows.map(verdict), right: false)])
    }

    /// The table as `layout` asks, then the verdicts, the imprecise medians
    /// with their intervals, and the legend.
    public func text(layout: SeedTableLayout) -> String {
        switch layout {
        case .wide:
            return ([table.text] + impreciseNotes + [legend]).joined(separator: "\n\n")
        case .width(let width):
            let parts = [table(modelColumns), table(measuredColumns)].flatMap { $0.parts(fitting: width) }
            let nameWidth = rows.map(\.profile.name.count).max() ?? 0
            // The name, then the verdict wrapped in a column of its own.
            let verdicts = rows.map { row in
                let lines = wrapped(verdict(row), width: width - nameWidth - 2).split(separator: "\n")
                return lines.enumerated().map { index, line in
                    (index == 0 ? row.profile.name : "").padding(toLength: nameWidth + 2, withPad: " ", startingAt: 0) + line
                }.joined(separator: "\n")
            }.joined(separator: "\n")
            return (parts.map(\.text) + [verdicts] + impreciseNotes.map { wrapped($0, width: width, indent: 2) }
                    + [wrapped(legend, width: width)]).joined(separator: "\n\n")
        }
    }

    /// The medians whose 95% interval is wider than the target, once each,
    /// with the interval (empty when every median met it).
    public var impreciseNotes: [String] {
        var lines: [String] = []
        for row in rows {
            for (statistics, precise, size) in [(row.small, row.smallPrecise, smallName), (row.large, row.largePrecise, largeName)] {
                guard let statistics, !precise else { continue }
                let reach: String
                if let interval = statistics.medianInterval95 {
                    reach = "95% interval \(formatTime(interval.lowerBound * 1e-9))–\(formatTime(interval.upperBound * 1e-9))"
                        + String(format: " (−%.0f%%, +%.0f%%)", (1 - interval.lowerBound / statistics.median) * 100,
                                 (interval.upperBound / statistics.median - 1) * 100)
                } else {
                    reach = "too few repetitions for a 95% interval"
                }
                lines.append("\(row.profile.name) @\(size): \(formatTime(statistics.median * 1e-9)), \(reach), "
                             + "\(statistics.count) sample\(statistics.count == 1 ? "" : "s")")
            }
        }
        guard !lines.isEmpty else { return [] }
        return [(["? imprecise: the time budget ran out before these medians were within ±\(Int((target * 100).rounded()))% "
                  + "at 95% confidence (--max-time gives more time):"] + lines.map { "  " + $0 }).joined(separator: "\n")]
    }

    /// What one engine's figures say, in plain words.
    public func verdict(_ row: SeedTableRow) -> String {
        if let failure = row.failure { return "could not run: \(failure)" }
        if row.profile.name == "sequential" { return "the baseline: one core, nothing started, nothing exchanged." }
        var sentences: [String] = []
        if let speedup = row.smallSpeedup {
            var small = "At \(smallName), jobs back to back: " + comparedToLoop(speedup)
            if let wake = row.smallWake, row.profile.persistentWorkers {
                let loop = rows.first { $0.profile.name == "sequential" }?.smallWake
                small += "; after idling, a job that wakes its workers takes \(formatTime(wake.median * 1e-9))"
                    + (loop.map { " (the plain loop after the same idling: \(formatTime($0.median * 1e-9)))" } ?? "")
            }
            if let perJob = row.jobStartupNanoseconds {
                small += "; every job starts its threads anew (\(formatTime(perJob * 1e-9)))"
            }
            sentences.append(small + ".")
        }
        if let speedup = row.largeSpeedup, let efficiency = row.efficiency {
            var large = "At \(largeName): "
            if let fraction = row.ceilingFraction, fraction >= 0.9 {
                large += formatRatio(speedup) + String(format: " the loop, %.0f%% of memory bandwidth", fraction * 100)
            } else if row.workers > 1 && efficiency >= 0.8 {
                large += "scales (\(formatRatio(speedup)), " + String(format: "%.0f%% efficiency)", efficiency * 100)
            } else if row.workers > 1 && speedup >= 1.2 {
                large += "scales poorly (\(formatRatio(speedup)), " + String(format: "%.0f%% efficiency)", efficiency * 100)
            } else {
                large += "does not scale (\(formatRatio(speedup)): no faster than one core)"
            }
            if let bytes = row.bytesExchanged, bytes > 0 { large += ", copying \(formatBytes(bytes)) between processes per job" }
            sentences.append(large + ".")
        }
        return sentences.joined(separator: " ")
    }

    private func comparedToLoop(_ speedup: Double) -> String {
        speedup < 0.95 ? formatRatio(1 / speedup) + " slower than the plain loop"
            : speedup > 1.05 ? formatRatio(speedup) + " faster than the plain loop" : "as fast as the plain loop"
    }

    /// What the table measured, in one paragraph under it.
    public var legend: String {
        let workload = plan.workload
        let bytes = workload.largeSize * workload.dtype.byteWidth
        let startups = rows.compactMap { $0.startup?.count }.max() ?? 0
        return """
        absdist.sum over \(workload.dtype.rawValue) uniform in [0, 100), centre \(workload.center), \(plan.workers) workers \
        (sequential: 1); \(smallName) = \(workload.smallSize) elements (the talk's), \(largeName) = \(workload.largeSize) \
        elements (\(formatBytes(Double(bytes)))). Times are medians, within ±\(Int((target * 100).rounded()))% at 95% \
        confidence unless marked ?. steady: jobs back to back, workers awake (as OpenMP is timed); wake-up: one job \
        arriving after 1 ms idle, workers parked. start-up: creating the engine until its workers are ready, median \
        ± spread (MAD/median) of up to \(startups) fresh engines; started per job: threads a job creates. Speedup is \
        over sequential at the same size (steady at \(smallName)); efficiency = speedup @\(largeName) / workers; % of \
        bandwidth = throughput @\(largeName) over stream.sum's on the same bytes with the same workers, in this run.
        """
    }

    public var markdown: String {
        table.markdown + "\n\n" + rows.map { "- **\($0.profile.name)**: \(verdict($0))" }.joined(separator: "\n")
            + (impreciseNotes.isEmpty ? "" : "\n\n" + impreciseNotes.joined(separator: "\n")) + "\n\n" + legend
    }

    /// One object per engine (`unlocked --json`'s `seed_table`); README "JSON output".
    public var rowsJSON: [[String: Any]] {
        rows.map { row in
            var object: [String: Any] = [
                "engine": row.profile.name, "model": row.profile.model, "execution": row.profile.execution,
                "exchange": row.profile.exchange, "workers": row.workers, "verdict": verdict(row),
                "small_precise": row.smallPrecise, "large_precise": row.largePrecise,
            ]
            object["failure"] = row.failure
            object["startup_median_ns"] = row.startup?.median
            object["startup_spread_mad_over_median"] = row.startup?.relativeSpread
            object["startup_reps"] = row.startup?.count
            object["job_startup_median_ns"] = row.jobStartupNanoseconds
            object["bytes_exchanged"] = row.bytesExchanged
            object["small_steady_median_ns"] = row.small?.median
            object["small_steady_ci95_ns"] = row.small?.medianInterval95.map { [$0.lowerBound, $0.upperBound] }
            object["small_wake_median_ns"] = row.smallWake?.median
            object["small_wake_ci95_ns"] = row.smallWake?.medianInterval95.map { [$0.lowerBound, $0.upperBound] }
            object["large_median_ns"] = row.large?.median
            object["large_ci95_ns"] = row.large?.medianInterval95.map { [$0.lowerBound, $0.upperBound] }
            object["small_speedup_over_sequential"] = row.smallSpeedup
            object["large_speedup_over_sequential"] = row.largeSpeedup
            object["large_parallel_efficiency"] = row.efficiency
            object["large_bandwidth_ceiling_fraction"] = row.ceilingFraction
            return object
        }
    }

    public static let csvHeader = [
        "engine", "model", "execution", "exchange", "workers", "startup_median_ns", "startup_spread_mad_over_median",
        "job_startup_median_ns", "bytes_exchanged", "small_steady_median_ns", "small_steady_ci95_low_ns",
        "small_steady_ci95_high_ns", "small_wake_median_ns", "large_median_ns", "large_ci95_low_ns", "large_ci95_high_ns",
        "small_speedup_over_sequential", "large_speedup_over_sequential", "large_parallel_efficiency",
        "large_bandwidth_ceiling_fraction", "small_precise", "large_precise", "verdict",
    ]

    public var csv: String {
        func ratio(_ x: Double?) -> String { x.map { "\($0)" } ?? "" }
        let lines = rows.map { row -> [String] in
            let head = [row.profile.name, row.profile.model, row.profile.execution, row.profile.exchange, "\(row.workers)"]
            let startup = [number(row.startup?.median), ratio(row.startup?.relativeSpread), number(row.jobStartupNanoseconds),
                           number(row.bytesExchanged)]
            let small = [number(row.small?.median), number(row.small?.medianInterval95?.lowerBound),
                         number(row.small?.medianInterval95?.upperBound), number(row.smallWake?.median)]
            let large = [number(row.large?.median), number(row.large?.medianInterval95?.lowerBound),
                         number(row.large?.medianInterval95?.upperBound)]
            let ratios = [ratio(row.smallSpeedup), ratio(row.largeSpeedup), ratio(row.efficiency), ratio(row.ceilingFraction)]
            return head + startup + small + large + ratios + ["\(row.smallPrecise)", "\(row.largePrecise)", verdict(row)]
        }
        return ([Self.csvHeader] + lines).map(csvLine).joined(separator: "\n") + "\n"
    }
}

/// A ratio in three significant digits: 0.96×, 13.2×, 2570×.
public func formatRatio(_ ratio: Double) -> String {
    String(format: ratio >= 99.95 ? "%.0f×" : ratio >= 9.995 ? "%.1f×" : "%.2f×", ratio)
}

/// A duration in three significant digits: 6.52 µs, 38.1 µs, 652 µs, 1.53 s.
public func formatTime(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds > 0 else { return seconds == 0 ? "0" : "-" }
    let (value, unit): (Double, String) = switch seconds {
    case ..<1e-6: (seconds * 1e9, "ns")
    case ..<1e-3: (seconds * 1e6, "µs")
    case ..<1: (seconds * 1e3, "ms")
    default: (seconds, "s")
    }
    let digits = value >= 99.95 ? 0 : value >= 9.995 ? 1 : 2
    return String(format: "%.\(digits)f \(unit)", value)
}
#endif
