#if os(Linux)
import Foundation
import Unlocked

extension ClusterBenchReport {
    public static let schema = "unlocked-bench-ranks/1"

    /// One cell at one rank count, with the figures that need the whole job.
    public struct Row {
        public var ranks: Int
        public var result: CellResult
        /// Elements of the whole job, and of each rank (the largest block).
        public var elements: Int
        public var elementsPerRank: Int
        public var bytesPerRep: Int
        /// The job's throughput at its median time (every rank's bytes).
        public var bytesPerSecond: Double?
        /// Medians over timed repetitions: the reduction's cost (the last rank's wait for the
        /// job's value), the spread between fastest and slowest kernel, and each rank's kernel time.
        public var reductionMedianNanoseconds: Double?
        public var skewMedianNanoseconds: Double?
        public var computeMedianByRank: [Double]
        /// Throughput over the same cell's on 1 rank, and that over the rank count;
        /// nil without a 1-rank run of the cell.
        public var speedup: Double?
        public var efficiency: Double?
    }

    /// Per cell in sweep order, one row per rank count.
    public var rows: [Row] {
        plan.cells.indices.flatMap { index in
            runs.map { run in
                let result = run.results[index]
                let cell = result.cell
                let elements = scaling == .strong ? cell.size : cell.size * run.ranks
                let perRank = scaling == .strong ? (cell.size + run.ranks - 1) / run.ranks : cell.size
                let bytesPerElement = result.bytesPerRep / max(cell.size, 1)
                let bytes = elements * bytesPerElement
                let rate = result.statistics.map { Double(bytes) / ($0.median * 1e-9) }
                let computes = (run.computeByRank[cell] ?? []).map { Array($0.prefix(run.ranks)) }
                let reductions = run.reduction[cell] ?? []
                let skews = computes.map { ($0.max() ?? 0) - ($0.min() ?? 0) }
                let byRank = (0..<run.ranks).map { rank in median(computes.map { $0[rank] }) }
                let baseline = runs.first { $0.ranks == 1 }.flatMap { one -> Double? in
                    guard let median = one.results[index].statistics?.median else { return nil }
                    return Double(cell.size * bytesPerElement) / (median * 1e-9)
                }
                let speedup = rate.flatMap { rate in baseline.map { rate / $0 } }
                return Row(ranks: run.ranks, result: result, elements: elements, elementsPerRank: perRank, bytesPerRep: bytes,
                           bytesPerSecond: rate,
                           reductionMedianNanoseconds: result.statistics == nil ? nil : median(reductions),
                           skewMedianNanoseconds: result.statistics == nil ? nil : median(skews),
                           computeMedianByRank: result.statistics == nil ? [] : byRank,
                           speedup: speedup, efficiency: speedup.map { $0 / Double(run.ranks) })
            }
        }
    }

    public var table: TextTable {
        let headers = ["ranks", "engine", "kernel", "dtype", "size", "per rank", "workers", "median", "p5", "p95", "spread",
                       "reduction", "skew", "throughput", "speedup", "efficiency", "note"]
        let rows = self.rows.map { row -> [String] in
            let cell = row.result.cell
            let head = [String(row.ranks), cell.engine, cell.kernel, cell.dtype.rawValue, String(row.elements),
                        String(row.elementsPerRank), String(cell.workers)]
            guard let s = row.result.statistics else {
                let reason = if case .failed(let reason) = row.result.status { reason } else { "no samples" }
                return head + Array(repeating: "-", count: 9) + ["FAILED: \(reason)"]
            }
            return head + [s.median, s.p5, s.p95].map { formatSeconds($0 * 1e-9) }
                + [String(format: "%.1f%%", s.relativeSpread * 100),
                   formatSeconds((row.reductionMedianNanoseconds ?? 0) * 1e-9), formatSeconds((row.skewMedianNanoseconds ?? 0) * 1e-9),
                   row.bytesPerSecond.map { formatBytes($0) + "/s" } ?? "-",
                   row.speedup.map { String(format: "%.2f×", $0) } ?? "-", row.efficiency.map { String(format: "%.0f%%", $0 * 100) } ?? "-",
                   s.isNoisy ? "NOISY" : ""]
        }
        return TextTable(headers: headers, rows: rows, rightAligned: Set([0] + Array(4...15)))
    }

