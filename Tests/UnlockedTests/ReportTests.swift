import Foundation
import Testing
@testable import Unlocked

/// Splits RFC 4180 CSV into records of fields (quoted fields may hold commas, quotes, newlines).
func parseCSV(_ text: String) -> [[String]] {
    var records: [[String]] = [], record: [String] = [], field = "", quoted = false
    var chars = Array(text)[...]
    while let c = chars.popFirst() {
        if quoted {
            if c == "\"" {
                if chars.first == "\"" { field.append("\""); chars.removeFirst() } else { quoted = false }
            } else { field.append(c) }
        } else if c == "\"" { quoted = true
        } else if c == "," { record.append(field); field = ""
        } else if c == "\n" { record.append(field); records.append(record); record = []; field = ""
        } else { field.append(c) }
    }
    if !field.isEmpty || !record.isEmpty { record.append(field); records.append(record) }
    return records
}

func sampleReport() throws -> BenchReport {
    let runner = ScriptedRunner()
    runner.wallNanoseconds = ["a": 2000, "b": 3000]
    runner.failOnRun = ["c": 1]
    let p = plan(["sequential", "a", "b", "c"], workers: [1, 2], sizes: [1000, 4000])
    let results = try BenchSweep(plan: p, runner: runner).run()
    return BenchReport(context: RunContext.current(), plan: p, results: results)
}

@Suite struct ReportTests {
    @Test func csvParsesBackWithUnitsInTheHeader() throws {
        let report = try sampleReport()
        let records = parseCSV(report.csv)
        #expect(records[0] == BenchReport.csvHeader)
        #expect(records.count == 1 + report.results.count)
        let header = records[0]
        for (record, result) in zip(records.dropFirst(), report.results) {
            #expect(record.count == header.count)
            let field = { (name: String) in record[header.firstIndex(of: name)!] }
            #expect(field("engine") == result.cell.engine && Int(field("size_elements")) == result.cell.size)
            #expect(Int(field("workers")) == result.cell.workers)
            if let s = result.statistics {
                #expect(field("status") == "ok" && Double(field("median_ns")) == s.median && Double(field("p95_ns")) == s.p95)
            } else {
                #expect(field("status") == "failed" && field("error") == "c crashed on run 1" && field("median_ns").isEmpty)
            }
        }
        #expect(records.contains { $0[0] == "b" && $0[header.firstIndex(of: "bytes_exchanged")!] == "128" })
    }

    @Test func csvQuotesCommasQuotesAndNewlines() {
        let line = csvLine(["plain", "a,b", "say \"hi\"", "two\nlines"])
        #expect(line == "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\"")
        #expect(parseCSV(line + "\n") == [["plain", "a,b", "say \"hi\"", "two\nlines"]])
    }

