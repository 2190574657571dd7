#if os(Linux)
import Foundation
import Unlocked

extension ClusterRunReport {
    public static let schema = "unlocked-run-ranks/1"

    /// The human report rank 0 prints.
    public var text: String {
        let statistics = job
        let lengths = ranks.map(\.elements)
        var lines = [
            "kernel      \(spec.kernel.name) \(spec.dtype.rawValue) (\(spec.kernel.plugin.name), \(report.isa.rawValue))",
            "job         \(ranks.count) rank\(ranks.count == 1 ? "" : "s") on \(hosts.count) host\(hosts.count == 1 ? "" : "s") "
                + "(\(launch.launcher?.rawValue ?? "no launcher"), \(threadLevel))",
            "size        \(totalElements) elements, \(lengths.min()!)\(lengths.min() == lengths.max() ? "" : "–\(lengths.max()!)") per rank, "
                + "\(formatBytes(Double(bytesPerRep))) per repetition",
            "result      \(value)",
            "time        median \(formatSeconds(statistics.median * 1e-9))  min \(formatSeconds(statistics.min * 1e-9))  "
                + "max \(formatSeconds(statistics.max * 1e-9))  (\(statistics.count) reps, \(spec.warmup) warm-up; "
                + "the slowest rank, kernel and reduction)"
                + (statistics.isNoisy ? String(format: "  NOISY: MAD/median %.1f%%", statistics.relativeSpread * 100) : ""),
            "throughput  \(formatRate(elementsPerSecond)) elements/s, \(formatBytes(bytesPerSecond))/s",
            "reduction   median \(formatSeconds(median(reductionNanoseconds) * 1e-9)) for the last rank's kernel to the job's value",
            "skew        median \(formatSeconds(median(skewNanoseconds) * 1e-9)) between the fastest and slowest rank's kernel"
                + String(format: " (%.1f%% of the slowest)", 100 * median(skewNanoseconds) / max(median(slowestComputeNanoseconds), 1)),
            "launch      joining MPI: median \(formatSeconds(median(ranks.map(\.joinNanoseconds)) * 1e-9)), "
                + "max \(formatSeconds((ranks.map(\.joinNanoseconds).max() ?? 0) * 1e-9))"
                + (ranks.compactMap(\.readyAfterStartNanoseconds).max().map { "; process start to joined: max \(formatSeconds($0 * 1e-9))" } ?? ""),
        ]
        if let (input, output) = spec.files {
            lines.append("input       \(input.path) (\(input.elementType.rawValue), shape \(input.shape))")
            if let output { lines.append("output      \(output)") }
        }
        lines.append("")
        lines.append(rankTable.text)
        lines += warnings.map { "warning     \($0)" }
        for record in ranks {
            for outcome in record.memory where !outcome.applied {
                lines.append("warning     rank \(record.rank): memory \(outcome.requested) NOT applied" + (outcome.note.map { " (\($0))" } ?? ""))
            }
        }
        // PMIx's own wiring (server URIs, store paths) is left to --json.
        let shown = launch.variables.keys.filter { !$0.hasPrefix("PMIX_") || ["PMIX_RANK", "PMIX_NAMESPACE", "PMIX_VERSION"].contains($0) }
        lines += shown.sorted().map { "env         \($0)=\(launch.variables[$0]!)" }
        return lines.joined(separator: "\n")
    }

    /// One row per rank: where it ran, its elements, its workers' CPUs and its times.
    public var rankTable: TextTable {
        TextTable(headers: ["rank", "host", "local", "launcher CPUs", "planned on", "elements", "engine",
                            "workers planned→observed CPU", "compute", "reduce", "join"],
                  rows: ranks.map { record in
                      [String(record.rank), record.host, "\(record.localRank)/\(record.localSize)",
                       CPUList.format(record.cpus.launcher), CPUList.format(record.cpus.share),
                       "\(record.firstIndex)-\(record.firstIndex + record.elements - 1)", record.engine,
                       record.workers.map { "w\($0.worker) \($0.plannedCPU.map(String.init) ?? "-")→\($0.observedCPU)" }.joined(separator: " "),
                       formatSeconds(median(record.computeNanoseconds) * 1e-9), formatSeconds(median(record.reduceNanoseconds) * 1e-9),
                       formatSeconds(record.joinNanoseconds * 1e-9)]
                  }, rightAligned: [0, 8, 9, 10])
    }

