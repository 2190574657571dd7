#if os(Linux)
import Foundation
import UnlockedMeasurement

extension SeedTable {
    package static let headers = ["engine", "model", "execution", "workers", "start-up", "exchange", "bytes moved",
                          "time @small", "time @large", "speedup @small", "speedup @large", "efficiency", "% bandwidth", "verdict"]

    public var table: TextTable {
        let small = formatCount(Double(plan.workload.smallSize)), large = formatCount(Double(plan.workload.largeSize))
        var headers = Self.headers
        headers[7] = "time @\(small)"
        headers[8] = "time @\(large)"
        headers[9] = "speedup @\(small)"
        headers[10] = "speedup @\(large)"
        let rows = rows.map { row -> [String] in
            func time(_ ns: Double?) -> String { ns.map { $0 == 0 ? "0" : formatSeconds($0 * 1e-9) } ?? "-" }
            func times(_ x: Double?) -> String { x.map { String(format: "%.2f×", $0) } ?? "-" }
            func percent(_ x: Double?) -> String { x.map { String(format: "%.0f%%", $0 * 100) } ?? "-" }
            return [row.profile.name, row.profile.model, row.profile.execution, "\(row.workers)",
                    time(row.startupNanoseconds), row.profile.exchange, row.bytesExchanged.map { $0 == 0 ? "0" : formatBytes($0) } ?? "-",
                    time(row.smallNanoseconds), time(row.largeNanoseconds), times(row.smallSpeedup), times(row.largeSpeedup),
                    percent(row.efficiency), percent(row.ceilingFraction), row.verdict]
        }
        return TextTable(headers: headers, rows: rows, rightAligned: [3, 4, 6, 7, 8, 9, 10, 11, 12])
    }

    /// What the table measured, in one paragraph under it.
    public var legend: String {
        let bytes = plan.workload.largeSize * plan.workload.dtype.byteWidth
        return """
        absdist.sum over \(plan.workload.dtype.rawValue) uniform in [0, 100), centre \(plan.workload.center); small = \(plan.workload.smallSize) elements \
        (the talk's), large = \(plan.workload.largeSize) elements (\(formatBytes(Double(bytes)))). Times are medians. \
        Speedup is over sequential at the same size; efficiency = speedup @large / workers; % bandwidth = throughput @large \
        over stream.sum on the same bytes with the same workers, measured in this run.
        """
    }

    public var rowsJSON: [[String: Any]] {
        rows.map { row in
            var object: [String: Any] = [
                "engine": row.profile.name, "model": row.profile.model, "execution": row.profile.execution,
                "exchange": row.profile.exchange, "workers": row.workers, "verdict": row.verdict, "noisy": row.noisy,
            ]
            object["failure"] = row.failure
            object["startup_ns"] = row.startupNanoseconds
            object["bytes_exchanged"] = row.bytesExchanged
            object["small_median_ns"] = row.smallNanoseconds
            object["large_median_ns"] = row.largeNanoseconds
            object["small_speedup_over_sequential"] = row.smallSpeedup
            object["large_speedup_over_sequential"] = row.largeSpeedup
            object["large_parallel_efficiency"] = row.efficiency
            object["large_bandwidth_ceiling_fraction"] = row.ceilingFraction
            return object
        }
    }

    public var csv: String {
        let header = ["engine", "model", "execution", "exchange", "workers", "startup_ns", "bytes_exchanged", "small_median_ns",
                      "large_median_ns", "small_speedup_over_sequential", "large_speedup_over_sequential",
                      "large_parallel_efficiency", "large_bandwidth_ceiling_fraction", "noisy", "verdict"]
        func ratio(_ x: Double?) -> String { x.map { "\($0)" } ?? "" }
        let lines = rows.map { row -> [String] in
            let head: [String] = [row.profile.name, row.profile.model, row.profile.execution, row.profile.exchange, "\(row.workers)"]
            let times: [String] = [number(row.startupNanoseconds), number(row.bytesExchanged), number(row.smallNanoseconds),
                                   number(row.largeNanoseconds)]
            let ratios: [String] = [ratio(row.smallSpeedup), ratio(row.largeSpeedup), ratio(row.efficiency), ratio(row.ceilingFraction)]
            return head + times + ratios + [row.noisy ? "true" : "false", row.verdict]
        }
        return ([header] + lines).map(csvLine).joined(separator: "\n") + "\n"
    }
}
#endif
