import Foundation
import UnlockedCore
import UnlockedMeasurement

/// `unlocked bench --compare A.json B.json`: per cell present in both, the
/// ratio of medians and whether the difference is significant.
public struct BenchComparison: Sendable {
    public struct Row: Sendable {
        public var key: String
        public var baselineMedian: Double
        public var candidateMedian: Double
        public var comparison: TimingComparison
    }

    public var rows: [Row]
    /// Cells in only one document, by key.
    public var unmatched: [String]

    /// The cells of a bench JSON document: key → raw samples (failed cells are skipped).
    public static func samples(fromJSON data: Data, name: String) throws(UnlockedError) -> [(key: String, samples: [Double])] {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let cells = object["cells"] as? [[String: Any]] else {
            throw .badData("\(name): not an unlocked bench JSON document (no \"cells\" array)")
        }
        var result: [(key: String, samples: [Double])] = []
        var keys = Set<String>()
        for cell in cells {
            guard let engine = cell["engine"] as? String, let kernel = cell["kernel"] as? String,
                  let dtype = cell["dtype"] as? String, let size = cell["size_elements"] as? Int,
                  let workers = cell["workers"] as? Int, let pin = cell["pin"] as? String, let mem = cell["mem"] as? String,
                  let samples = cell["samples_ns"] as? [Double] else {
                throw .badData("\(name): a cell lacks engine, kernel, dtype, size_elements, workers, pin, mem or samples_ns")
            }
            // '|' joins the fields of a key, so it may not appear inside one.
            if let field = [engine, kernel, dtype, pin, mem].first(where: { $0.contains("|") }) {
                throw .badData("\(name): a cell's name '\(printable(field))' contains '|', which no engine, kernel, type or policy name has")
            }
            let key = "\(engine)|\(kernel)|\(dtype)|\(size)|\(workers)|\(pin)|\(mem)"
            // Two cells of one combination cannot be told apart: which would the other file's cell meet?
            guard keys.insert(key).inserted else {
                throw .badData("\(name): two cells of \(printable(key.replacingOccurrences(of: "|", with: " "))); a bench document has one cell per combination")
            }
            guard cell["status"] as? String == "ok", !samples.isEmpty else { continue }
            result.append((key: key, samples: samples))
        }
        return result
    }

    /// Reads both files: missing ones are `.noInput`, malformed ones `.badData`.
    public init(baselinePath: String, candidatePath: String) throws(UnlockedError) {
        func load(_ path: String) throws(UnlockedError) -> Data {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw .noInput("--compare \(path): cannot read the file")
            }
            return data
        }
        try self.init(baselineJSON: try load(baselinePath), candidateJSON: try load(candidatePath),
                      baselineName: baselinePath, candidateName: candidatePath)
    }

    /// Compares two bench JSON documents already in memory; a malformed one is
    /// `.badData` naming it.
    public init(baselineJSON: Data, candidateJSON: Data, baselineName: String, candidateName: String) throws(UnlockedError) {
        self.init(baseline: try Self.samples(fromJSON: baselineJSON, name: baselineName),
                  candidate: try Self.samples(fromJSON: candidateJSON, name: candidateName))
    }

    public init(baseline: [(key: String, samples: [Double])], candidate: [(key: String, samples: [Double])]) {
        let candidates = Dictionary(candidate.map { ($0.key, $0.samples) }, uniquingKeysWith: { a, _ in a })
        let baselineKeys = Set(baseline.map(\.key))
        rows = baseline.compactMap { entry in
            guard let other = candidates[entry.key],
                  let comparison = TimingComparison(baseline: entry.samples, candidate: other) else { return nil }
            return Row(key: entry.key, baselineMedian: SampleStatistics(entry.samples)!.median,
                       candidateMedian: SampleStatistics(other)!.median, comparison: comparison)
        }
        unmatched = baseline.map(\.key).filter { candidates[$0] == nil } + candidate.map(\.key).filter { !baselineKeys.contains($0) }
    }

    public var table: TextTable {
        TextTable(headers: ["engine", "kernel", "dtype", "size", "workers", "pin", "mem", "A median", "B median", "B/A", "95% CI", "p", "verdict"],
                  rows: rows.map { row in
                      row.key.split(separator: "|", omittingEmptySubsequences: false).map(String.init) + [
                          formatSeconds(row.baselineMedian * 1e-9), formatSeconds(row.candidateMedian * 1e-9),
                          String(format: "%.3f", row.comparison.medianRatio),
                          String(format: "%.3f-%.3f", row.comparison.ratioInterval.lowerBound, row.comparison.ratioInterval.upperBound),
                          String(format: "%.3g", row.comparison.test.pValue),
                          row.comparison.verdict.rawValue,
                      ]
                  }, rightAligned: [3, 4, 7, 8, 9, 10, 11])
    }

    public var text: String {
        var out = table.text
        out += "\nB/A is the ratio of medians (above 1: B slower), with its 95% bootstrap interval. Verdict: two-sided Mann-Whitney U, p < \(TimingComparison.alpha)."
        if !unmatched.isEmpty { out += "\nIn only one file: \(unmatched.joined(separator: ", "))" }
        return out
    }

    public var csv: String {
        let header = ["engine", "kernel", "dtype", "size_elements", "workers", "pin", "mem", "baseline_median_ns",
                      "candidate_median_ns", "median_ratio", "median_ratio_ci95_low", "median_ratio_ci95_high", "p_value", "verdict"]
        let lines = rows.map { row in
            row.key.split(separator: "|", omittingEmptySubsequences: false).map(String.init) + [
                number(row.baselineMedian), number(row.candidateMedian), "\(row.comparison.medianRatio)",
                "\(row.comparison.ratioInterval.lowerBound)", "\(row.comparison.ratioInterval.upperBound)",
                "\(row.comparison.test.pValue)", row.comparison.verdict.rawValue,
            ]
        }
        return ([header] + lines).map(csvLine).joined(separator: "\n") + "\n"
    }

    public var jsonObject: [String: Any] {
        [
            "schema": "unlocked-bench-compare/1",
            "test": "two-sided Mann-Whitney U", "alpha": TimingComparison.alpha,
            "cells": rows.map { row -> [String: Any] in
                [
                    "key": row.key, "baseline_median_ns": row.baselineMedian, "candidate_median_ns": row.candidateMedian,
                    "median_ratio": row.comparison.medianRatio, "p_value": row.comparison.test.pValue,
                    "median_ratio_ci95": [row.comparison.ratioInterval.lowerBound, row.comparison.ratioInterval.upperBound],
                    "u_statistic": row.comparison.test.u, "exact_p": row.comparison.test.exact,
                    "verdict": row.comparison.verdict.rawValue,
                ]
            },
            "unmatched": unmatched,
        ]
    }
}
