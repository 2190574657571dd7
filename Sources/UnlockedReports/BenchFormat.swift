#if os(Linux)
import Foundation
import UnlockedCore
import UnlockedEngines
import UnlockedKernels
import UnlockedMeasurement
import UnlockedTopology

/// What `unlocked bench` (and `compare`) produce: the context, the plan and
/// every cell's result, in the formats a user asks for.
public struct BenchReport: Sendable {
    /// Identifies the JSON document's layout; bumped when keys change meaning.
    /// /2: samples of short jobs are per-job means of back-to-back batches,
    /// with wake-up samples beside them; start-up has samples; medians carry
    /// their 95% interval instead of a noisy flag. `bench --compare` reads /1 too.
    public static let schema = "unlocked-bench/2"

    public var context: RunContext
    public var plan: SweepPlan
    public var results: [CellResult]

    public init(context: RunContext, plan: SweepPlan, results: [CellResult]) {
        self.context = context
        self.plan = plan
        self.results = results
    }

    package static let headers = ["engine", "kernel", "dtype", "size", "workers", "pin", "mem", "median", "wake-up", "min", "p5", "p95",
                                  "max", "spread", "throughput", "note", "counters per job"]
    /// Shown after `mem` when `showsChunkColumns`: the chunk asked for, the one
    /// the engine used, and workers per allowed CPU.
    package static let chunkHeaders = ["chunk", "used", "×CPUs"]

    /// Workers per allowed CPU of `result`'s cell.
    package func oversubscription(_ result: CellResult) -> Double {
        result.oversubscription(allowedCPUs: context.allowedCPUCount)
    }

    /// The table keeps today's columns unless the sweep has more than one
    /// chunk value or oversubscribes a cell.
    package var showsChunkColumns: Bool {
        Set(results.map(\.cell.chunk)).count > 1 || results.contains { oversubscription($0) > 1 }
    }

    package var tableRows: [[String]] {
        let chunkColumns = showsChunkColumns
        return results.map { result in
            let cell = result.cell
            var head = [cell.engine, cell.kernel, cell.dtype.rawValue, "\(cell.size)", "\(cell.workers)", cell.pin, cell.mem]
            if chunkColumns {
                head += [cell.chunkLabel, result.chunkUsed.map(String.init) ?? "-", String(format: "%.2f", oversubscription(result))]
            }
            guard let s = result.statistics else {
                let reason = if case .failed(let reason) = result.status { reason } else { "no samples" }
                return head + ["-", "-", "-", "-", "-", "-", "-", "-", "FAILED: \(reason)", ""]
            }
            let times = [s.median, s.min, s.p5, s.p95, s.max].map { formatSeconds($0 * 1e-9) }
            let wake = result.wakeStatistics.map { formatSeconds($0.median * 1e-9) } ?? "-"
            return head + [times[0], wake] + times.dropFirst() + [String(format: "%.1f%%", s.relativeSpread * 100),
                                                                 result.bytesPerSecond.map { formatBytes($0) + "/s" } ?? "-",
                                                                 precisionNote(s), result.contentionSummary]
        }
    }

    /// Empty when the median's 95% interval is within the target, else how wide it is.
    package func precisionNote(_ s: SampleStatistics) -> String {
        guard let reach = s.intervalRelativeHalfWidth else { return "too few reps for a 95% interval" }
        return reach <= plan.precisionTarget ? "" : String(format: "imprecise: ±%.1f%% at 95%%", reach * 100)
    }

    public var table: TextTable {
        guard showsChunkColumns else { return TextTable(headers: Self.headers, rows: tableRows, rightAligned: Set(3...14)) }
        let headers = Array(Self.headers.prefix(7)) + Self.chunkHeaders + Self.headers.dropFirst(7)
        return TextTable(headers: headers, rows: tableRows, rightAligned: Set(3...17))
    }

    /// The human report: the context in two lines, then one row per cell.
    public var text: String {
        """
        \(context.cpuModel), \(context.topologySummary); allowed CPUs \(context.allowedCPUs); ISA \(context.isa.rawValue)
        load average \(context.loadAverage.map { String(format: "%.2f", $0) }.joined(separator: " ")); \(repetitionSummary); spread = MAD/median
        \(visitSummary)
        \(hugePageSummary)
        \(table.text)
        """
    }

    public var markdown: String { table.markdown }

