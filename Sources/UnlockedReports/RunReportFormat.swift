import Foundation
import UnlockedMeasurement

extension RunReport {
    /// The human report of `unlocked run`.
    public var text: String {
        let s = summary
        let engineLines = engine.map { "\n" + $0.text } ?? ""
        let placementLines = placementText.map { "\n" + $0 } ?? ""
        return """
        kernel      \(spec.kernel.name) \(spec.dtype.rawValue) (\(spec.kernel.plugin.name), \(isa.rawValue))
        size        \(spec.count) elements, \(formatBytes(Double(spec.bytesPerRep))) per repetition
        result      \(value)
        time        median \(formatSeconds(s.median * 1e-9))  min \(formatSeconds(s.min * 1e-9))  max \(formatSeconds(s.max * 1e-9))  (\(s.count) reps, \(spec.warmup) warm-up)\(s.isNoisy ? String(format: "  NOISY: MAD/median %.1f%%", s.relativeSpread * 100) : "")
        throughput  \(formatRate(elementsPerSecond)) elements/s, \(formatBytes(bytesPerSecond))/s
        """ + fileLines + engineLines + placementLines
    }

    /// The input and output files of a file run; empty for generated data.
    private var fileLines: String {
        guard let (input, output) = spec.files else { return "" }
        return "\ninput       \(input.path) (\(input.elementType.rawValue), shape \(input.shape))"
            + (output.map { "\noutput      \($0)" } ?? "")
    }

    /// Planned versus observed placement, memory outcomes, pages per node
    /// and the machine's context; nil when the run had no placement.
    package var placementText: String? {
        guard let plan else { return nil }
        var lines = ["placement   \(plan.policy)" + (plan.bindingSkipped.map { " (not bound: \($0))" } ?? "")]
        lines += plan.lines(observations: engine?.startup.bindings ?? [])
        lines += memory.map(\.line)
        if let pages { lines.append("pages       input: \(pages.summary)") }
        lines += placementContext?.lines ?? []
        return lines.joined(separator: "\n")
    }

    /// The `placement` object of `--json`; nil when the run had no placement.
    package var placementJSON: [String: Any]? {
        guard let plan else { return nil }
        var object: [String: Any] = [
            "policy": plan.policy,
            "workers": plan.rows(observations: engine?.startup.bindings ?? []),
            "memory": memory.map(\.jsonObject),
            "warnings": plan.warnings,
            "best_effort": plan.bestEffort,
        ]
        object["binding_skipped"] = plan.bindingSkipped
        object["pages"] = pages?.jsonObject
        object["context"] = placementContext?.jsonObject
        return object
    }

    /// One JSON object for scripts. Integer results are exact decimal strings
    /// because they can exceed 2^53, which most JSON readers cannot hold.
    public var jsonObject: [String: Any] {
        var result: [String: Any] = [
            "kernel": spec.kernel.name,
            "plugin": spec.kernel.plugin.name,
            "dtype": spec.dtype.rawValue,
            "size": spec.count,
            "reps": spec.reps,
            "warmup": spec.warmup,
            "isa": isa.rawValue,
            "result": "\(value)",
            "time_median_ns": summary.median,
            "time_min_ns": summary.min,
            "time_max_ns": summary.max,
            "time_p5_ns": summary.p5,
            "time_p95_ns": summary.p95,
            "time_mad_over_median": summary.relativeSpread,
            "samples_ns": samplesNanoseconds,
            "elements_per_second": elementsPerSecond,
            "bytes_per_second": bytesPerSecond,
            "bytes_per_rep": spec.bytesPerRep,
        ]
        result["seed"] = spec.seed
        result["input"] = spec.files?.input.path
        result["output"] = spec.files?.output
        result["engine"] = engine?.jsonObject
        result["placement"] = placementJSON
        result["center"] = spec.dtype.isInteger ? "\(spec.params.center_int)" : "\(spec.params.center_float)"
        return result
    }
}

extension RunReport {
    /// A header and one line, units in the header: `run --csv`.
    public var csv: String {
        let header = ["kernel", "dtype", "size_elements", "engine", "workers", "reps", "median_ns", "min_ns", "max_ns",
                      "bytes_per_s", "elements_per_s", "result"]
        let row = [spec.kernel.name, spec.dtype.rawValue, String(spec.count), engine?.statistics.engine.rawValue ?? "-",
                   String(engine?.statistics.workers ?? 1), String(summary.count), String(summary.median), String(summary.min),
                   String(summary.max), String(bytesPerSecond), String(elementsPerSecond), "\(value)"]
        return csvLine(header) + "\n" + csvLine(row) + "\n"
    }
}

/// Serialises a JSON object with sorted keys, so output diffs cleanly.
public func jsonString(_ object: Any) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
}

public func formatSeconds(_ seconds: Double) -> String {
    switch seconds {
    case ..<1e-6: String(format: "%.1f ns", seconds * 1e9)
    case ..<1e-3: String(format: "%.2f µs", seconds * 1e6)
    case ..<1: String(format: "%.2f ms", seconds * 1e3)
    default: String(format: "%.3f s", seconds)
    }
}

/// Decimal SI rate: 1.23 G.
public func formatRate(_ value: Double) -> String {
    switch value {
    case 1e12...: String(format: "%.2f T", value / 1e12)
    case 1e9...: String(format: "%.2f G", value / 1e9)
    case 1e6...: String(format: "%.2f M", value / 1e6)
    case 1e3...: String(format: "%.2f k", value / 1e3)
    default: String(format: "%.2f ", value)
    }
}

/// Decimal bytes (GB/s is what STREAM and vendors quote).
public func formatBytes(_ bytes: Double) -> String { bytes < 1000 ? String(format: "%.0f B", bytes) : formatRate(bytes) + "B" }

extension RoundTripReport {
    /// `empty-job round trip through lockfree-pool, 2 workers: median 1.2 µs, …`.
    public var text: String {
        "empty-job round trip through \(configuration.kind.rawValue), \(configuration.workers) workers: "
            + "median \(formatSeconds(statistics.median * 1e-9)), min \(formatSeconds(statistics.min * 1e-9)), "
            + "MAD \(formatSeconds(statistics.mad * 1e-9)) (\(jobs) jobs)"
    }

    public var jsonObject: [String: Any] {
        ["engine": configuration.kind.rawValue, "workers": configuration.workers, "jobs": jobs,
         "round_trip_median_ns": statistics.median, "round_trip_min_ns": statistics.min, "round_trip_mad_ns": statistics.mad]
    }
}
