import UnlockedEngines
import UnlockedMeasurement

extension EngineRun {
    /// Lines appended to `unlocked run`'s report: what the engine did.
    public var text: String {
        let s = statistics
        var lines = ["engine      \(s.engine.rawValue)\(s.engine != configuration.kind ? " (chosen by \(configuration.kind.rawValue))" : ""), "
            + "\(s.workers) worker\(s.workers == 1 ? "" : "s"), chunk \(s.chunkSize) (\(s.chunkCount) chunks)"]
        let created = startupStatistics.map {
            "engine \(formatSeconds($0.median * 1e-9)) (median of \($0.count) fresh engines, spread \(String(format: "%.0f%%", $0.relativeSpread * 100))"
                // The first pays one-off costs the median hides, such as starting a fork server.
                + (startupSamplesNanoseconds.count > 1 ? "; the first \(formatSeconds(startupSamplesNanoseconds[0] * 1e-9)))" : ")")
        } ?? "engine -"
        lines.append("start-up    \(created)"
            + (s.startupNanoseconds > 0 ? ", threads started by the last job \(formatSeconds(Double(s.startupNanoseconds) * 1e-9))" : "")
            + ", last job \(formatSeconds(Double(s.computeNanoseconds) * 1e-9))")
        if !startup.bindings.isEmpty {
            lines.append("bindings    " + startup.bindings.map { b in
                "w\(b.worker)→cpu \(b.observedCPU)" + (b.plannedPU.map { $0 == b.observedCPU ? "" : " (planned \($0))" } ?? " (unbound)")
            }.joined(separator: ", "))
            for warning in startup.bindings.compactMap(\.warning) { lines.append("warning     \(warning)") }
        }
        if !startup.workerISAs.isEmpty {
            lines.append("variants    " + startup.workerISAs.enumerated().map { "w\($0.offset) \($0.element.rawValue)" }
                .joined(separator: ", ") + " (worker processes)")
        }
        let perWorker = s.chunksPerWorker.count > 16
            ? "\(s.chunksPerWorker.min() ?? 0)…\(s.chunksPerWorker.max() ?? 0) per worker"
            : "per worker " + s.chunksPerWorker.map(String.init).joined(separator: " ")
        lines.append("chunks      \(perWorker), \(s.steals) stolen")
        if s.lockAcquisitions > 0 {
            lines.append("locks       \(s.lockAcquisitions) acquisitions, \(formatSeconds(Double(s.lockWaitNanoseconds) * 1e-9)) waiting")
        }
        if s.bytesCopied > 0 { lines.append("copied      \(formatBytes(Double(s.bytesCopied))) through pipes") }
        for note in s.notes { lines.append("note        \(note)") }
        if let decision = s.autoDecision { lines.append("note        \(decision.sentence)") }
        return lines.joined(separator: "\n")
    }

    /// The `engine` object of `unlocked run --json`.
    public var jsonObject: [String: Any] {
        let s = statistics
        return [
            "requested": configuration.kind.rawValue,
            "name": s.engine.rawValue,
            "workers": s.workers,
            "chunk_size": s.chunkSize,
            "chunk_count": s.chunkCount,
            "startup_ns": startupStatistics?.median ?? 0,
            "startup_samples_ns": startupSamplesNanoseconds,
            "startup_spread_mad_over_median": startupStatistics?.relativeSpread ?? 0,
            "job_thread_startup_ns": s.startupNanoseconds,
            "last_job_ns": s.computeNanoseconds,
            "chunks_per_worker": s.chunksPerWorker,
            "steals": s.steals,
            "lock_acquisitions": s.lockAcquisitions,
            "lock_wait_ns": s.lockWaitNanoseconds,
            "bytes_copied": s.bytesCopied,
            "notes": s.notes + (s.autoDecision.map { [$0.sentence] } ?? []),
            "worker_isas": startup.workerISAs.map(\.rawValue),
            "bindings": startup.bindings.map { b -> [String: Any] in
                var binding: [String: Any] = ["worker": b.worker, "observed_cpu": b.observedCPU]
                if let planned = b.plannedPU { binding["planned_pu"] = planned }
                if let warning = b.warning { binding["warning"] = warning }
                return binding
            },
        ]
    }
}

extension AutoDecision {
    /// `auto chose sequential: sequential ≈ 5.1 µs, pool ≈ 8.0 µs (round trip 3.2 µs, 0.051 ns/element)`.
    public var sentence: String {
        "auto chose \(chosen.rawValue): sequential ≈ \(formatSeconds(sequentialEstimateNanoseconds * 1e-9)), "
            + "pool ≈ \(formatSeconds(poolEstimateNanoseconds * 1e-9)) (round trip \(formatSeconds(roundTripNanoseconds * 1e-9)), "
            + "\(String(format: "%.3f", nanosecondsPerElement)) ns/element)"
    }
}