    package var repetitionSummary: String {
        switch plan.repetitions {
        case .count(let reps): "\(reps) reps + \(plan.warmup) warm-up per cell, interleaved"
        case .minTime(let seconds, let minimum, let maximum):
            "≥ \(seconds) s per cell (\(minimum)-\(maximum) reps) + \(plan.warmup) warm-up, interleaved"
        case .precision(let target):
            "each cell until its median is within ±\(formatPercent(target.relativeHalfWidth)) at 95% confidence "
                + "(≥ \(target.minimumReps) reps), at most \(target.budgetSeconds) s in all; interleaved"
        }
    }

    /// The mode, and the input sizes it gave huge pages (or why none).
    package var hugePageSummary: String {
        let advised = results.filter { $0.hugePages?.advice == "MADV_HUGEPAGE" }.map(\.cell.size)
        let sizes = Array(Set(advised)).sorted().map(String.init).joined(separator: ", ")
        let detail = if !sizes.isEmpty { "MADV_HUGEPAGE on inputs of \(sizes) elements" }
            else { results.lazy.compactMap { $0.hugePages?.note }.first ?? "no input buffer" }
        return "huge pages \(plan.hugePages): \(detail)"
    }

    package var visitSummary: String {
        let visits = plan.visits
        guard visits.batchNanoseconds > 0 else { return "one job per sample" }
        return "jobs under \(formatSeconds(visits.batchNanoseconds * 1e-9)) timed in back-to-back batches of about that long "
            + "(median = per job, workers awake)"
            + (visits.idleNanoseconds > 0 ? "; wake-up = one job after \(formatSeconds(visits.idleNanoseconds * 1e-9)) idle" : "")
    }

    public static let csvHeader = ["engine", "kernel", "dtype", "size_elements", "workers", "pin", "mem", "status", "reps",
                                   "jobs_per_rep", "median_ns", "median_ci95_low_ns", "median_ci95_high_ns", "min_ns", "p5_ns",
                                   "p95_ns", "max_ns", "mad_ns", "spread_mad_over_median", "wake_median_ns", "bytes_per_rep",
                                   "throughput_bytes_per_s", "startup_ns", "job_startup_ns", "bytes_exchanged", "result", "error",
                                   "chunk_elements", "chunk_used_elements", "oversubscription_ratio"]
        + ContentionCounter.allCases.map { $0.rawValue + "_per_job" }

    /// One header line and one line per cell; empty fields for what a failed cell lacks.
    public var csv: String {
        let lines = results.map { result -> [String] in
            let cell = result.cell, s = result.statistics
            let error = if case .failed(let reason) = result.status { reason } else { "" }
            let fields = [cell.engine, cell.kernel, cell.dtype.rawValue, "\(cell.size)", "\(cell.workers)", cell.pin, cell.mem,
                    result.status == .ok ? "ok" : "failed", "\(result.samples.count)", "\(result.jobsPerSample)",
                    number(s?.median), number(s?.medianInterval95?.lowerBound), number(s?.medianInterval95?.upperBound),
                    number(s?.min), number(s?.p5), number(s?.p95), number(s?.max), number(s?.mad),
                    number(s?.relativeSpread), number(result.wakeStatistics?.median),
                    "\(result.bytesPerRep)", number(result.bytesPerSecond), number(result.startupNanoseconds),
                    number(result.median(\.startupNanoseconds)), number(result.medianBytesExchanged),
                    result.value.map { "\($0)" } ?? "", error,
                    cell.chunkLabel, result.chunkUsed.map(String.init) ?? "", "\(oversubscription(result))"]
            return fields + ContentionCounter.allCases.map { number(result.contentionMedian($0)) }
        }
        return ([Self.csvHeader] + lines).map(csvLine).joined(separator: "\n") + "\n"
    }

    /// The JSON document; see README "JSON output" for the schema.
    public var jsonObject: [String: Any] {
        [
            "schema": Self.schema,
            "tool": ["name": "unlocked", "version": BuildInfo.version, "git_commit": BuildInfo.gitCommit],
            "context": context.jsonObject,
            "parameters": parametersObject,
            "cells": results.map { result in
                var object = result.jsonObject
                object["oversubscription_ratio"] = oversubscription(result)
                return object
            },
        ]
    }

