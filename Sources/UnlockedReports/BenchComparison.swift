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
        /// The rank test's p after Holm's adjustment across every row of the comparison.
        public var holmPValue: Double

        /// From the Holm-adjusted p: a comparison of many cells should not call one
        /// slower by chance.
        public var verdict: TimingComparison.Verdict { comparison.verdict(pValue: holmPValue) }

        /// The key's eight cell fields (chunk last), then the series: `time`, or `wake-up`.
        public var fields: [String] {
            let parts = key.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            return Array(parts.prefix(8)) + [parts.count > 8 ? parts[8] : "time"]
        }
    }

    public var rows: [Row]
    /// Cells in only one document, by key.
    public var unmatched: [String]
    /// What a reader must know to read the rows (documents of different schemas).
    public var notes: [String] = []

    /// The longest timing a document may hold: about 11.6 days.
    private static let maximumSampleNanoseconds = 1e15

    /// The schemas `--compare` reads.
    public static let schemas = ["unlocked-bench/1", BenchReport.schema]

    /// One document's cells: for each, its timed samples and, where the
    /// document has them, the samples of single jobs (all of /1's samples;
    /// /2's samples of unbatched cells, or its wake-up samples).
    public struct Document: Sendable {
        public var schema: String
        public var cells: [(key: String, samples: [Double], wake: [Double]?, singleJobs: [Double]?)]
    }

    /// Reads a bench JSON document (failed cells are skipped).
    public static func document(fromJSON data: Data, name: String) throws(UnlockedError) -> Document {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let cells = object["cells"] as? [[String: Any]] else {
            throw .badData("\(name): not an unlocked bench JSON document (no \"cells\" array)")
        }
        let schema = object["schema"] as? String ?? "unknown"
        guard schemas.contains(schema) else {
            throw .badData("\(name): schema \(printable(schema)); this unlocked reads \(schemas.joined(separator: " and "))")
        }
        var document = Document(schema: schema, cells: [])
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
            // Documents from before `--chunk` ran every cell with the engine's own chunking: `auto`.
            let chunk: String
            if let given = cell["chunk_elements"] {
                if given as? String == "auto" { chunk = "auto" } else if let count = given as? Int, count > 0 { chunk = "\(count)" } else {
                    throw .badData("\(name): a cell has chunk_elements \(printable("\(given)")) (accepted: a positive element count or \"auto\")")
                }
            } else { chunk = "auto" }
            let key = "\(engine)|\(kernel)|\(dtype)|\(size)|\(workers)|\(pin)|\(mem)|\(chunk)"
            // Two cells of one combination cannot be told apart: which would the other file's cell meet?
            guard keys.insert(key).inserted else {
                throw .badData("\(name): two cells of \(printable(key.replacingOccurrences(of: "|", with: " "))); a bench document has one cell per combination")
            }
            guard cell["status"] as? String == "ok", !samples.isEmpty else { continue }
            let wake = cell["samples_wake_ns"] as? [Double]
            // A timing is a finite count of nanoseconds: a negative, NaN or 1e308 sample is a broken file.
            if let bad = (samples + (wake ?? [])).first(where: { !($0.isFinite && $0 >= 0 && $0 <= maximumSampleNanoseconds) }) {
                throw .badData("\(name): cell \(printable(key)) has the sample \(bad) ns (accepted: 0 to 1e15 ns)")
            }
            guard size > 0, workers > 0 else {
                throw .badData("\(name): cell \(printable(key)) has \(size) elements and \(workers) workers (accepted: positive counts)")
            }
            let batched = (cell["jobs_per_sample"] as? Int ?? 1) > 1
            document.cells.append((key: key, samples: samples,
                                   wake: wake, singleJobs: batched ? wake : samples))
        }
        return document
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
        self.init(baseline: try Self.document(fromJSON: baselineJSON, name: baselineName),
                  candidate: try Self.document(fromJSON: candidateJSON, name: candidateName))
    }

    /// Documents of the same schema compare sample for sample, and wake-up
    /// samples as cells of their own (`…|wake-up`). A /1 document timed one
    /// job per visit, between other cells' jobs: it is compared with the
    /// other's single jobs (unbatched samples, or wake-ups of batched cells).
    public init(baseline: Document, candidate: Document) {
        func entries(_ document: Document, singleJobs: Bool) -> [(key: String, samples: [Double])] {
            document.cells.flatMap { cell -> [(key: String, samples: [Double])] in
                if singleJobs { return cell.singleJobs.map { [(key: cell.key, samples: $0)] } ?? [] }
                return [(key: cell.key, samples: cell.samples)] + (cell.wake.map { [(key: cell.key + "|wake-up", samples: $0)] } ?? [])
            }
        }
        let mixed = baseline.schema != candidate.schema
        self.init(baseline: entries(baseline, singleJobs: mixed), candidate: entries(candidate, singleJobs: mixed))
        if mixed {
            notes.append("\(baseline.schema) against \(candidate.schema): /1 timed one job per visit, so each cell compares "
                         + "single jobs: /2's wake-up samples where /2 timed batches of back-to-back jobs.")
        }
    }

    public init(baseline: [(key: String, samples: [Double])], candidate: [(key: String, samples: [Double])]) {
        let candidates = Dictionary(candidate.map { ($0.key, $0.samples) }, uniquingKeysWith: { a, _ in a })
        let baselineKeys = Set(baseline.map(\.key))
        rows = baseline.compactMap { entry in
            guard let other = candidates[entry.key],
                  let comparison = TimingComparison(baseline: entry.samples, candidate: other) else { return nil }
            return Row(key: entry.key, baselineMedian: SampleStatistics(entry.samples)!.median,
                       candidateMedian: SampleStatistics(other)!.median, comparison: comparison, holmPValue: 1)
        }
        for (index, adjusted) in holmAdjusted(rows.map(\.comparison.test.pValue)).enumerated() { rows[index].holmPValue = adjusted }
        unmatched = baseline.map(\.key).filter { candidates[$0] == nil } + candidate.map(\.key).filter { !baselineKeys.contains($0) }
    }

    public var table: TextTable {
        TextTable(headers: ["engine", "kernel", "dtype", "size", "workers", "pin", "mem", "chunk", "series", "A median", "B median", "B/A",
                            "95% CI", "p", "p Holm", "verdict"],
                  rows: rows.map { row in
                      row.fields + [
                          formatSeconds(row.baselineMedian * 1e-9), formatSeconds(row.candidateMedian * 1e-9),
                          String(format: "%.3f", row.comparison.medianRatio),
                          String(format: "%.3f-%.3f", row.comparison.ratioInterval.lowerBound, row.comparison.ratioInterval.upperBound),
                          String(format: "%.3g", row.comparison.test.pValue),
                          String(format: "%.3g", row.holmPValue),
                          row.verdict.rawValue,
                      ]
                  }, rightAligned: [3, 4, 7, 9, 10, 11, 12, 13, 14])
    }

    public var text: String {
        var out = table.text
        out += "\nB/A is the ratio of medians (above 1: B slower), with its 95% bootstrap interval. Verdict: two-sided Mann-Whitney U, "
            + "p < \(TimingComparison.alpha) after Holm's adjustment across the \(rows.count) rows."
        if !unmatched.isEmpty { out += "\nIn only one file: \(unmatched.joined(separator: ", "))" }
        for note in notes { out += "\n" + note }
        return out
    }

    public var csv: String {
        let header = ["engine", "kernel", "dtype", "size_elements", "workers", "pin", "mem", "chunk_elements", "series", "baseline_median_ns",
                      "candidate_median_ns", "median_ratio", "median_ratio_ci95_low", "median_ratio_ci95_high", "p_value", "p_value_holm", "verdict"]
        let lines = rows.map { row in
            row.fields + [
                number(row.baselineMedian), number(row.candidateMedian), "\(row.comparison.medianRatio)",
                "\(row.comparison.ratioInterval.lowerBound)", "\(row.comparison.ratioInterval.upperBound)",
                "\(row.comparison.test.pValue)", "\(row.holmPValue)", row.verdict.rawValue,
            ]
        }
        return ([header] + lines).map(csvLine).joined(separator: "\n") + "\n"
    }

    public var jsonObject: [String: Any] {
        [
            // /2: keys end with the chunk (`…|mem|chunk`).
            "schema": "unlocked-bench-compare/2",
            "test": "two-sided Mann-Whitney U, Holm-adjusted across cells", "alpha": TimingComparison.alpha,
            "cells": rows.map { row -> [String: Any] in
                [
                    "key": row.key, "baseline_median_ns": row.baselineMedian, "candidate_median_ns": row.candidateMedian,
                    "median_ratio": row.comparison.medianRatio, "p_value": row.comparison.test.pValue, "p_value_holm": row.holmPValue,
                    "median_ratio_ci95": [row.comparison.ratioInterval.lowerBound, row.comparison.ratioInterval.upperBound],
                    "u_statistic": row.comparison.test.u, "exact_p": row.comparison.test.exact,
                    "verdict": row.verdict.rawValue,
                ]
            },
            "unmatched": unmatched,
            "notes": notes,
        ]
    }
}