    public var text: String {
        let hosts = Set(ranks.map(\.host)).count
        var lines = [
            "\(context.cpuModel), \(context.topologySummary); ISA \(context.isa.rawValue)",
            "load average \(context.loadAverage.map { String(format: "%.2f", $0) }.joined(separator: " ")); "
                + "\(scaling.rawValue) scaling over \(runs.map { String($0.ranks) }.joined(separator: ",")) of \(ranks.count) ranks "
                + "on \(hosts) host\(hosts == 1 ? "" : "s") (\(launch.launcher?.rawValue ?? "no launcher"), \(threadLevel)); "
                + "time = the slowest rank, reduction included; efficiency = speedup / ranks",
        ]
        lines += ranks.map { "rank \($0.rank)      \($0.host), local rank \($0.localRank), CPUs \($0.plannedCPUs) of \($0.launcherCPUs)" }
        lines.append(table.text)
        return lines.joined(separator: "\n")
    }

    public var markdown: String { table.markdown }

    public var csv: String {
        let header = ["ranks", "scaling", "engine", "kernel", "dtype", "size_elements", "size_per_rank_elements", "workers", "pin", "mem",
                      "status", "reps", "median_ns", "p5_ns", "p95_ns", "spread_mad_over_median", "noisy", "bytes_per_rep",
                      "throughput_bytes_per_s", "reduction_median_ns", "skew_median_ns", "speedup_over_1_rank",
                      "parallel_efficiency", "result", "error"]
        let lines = rows.map { row -> [String] in
            let cell = row.result.cell, s = row.result.statistics
            let error = if case .failed(let reason) = row.result.status { reason } else { "" }
            return [String(row.ranks), scaling.rawValue, cell.engine, cell.kernel, cell.dtype.rawValue, String(row.elements),
                    String(row.elementsPerRank), String(cell.workers), cell.pin, cell.mem, row.result.status == .ok ? "ok" : "failed",
                    String(row.result.samples.count), number(s?.median), number(s?.p5), number(s?.p95), number(s?.relativeSpread),
                    s.map { $0.isNoisy ? "true" : "false" } ?? "", String(row.bytesPerRep), number(row.bytesPerSecond),
                    number(row.reductionMedianNanoseconds), number(row.skewMedianNanoseconds), number(row.speedup),
                    number(row.efficiency), row.result.value.map { "\($0)" } ?? "", error]
        }
        return ([header] + lines).map(csvLine).joined(separator: "\n") + "\n"
    }

    /// The JSON document (README: "Cluster runs: JSON").
    public var jsonObject: [String: Any] {
        var parameters = BenchReport(context: context, plan: plan, results: []).parametersObject
        parameters["scaling"] = scaling.rawValue
        parameters["rank_counts"] = runs.map(\.ranks)
        return [
            "schema": Self.schema,
            "tool": ["name": "unlocked", "version": BuildInfo.version, "git_commit": BuildInfo.gitCommit],
            "context": context.jsonObject,
            "parameters": parameters,
            "launcher": launch.launcher?.rawValue ?? "none",
            "launcher_variables": launch.variables,
            "thread_level": threadLevel.description,
            "ranks": ranks.map { ["rank": $0.rank, "host": $0.host, "local_rank": $0.localRank,
                                  "launcher_cpus": $0.launcherCPUs, "planned_cpus": $0.plannedCPUs] as [String: Any] },
            "cells": rows.map { row -> [String: Any] in
                var object = row.result.jsonObject
                object["ranks"] = row.ranks
                object["size_elements"] = row.elements
                object["size_per_rank_elements"] = row.elementsPerRank
                object["bytes_per_rep"] = row.bytesPerRep
                object["throughput_bytes_per_s"] = row.bytesPerSecond
                object["throughput_elements_per_s"] = row.result.statistics.map { Double(row.elements) / ($0.median * 1e-9) }
                object["reduction_median_ns"] = row.reductionMedianNanoseconds
                object["skew_median_ns"] = row.skewMedianNanoseconds
                object["compute_median_ns_by_rank"] = row.computeMedianByRank
                object["speedup_over_1_rank"] = row.speedup
                object["parallel_efficiency"] = row.efficiency
                return object
            },
        ]
    }
}
#endif