    package var parametersObject: [String: Any] {
        func unique<T: Hashable>(_ values: [T]) -> [T] {
            var seen = Set<T>()
            return values.filter { seen.insert($0).inserted }
        }
        let cells = plan.cells
        var object: [String: Any] = [
            "engines": unique(cells.map(\.engine)), "kernels": unique(cells.map(\.kernel)),
            "dtypes": unique(cells.map(\.dtype.rawValue)), "sizes_elements": unique(cells.map(\.size)),
            "workers": unique(cells.map(\.workers)), "pins": unique(cells.map(\.pin)), "mems": unique(cells.map(\.mem)),
            "chunk_elements": unique(cells.map(\.chunk)).map { $0.map { $0 as Any } ?? "auto" },
            "chunk_ignored_by": SweepPlan.enginesWithoutChunks.sorted(),
            "warmup_reps": plan.warmup, "seed": plan.seed, "center": plan.center, "huge_pages": plan.hugePages.description,
            "interleaving": "round-robin within each (dtype, size, mem) group",
            "quantiles": "type 7 (linear between closest ranks, numpy default)",
            "median_interval": "95%, distribution-free (binomial order statistics)",
            "precision_target_half_width_over_median": plan.precisionTarget,
            "batch_target_ns": plan.visits.batchNanoseconds, "wake_idle_ns": plan.visits.idleNanoseconds,
            "engine_startup_reps": plan.visits.startupSamples,
        ]
        switch plan.repetitions {
        case .count(let reps): object["reps"] = reps
        case .minTime(let seconds, let minimum, let maximum):
            object["min_time_s"] = seconds
            object["min_reps"] = minimum
            object["max_reps"] = maximum
        case .precision(let target):
            object["min_reps"] = target.minimumReps
            object["min_time_s"] = target.minimumSeconds
            object["max_time_s"] = target.budgetSeconds
        }
        return object
    }
}

/// A fraction as a percentage without needless decimals: 0.03 → "3%".
package func formatPercent(_ fraction: Double) -> String {
    let percent = fraction * 100
    return percent.rounded() == percent ? "\(Int(percent))%" : String(format: "%.1f%%", percent)
}

/// A number for CSV: empty when absent, integers without a decimal point.
package func number(_ value: Double?) -> String {
    guard let value, value.isFinite else { return "" }
    return value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
}

extension CellResult {
    public var jsonObject: [String: Any] {
        let cell = self.cell
        var object: [String: Any] = [
            "engine": cell.engine, "kernel": cell.kernel, "dtype": cell.dtype.rawValue, "size_elements": cell.size,
            "workers": cell.workers, "pin": cell.pin, "mem": cell.mem, "bytes_per_rep": bytesPerRep,
            "chunk_elements": cell.chunk.map { $0 as Any } ?? "auto",
            "status": status == .ok ? "ok" : "failed",
            "samples_ns": wallNanoseconds, "jobs_per_sample": jobsPerSample,
        ]
        if case .failed(let reason) = status { object["error"] = reason }
        if let chunkUsed { object["chunk_used_elements"] = chunkUsed }
        if let placement { object["placement"] = placement }
        if let hugePages { object["huge_pages"] = hugePages.jsonObject }
        if !startupSamples.isEmpty {
            object["samples_engine_startup_ns"] = startupSamples
            object["engine_startup_ns"] = startupNanoseconds
        }
        let startups = samples.compactMap(\.startupNanoseconds)
        if !startups.isEmpty { object["samples_startup_ns"] = startups }
        let exchanged = samples.compactMap(\.bytesExchanged)
        if !exchanged.isEmpty { object["samples_bytes_exchanged"] = exchanged }
        // Integer results are exact decimal strings: they can exceed 2^53.
        if let value { object["result"] = "\(value)" }
        if let s = statistics {
            object["statistics"] = s.jsonObject
            if let rate = bytesPerSecond {
                object["throughput_bytes_per_s"] = rate
                object["throughput_elements_per_s"] = rate * Double(cell.size) / Double(bytesPerRep)
            }
        }
        if !wakeNanoseconds.isEmpty { object["samples_wake_ns"] = wakeNanoseconds }
        if status == .ok { object["contention_per_job"] = contentionObject }
        if let wake = wakeStatistics { object["wake_statistics"] = wake.jsonObject }
        return object
    }
}

extension CellResult {
    /// Every counter's median per job over the samples; null where the engine does not count it.
    public var contentionObject: [String: Any] {
        Dictionary(uniqueKeysWithValues: ContentionCounter.allCases.map { counter in
            (counter.rawValue, contentionMedian(counter).map { $0 as Any } ?? NSNull())
        })
    }