    /// One line per rank, the job's figures repeated on each, units in the header.
    public var csv: String {
        let header = ["rank", "host", "local_rank", "local_size", "launcher_cpus", "planned_cpus", "first_index", "elements",
                      "engine", "workers", "planned_worker_cpus", "observed_worker_cpus", "compute_median_ns", "reduce_median_ns",
                      "join_ns", "job_median_ns", "job_bytes_per_s", "result"]
        let statistics = job
        let rows = ranks.map { record in
            [String(record.rank), record.host, String(record.localRank), String(record.localSize),
             CPUList.format(record.cpus.launcher), CPUList.format(record.cpus.share), String(record.firstIndex),
             String(record.elements), record.engine, String(record.workers.count),
             record.workers.map { $0.plannedCPU.map(String.init) ?? "-" }.joined(separator: " "),
             record.workers.map { String($0.observedCPU) }.joined(separator: " "),
             String(median(record.computeNanoseconds)), String(median(record.reduceNanoseconds)),
             String(record.joinNanoseconds), String(statistics.median), String(bytesPerSecond), "\(value)"]
        }
        return ([header] + rows).map(csvLine).joined(separator: "\n") + "\n"
    }

    /// One JSON document (README: "Cluster runs: JSON"). Integer results are exact
    /// decimal strings.
    public var jsonObject: [String: Any] {
        let statistics = job
        var object: [String: Any] = [
            "schema": Self.schema,
            "kernel": spec.kernel.name,
            "plugin": spec.kernel.plugin.name,
            "dtype": spec.dtype.rawValue,
            "isa": report.isa.rawValue,
            "size_elements": totalElements,
            "bytes_per_rep": bytesPerRep,
            "reps": spec.reps,
            "warmup_reps": spec.warmup,
            "result": "\(value)",
            "launcher": launch.launcher?.rawValue ?? "none",
            "launcher_variables": launch.variables,
            "thread_level": threadLevel.description,
            "ranks_count": ranks.count,
            "hosts": hosts,
            "job": [
                "samples_ns": jobNanoseconds,
                "median_ns": statistics.median, "min_ns": statistics.min, "max_ns": statistics.max,
                "p5_ns": statistics.p5, "p95_ns": statistics.p95,
                "spread_mad_over_median": statistics.relativeSpread, "noisy": statistics.isNoisy,
                "throughput_bytes_per_s": bytesPerSecond, "throughput_elements_per_s": elementsPerSecond,
                "reduction_samples_ns": reductionNanoseconds, "reduction_median_ns": median(reductionNanoseconds),
                "skew_samples_ns": skewNanoseconds, "skew_median_ns": median(skewNanoseconds),
                "slowest_compute_median_ns": median(slowestComputeNanoseconds),
            ] as [String: Any],
            "warnings": warnings,
            "ranks": ranks.map(\.jsonObject),
        ]
        object["seed"] = spec.seed
        object["input"] = spec.files?.input.path
        object["output"] = spec.files?.output
        object["center"] = spec.dtype.isInteger ? "\(spec.params.center_int)" : "\(spec.params.center_float)"
        return object
    }
}

extension RankRecord {
    public var jsonObject: [String: Any] {
        var object: [String: Any] = [
            "rank": rank, "local_rank": localRank, "local_size": localSize, "host": host, "pid": Int(processID),
            "launcher_cpus": CPUList.format(cpus.launcher), "planned_cpus": CPUList.format(cpus.share),
            "cpus_oversubscribed": cpus.oversubscribed,
            "first_index": firstIndex, "elements": elements, "engine": engine,
            "workers": workers.map { worker -> [String: Any] in
                var row: [String: Any] = ["worker": worker.worker, "observed_cpu": worker.observedCPU, "bound": worker.bound]
                row["planned_cpu"] = worker.plannedCPU
                row["warning"] = worker.warning
                return row
            },
            "memory": memory.map(\.jsonObject),
            "samples_compute_ns": computeNanoseconds, "samples_reduce_ns": reduceNanoseconds, "samples_wall_ns": wallNanoseconds,
            "compute_median_ns": median(computeNanoseconds), "reduce_median_ns": median(reduceNanoseconds),
            "join_ns": joinNanoseconds, "partial_result": partial,
        ]
        if let index = cpus.splitIndex, let count = cpus.splitCount { object["cpu_split"] = ["index": index, "count": count] }
        object["cpus_capped_by"] = cpus.cappedBy
        object["ready_after_start_ns"] = readyAfterStartNanoseconds
        return object
    }
}

/// The median, 0 for no samples.
func median(_ samples: [Double]) -> Double { SampleStatistics(samples)?.median ?? 0 }
#endif