    @Test func jsonParsesBackWithRawSamplesAndStatistics() throws {
        let report = try sampleReport()
        let data = Data(jsonString(report.jsonObject).utf8)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["schema"] as? String == "unlocked-bench/2")
        let tool = try #require(object["tool"] as? [String: Any])
        #expect(tool["version"] as? String == BuildInfo.version && tool["git_commit"] != nil)
        let context = try #require(object["context"] as? [String: Any])
        for key in ["cpu_model", "isa", "topology", "allowed_cpus", "load_average", "placement", "started_at"] {
            #expect(context[key] != nil, "context.\(key)")
        }
        let parameters = try #require(object["parameters"] as? [String: Any])
        #expect(parameters["sizes_elements"] as? [Int] == [1000, 4000])
        #expect(parameters["engines"] as? [String] == ["sequential", "a", "b", "c"])
        #expect(parameters["reps"] as? Int == 3 && parameters["warmup_reps"] as? Int == 1)
        let cells = try #require(object["cells"] as? [[String: Any]])
        #expect(cells.count == report.results.count)
        for (cell, result) in zip(cells, report.results) {
            #expect(cell["samples_ns"] as? [Double] == result.wallNanoseconds)
            if let s = result.statistics {
                let stats = try #require(cell["statistics"] as? [String: Any])
                #expect(stats["median_ns"] as? Double == s.median && stats["mad_ns"] as? Double == s.mad)
                #expect(stats["median_ci95_ns"] as? [Double] == s.medianInterval95.map { [$0.lowerBound, $0.upperBound] })
                #expect(cell["jobs_per_sample"] as? Int == result.jobsPerSample && cell["result"] as? String == "7")
            } else {
                #expect(cell["status"] as? String == "failed" && cell["error"] as? String == "c crashed on run 1")
            }
        }
        // Every numeric key states its unit or is a count.
        let units = ["_ns", "_bytes", "_s", "_elements", "bytes_per_rep", "_reps", "_ratio", "workers", "_over_median", "_per_s", "_count", "_fraction", "_cpus", "_cores", "sockets", "_nodes", "bytes_exchanged", "seed", "jobs_per_sample"]
        func check(_ value: Any, path: String) {
            if let dict = value as? [String: Any] {
                for (key, inner) in dict {
                    if inner is Double || inner is Int || (inner as? [Any])?.first is Double {
                        if !(inner is Bool) && !["load_average", "reps", "min_reps", "max_reps", "noisy"].contains(key) {
                            #expect(units.contains { key.hasSuffix($0) || key == $0 }, "\(path).\(key) has no unit")
                        }
                    }
                    check(inner, path: "\(path).\(key)")
                }
            } else if let array = value as? [Any] {
                for inner in array { check(inner, path: path + "[]") }
            }
        }
        check(object, path: "$")
    }

    @Test func contextReadsProcFixtures() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("proc-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("self"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("sys/devices/system/node/node0"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("sys/devices/system/node/node1"), withIntermediateDirectories: true)
        var cpuinfo = ""
        for (cpu, package, core) in [(0, 0, 0), (1, 0, 0), (2, 1, 0), (3, 1, 1)] {
            cpuinfo += "processor\t: \(cpu)\nmodel name\t: Test CPU 9000\nphysical id\t: \(package)\ncore id\t\t: \(core)\n\n"
        }
        try cpuinfo.write(to: root.appendingPathComponent("cpuinfo"), atomically: true, encoding: .utf8)
        try "Name:\tx\nCpus_allowed_list:\t0-1,3\n".write(to: root.appendingPathComponent("self/status"), atomically: true, encoding: .utf8)
        try "MemTotal: 100 kB\nMemAvailable:   2048 kB\n".write(to: root.appendingPathComponent("meminfo"), atomically: true, encoding: .utf8)
        // A v1 SLURM step: the job's cgroup holds the memory limit and the CPU quota.
        try "9:memory:/slurm/job_3/step_0\n4:cpu,cpuacct:/slurm/job_3/step_0\n".write(
            to: root.appendingPathComponent("self/cgroup"), atomically: true, encoding: .utf8)
        for (path, text) in ["memory/slurm/job_3/memory.limit_in_bytes": "1048576", "cpu,cpuacct/slurm/job_3/cpu.cfs_quota_us": "50000",
                             "cpu,cpuacct/slurm/job_3/cpu.cfs_period_us": "100000", "memory/slurm/job_3/step_0/memory.limit_in_bytes": "4194304"] {
            let url = root.appendingPathComponent("sys/fs/cgroup/\(path)")
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        let context = RunContext.current(procRoot: root.path, sysRoot: root.appendingPathComponent("sys").path)
        #expect(context.memoryLimitBytes == 1 << 20 && context.memoryBudget.bytes == 1 << 20)
        #expect(context.cpuQuota == 0.5 && context.defaultWorkerCount == 1)
        #expect(context.cpuModel == "Test CPU 9000" && context.physicalCores == 3 && context.sockets == 2 && context.numaNodes == 2)
        #expect(context.allowedCPUs == "0-1,3" && context.allowedCPUCount == 3 && context.memoryAvailableBytes == 2 << 20)
        #expect(context.topologySummary.contains("3 cores, 2 sockets, 2 NUMA nodes"))
    }

    @Test func tableAndMarkdownHaveOneRowPerCell() throws {
        let report = try sampleReport()
        let markdown = report.markdown.split(separator: "\n")
        #expect(markdown.count == 2 + report.results.count)
        #expect(markdown.allSatisfy { $0.hasPrefix("|") && $0.hasSuffix("|") })
        let text = report.text.split(separator: "\n")
        #expect(text.count == 6 + report.results.count)
        #expect(text.contains { $0.hasPrefix("huge pages auto: ") })
        #expect(text.contains { $0.contains("FAILED: c crashed on run 1") })
    }

    @Test func benchComparisonMatchesCellsAndTestsThem() throws {
        let a = [(key: "x|k|i32|1|1|p|m", samples: [10.0, 11, 12, 13, 14]), (key: "only-a", samples: [1.0])]
        let b = [(key: "x|k|i32|1|1|p|m", samples: [20.0, 21, 22, 23, 24]), (key: "only-b", samples: [1.0])]
        let comparison = BenchComparison(baseline: a, candidate: b)
        #expect(comparison.rows.count == 1 && comparison.unmatched == ["only-a", "only-b"])
        #expect(comparison.rows[0].verdict == .slower)
        let csv = parseCSV(comparison.csv)
        #expect(csv[1][0] == "x" && csv[1].last == "slower")
    }

    /// With many cells a p just under 0.05 is not enough: Holm's adjustment decides.
    @Test func benchComparisonAdjustsForManyCells() throws {
        let slower = (baseline: [10.0, 11, 12, 13, 14], candidate: [20.0, 21, 22, 23, 24])  // p = 2/252 alone
        let same = (baseline: [10.0, 12, 14], candidate: [11.0, 13, 15])
        func cells(_ count: Int) -> (a: [(key: String, samples: [Double])], b: [(key: String, samples: [Double])]) {
            let keys = (0..<count).map { "e\($0)|k|i32|1|1|p|m|auto" }
            return ([(keys[0], slower.baseline)] + keys.dropFirst().map { ($0, same.baseline) },
                    [(keys[0], slower.candidate)] + keys.dropFirst().map { ($0, same.candidate) })
        }
        let few = cells(2), many = cells(10)
        #expect(BenchComparison(baseline: few.a, candidate: few.b).rows[0].verdict == .slower)  // 2 × 0.0079 < 0.05
        let adjusted = BenchComparison(baseline: many.a, candidate: many.b)
        #expect(adjusted.rows[0].comparison.test.pValue < 0.05 && adjusted.rows[0].holmPValue > 0.05)
        #expect(adjusted.rows[0].verdict == .noise)
        #expect(adjusted.text.contains("after Holm's adjustment across the 10 rows"))
    }

    /// A saved /1 document still compares: against /2, on single jobs (the
    /// wake-up samples of /2's batched cells), and the report says so.
    @Test func benchComparisonReadsThePreviousSchema() throws {
        func document(_ schema: String, _ cells: [[String: Any]]) throws -> Data {
            try JSONSerialization.data(withJSONObject: ["schema": schema, "cells": cells])
        }
        func cell(_ size: Int, samples: [Double], jobs: Int? = nil, wake: [Double]? = nil) -> [String: Any] {
            var cell: [String: Any] = ["engine": "lockfree-pool", "kernel": "absdist.sum", "dtype": "i32", "size_elements": size,
                                       "workers": 2, "pin": "compact", "mem": "first-touch", "status": "ok", "samples_ns": samples]
            cell["jobs_per_sample"] = jobs
            cell["samples_wake_ns"] = wake
            return cell
        }
        let old = try BenchComparison.document(fromJSON: try document("unlocked-bench/1", [
            cell(100_000, samples: [40, 41, 42, 43, 44]), cell(1 << 26, samples: [100, 101, 102, 103, 104]),
        ]), name: "old.json")
        let new = try BenchComparison.document(fromJSON: try document("unlocked-bench/2", [
            cell(100_000, samples: [5, 5, 5, 5, 5], jobs: 200, wake: [40, 41, 42, 43, 44]),
            cell(1 << 26, samples: [100, 101, 102, 103, 104], jobs: 1),
        ]), name: "new.json")
        let mixed = BenchComparison(baseline: old, candidate: new)
        #expect(mixed.rows.map(\.candidateMedian) == [42, 102] && mixed.rows.allSatisfy { $0.fields.last == "time" })
        #expect(mixed.notes.count == 1 && mixed.text.contains("unlocked-bench/1 against unlocked-bench/2"))
        // Two /2 documents: steady samples, and wake-ups as a series of their own.
        let same = BenchComparison(baseline: new, candidate: new)
        #expect(same.rows.map { $0.fields.last } == ["time", "wake-up", "time"] && same.notes.isEmpty)
        #expect(same.rows[0].candidateMedian == 5 && same.rows[1].candidateMedian == 42)
        #expect(throws: UnlockedError.self) { _ = try BenchComparison.document(fromJSON: try document("unlocked-bench/9", []), name: "x") }
        // An unknown schema is quoted: the bench-compare fuzzer found a DEL reaching the message.
        let error = try #require(throws: UnlockedError.self) {
            _ = try BenchComparison.document(fromJSON: try document("unlocked-bench/2\u{7f}\n", []), name: "x")
        }
        #expect(error.message.contains("schema unlocked-bench/2\\u{7f}\\u{a};"))
    }

    /// `--compare` reads only what a bench could have written: finite,
    /// non-negative timings and positive counts.
    @Test(arguments: [
        (#"{"samples_ns": [-5, 1, 2]}"#, "has the sample -5.0 ns"),
        (#"{"samples_ns": [1e308, 1, 2]}"#, "has the sample 1e+308 ns"),
        (#"{"samples_ns": [1, 2], "samples_wake_ns": [3, -1]}"#, "has the sample -1.0 ns"),
        (#"{"size_elements": 0}"#, "has 0 elements"),
        (#"{"workers": -2}"#, "and -2 workers"),
        (#"{"size_elements": 1180591620717411303424}"#, "a cell lacks"),
    ])
    func compareRefusesImpossibleValues(change: String, message: String) throws {
        var cell: [String: Any] = ["engine": "sequential", "kernel": "absdist.sum", "dtype": "i32", "size_elements": 1000,
                                   "workers": 1, "pin": "compact", "mem": "first-touch", "status": "ok", "samples_ns": [1.0, 2, 3]]
        cell.merge(try #require(JSONSerialization.jsonObject(with: Data(change.utf8)) as? [String: Any])) { $1 }
        let data = try JSONSerialization.data(withJSONObject: ["schema": "unlocked-bench/2", "cells": [cell]])
        expectError(.badData, containing: message) { try BenchComparison.document(fromJSON: data, name: "x.json") }
    }

    /// Two cells of one combination in a document: the comparison could only
    /// pair one of them with the other file's cell, so the file is refused
    /// (found by the bench-compare fuzzer: a file compared with itself said "faster").
    @Test func benchCompareRefusesTwoCellsOfOneCombination() {
        func cell(_ samples: [Double]) -> [String: Any] {
            ["engine": "gcd", "kernel": "absdist.sum", "dtype": "i32", "size_elements": 1000, "workers": 2,
             "pin": "compact", "mem": "first-touch", "status": "ok", "samples_ns": samples]
        }
        let document = try! JSONSerialization.data(withJSONObject: ["schema": "unlocked-bench/2", "cells": [cell([1, 2, 3]), cell([7, 8, 9])]])
        expectError(.badData, containing: "A: two cells of gcd absdist.sum i32 1000 2 compact first-touch auto; a bench document has one cell per combination") {
            _ = try BenchComparison(baselineJSON: document, candidateJSON: document, baselineName: "A", candidateName: "B")
        }
    }

    /// A '|' inside a name made the table split a key into eight columns and
    /// trap (found by the bench-compare fuzzer).
    @Test func benchCompareRefusesPipesInNames() throws {
        let cell: [String: Any] = ["engine": "gcd|x", "kernel": "absdist.sum", "dtype": "i32", "size_elements": 1000, "workers": 2,
                                   "pin": "compact", "mem": "first-touch", "status": "ok", "samples_ns": [1.0, 2, 3]]
        let document = try JSONSerialization.data(withJSONObject: ["schema": "unlocked-bench/2", "cells": [cell]])
        expectError(.badData, containing: "A: a cell's name 'gcd|x' contains '|'") {
            _ = try BenchComparison(baselineJSON: document, candidateJSON: document, baselineName: "A", candidateName: "B").text
        }
    }

    @Test func benchCompareEndToEnd() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cmp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var paths: [String] = []
        for name in ["a.json", "b.json"] {
            let run = try CommandLineTool.run(["bench", "--engines", "sequential", "--sizes", "2000", "--reps", "5", "--json"])
            #expect(run.status == 0, "\(run.stderr)")
            let path = directory.appendingPathComponent(name).path
            try Data(run.stdout.utf8).write(to: URL(fileURLWithPath: path))
            paths.append(path)
        }
        let outcome = try CommandLineTool.run(["bench", "--compare"] + paths + ["--json"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        let cells = try #require(object["cells"] as? [[String: Any]])
        // 2000 elements take microseconds: batched, so a wake-up series beside the time, unless a
        // loaded machine made a job slow enough that either run timed single jobs.
        let batched = try paths.allSatisfy { path in
            let run = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
            return ((run["cells"] as? [[String: Any]])?.first?["jobs_per_sample"] as? Int ?? 1) > 1
        }
        let key = "sequential|absdist.sum|i32|2000|1|compact|first-touch|auto"
        #expect(cells.map { $0["key"] as? String } == (batched ? [key, key + "|wake-up"] : [key]))
        #expect(cells.allSatisfy { $0["median_ratio"] is Double && $0["p_value"] is Double })
        let missing = try CommandLineTool.run(["bench", "--compare", paths[0], directory.appendingPathComponent("none.json").path])
        #expect(missing.status == 66)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: paths[1]))
        #expect(try CommandLineTool.run(["bench", "--compare"] + paths).status == 65)
    }
}