    /// The counters in a few words, absent ones left out: "lock 1200 (wait
    /// 12.00 µs), futex 3 waits 2 wakes, spin 4.0 µs, parked 10.0 µs, chunks 16
    /// (2 stolen, 1 failed), switches 2 vol 0 invol".
    public var contentionSummary: String {
        func count(_ counter: ContentionCounter) -> String? {
            // Per-job medians of batches can be fractional: 0.5 waits a job.
            contentionMedian(counter).map { $0 < 10 && $0 != $0.rounded() ? String(format: "%.1f", $0) : String(Int($0.rounded())) }
        }
        func time(_ counter: ContentionCounter) -> String? { contentionMedian(counter).map { formatSeconds($0 * 1e-9) } }
        var parts: [String] = []
        if let locks = count(.lockAcquisitions) { parts.append("lock \(locks)" + (time(.lockWaitNanoseconds).map { " (wait \($0))" } ?? "")) }
        let futex = [count(.futexWaits).map { "\($0) waits" }, count(.futexWakes).map { "\($0) wakes" }].compactMap { $0 }
        if !futex.isEmpty { parts.append("futex " + futex.joined(separator: " ")) }
        if let spin = time(.spinNanoseconds) { parts.append("spin \(spin)") }
        if let parked = time(.parkedNanoseconds) { parts.append("parked \(parked)") }
        if let chunks = count(.chunksClaimed) {
            let more = [count(.chunksStolen).map { "\($0) stolen" }, count(.failedClaims).map { "\($0) failed" }].compactMap { $0 }
            parts.append("chunks \(chunks)" + (more.isEmpty ? "" : " (\(more.joined(separator: ", ")))"))
        }
        if let voluntary = count(.voluntaryContextSwitches), let involuntary = count(.involuntaryContextSwitches) {
            parts.append("switches \(voluntary) vol \(involuntary) invol")
        }
        return parts.joined(separator: ", ")
    }
}

extension SampleStatistics {
    /// `statistics` of a bench cell: quantiles, spread and the median's 95% interval.
    public var jsonObject: [String: Any] {
        var object: [String: Any] = [
            "count_reps": count, "median_ns": median, "min_ns": min, "max_ns": max,
            "p5_ns": p5, "p95_ns": p95, "mad_ns": mad, "spread_mad_over_median": relativeSpread,
        ]
        if let interval = medianInterval95 { object["median_ci95_ns"] = [interval.lowerBound, interval.upperBound] }
        if let reach = intervalRelativeHalfWidth { object["median_ci95_half_width_over_median"] = reach }
        return object
    }
}

extension RunContext {
    public var jsonObject: [String: Any] {
        var object: [String: Any] = [
            "cpu_model": cpuModel, "isa": isa.rawValue, "isa_reason": isaReason,
            "topology": [
                "summary": topologySummary, "online_cpus": onlineCPUs,
                "last_level_cache_bytes": lastLevelCacheBytes,
            ] as [String: Any],
            "allowed_cpus": allowedCPUs, "allowed_cpu_count": allowedCPUCount,
            "load_average": loadAverage,
            "started_at": ISO8601DateFormatter().string(from: startedAt),
            "placement": placement.map { $0 as [String: Any] } ?? NSNull(),
        ]
        var topology = object["topology"] as! [String: Any]
        if let physicalCores { topology["physical_cores"] = physicalCores }
        if let sockets { topology["sockets"] = sockets }
        if let numaNodes { topology["numa_nodes"] = numaNodes }
        object["topology"] = topology
        if let memoryAvailableBytes { object["memory_available_bytes"] = memoryAvailableBytes }
        if let memoryLimitBytes { object["memory_limit_bytes"] = memoryLimitBytes }
        if let cpuQuota { object["cgroup_cpu_quota"] = cpuQuota }
        return object
    }
}

extension RunContext {
    /// One line: "AMD EPYC, 2 CPUs (2 cores, 1 socket), LLC 32.00 MB, allowed 0-1".
    public var topologySummary: String {
        func counted(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
        var parts = [counted(onlineCPUs, "logical CPU")]
        if let physicalCores { parts.append(counted(physicalCores, "core")) }
        if let sockets { parts.append(counted(sockets, "socket")) }
        if let numaNodes { parts.append(counted(numaNodes, "NUMA node")) }
        return parts.joined(separator: ", ") + ", last-level cache \(formatBytes(Double(lastLevelCacheBytes)))"
    }
}
#endif
