import Foundation
import Testing
@testable import Unlocked

/// `bench --chunk` and worker counts beyond the allowed CPUs: parsing, the
/// cells they make, what each cell records, and `--compare` keyed by chunk.
@Suite struct BenchAxesTests {
    @Test func chunkListsParseCountsAndAuto() throws {
        #expect(try parseChunkList("1Ki,16Ki,256Ki,auto") == [1024, 16 << 10, 256 << 10, nil])
        #expect(try parseChunkList("auto") == [nil])
        #expect(try parseChunkList("auto,1Ki,1024,auto,4e3") == [nil, 1024, 4000])
        for bad in ["0", "fast", "1Ki,,auto", "", "-5", "1.5", "AUTO"] {
            let piece = bad.split(separator: ",", omittingEmptySubsequences: false).first { $0 != "1Ki" && $0 != "auto" } ?? ""
            expectError(.usage, containing: "--chunk \(bad): '\(piece)' is not a chunk size (accepted: element counts such as 1Ki,16Ki,256Ki, or auto)") {
                try parseChunkList(bad)
            }
        }
    }

    /// `Kx` is K times the allowed CPUs; a range ending in one runs every count up to it.
    @Test(arguments: [1, 2, 3, 8])
    func multiplesOfTheAllowedCPUsExpand(cpus: Int) throws {
        #expect(try parseWorkerList("1..2x", maximum: cpus) == Array(1...(2 * cpus)))
        #expect(try parseWorkerList("1,max,2x,4x", maximum: cpus) == [1, cpus, 2 * cpus, 4 * cpus].reduce(into: []) { if !$0.contains($1) { $0.append($1) } })
        #expect(try parseWorkerList("2x..3x", maximum: cpus) == Array((2 * cpus)...(3 * cpus)))
        #expect(try parseWorkerList("1x", maximum: cpus) == [cpus])
    }

    @Test func plainCountsAboveTheCPUsNeedOversubscribe() throws {
        expectError(.usage, containing: "--workers 1,2,4,8: 4 is more than the 2 allowed CPUs (accepted: 1...2, max, Kx for K × 2 as in 2x or 1..4x, or --oversubscribe)") {
            try parseWorkerList("1,2,4,8", maximum: 2)
        }
        expectError(.usage, containing: "--workers 1..3: 3 is more than the 2 allowed CPUs") { try parseWorkerList("1..3", maximum: 2) }
        #expect(try parseWorkerList("1,2,4,8", maximum: 2, oversubscribe: true) == [1, 2, 4, 8])
        #expect(try parseWorkerList("1..3", maximum: 2, oversubscribe: true) == [1, 2, 3])
        // Never beyond what a placement plan takes, flag or not.
        expectError(.usage, containing: "5000 is more than 4096 workers") { try parseWorkerList("5000", maximum: 2, oversubscribe: true) }
        expectError(.usage, containing: "3000x is more than 4096 workers (accepted: up to 2048x)") { try parseWorkerList("3000x", maximum: 2) }
        for bad in ["0x", "1.5x", "x", "-1x", "2x..1"] {
            #expect(throws: UnlockedError.self, "\(bad)") { try parseWorkerList(bad, maximum: 2) }
        }
        // `--ranks` has no multiples: its maximum is the job's ranks.
        expectError(.usage, containing: "'2x' is not a rank count") {
            try parseCountList("2x", maximum: 4, option: "--ranks", noun: "rank", limit: "ranks of this job")
        }
    }

    /// The request marks the cells beyond the allowed CPUs, and engines
    /// that take no chunk get one cell, `auto`.
    @Test func requestPlansChunksAndOversubscribedCells() throws {
        var context = RunContext.current()
        context.allowedCPUCount = 2
        var request = BenchRequest()
        request.engines = "sequential,spawn,locked-pool"
        request.workers = "1..2x"
        request.chunks = "1Ki,auto"
        let plan = try request.plan(context: context, catalog: KernelCatalog(), runner: EngineCellRunner())
        let labels = plan.cells.map { "\($0.engine)/\($0.workers)/\($0.chunkLabel)/\($0.oversubscribe)" }
        #expect(labels == ["sequential/1/auto/false"]
            + (1...4).map { "spawn/\($0)/auto/\($0 > 2)" }
            + (1...4).flatMap { ["locked-pool/\($0)/1024/\($0 > 2)", "locked-pool/\($0)/auto/\($0 > 2)"] })
        request.workers = "1,4"
        expectError(.usage, containing: "--workers 1,4: 4 is more than the 2 allowed CPUs") {
            try request.plan(context: context, catalog: KernelCatalog(), runner: EngineCellRunner())
        }
        request.oversubscribe = true
        #expect(try request.plan(context: context, catalog: KernelCatalog(), runner: EngineCellRunner()).cells.contains { $0.workers == 4 && $0.oversubscribe })
    }

    /// A real sweep over one input: every engine and chunk size gives the
    /// same sum, each cell records the chunk it asked for and the one its
    /// engine used, and the report carries them with the oversubscription.
    @Test func cellsRecordChunkAndOversubscriptionWithEqualResults() throws {
        try ISA.initializeDispatch()
        let context = RunContext.current()
        let cpus = context.allowedCPUCount, size = 100_000
        let cells = SweepPlan.cells(engines: ["sequential", "lockfree-pool", "locked-pool", "auto"], kernels: ["absdist.sum"],
                                    dtypes: [.i32], sizes: [size], workers: [1, 2 * cpus], pins: ["compact"], mems: ["first-touch"],
                                    chunks: [1024, 16 << 10, nil], allowedCPUs: cpus)
        let plan = SweepPlan(cells: cells, warmup: 0, repetitions: .count(2), visits: .single, seed: 1, center: "50")
        let results = try BenchSweep(plan: plan, runner: EngineCellRunner()).run()
        #expect(results.allSatisfy { $0.status == .ok }, "\(results.map(\.status))")
        // sequential once (1 worker, auto); three engines × two worker counts × three chunks.
        #expect(results.count == 1 + 3 * 2 * 3)
        var data = [Int32](repeating: 0, count: size)
        data.withUnsafeMutableBytes { DataGenerator(seed: 1).fill($0.baseAddress!, dtype: .i32, range: 0..<size) }
        let expected = "\(data.reduce(0) { $0 + abs(Int($1) - 50) })"
        #expect(results.allSatisfy { $0.value.map { "\($0)" } == expected }, "\(results.map { "\($0.cell.key)=\(String(describing: $0.value))" })")

        let sequential = try #require(results.first { $0.cell.engine == "sequential" })
        #expect(sequential.cell.chunk == nil && sequential.chunkUsed == size)
        for result in results where result.cell.engine == "lockfree-pool" || result.cell.engine == "locked-pool" {
            let used = result.cell.chunk ?? ChunkPlan.automaticChunk(count: size, workers: result.cell.workers)
            #expect(result.chunkUsed == used, "\(result.cell.key)")
            #expect(result.cell.oversubscribe == (result.cell.workers > cpus))
        }

        // The plot draws a series per engine and chunk, not one line through every chunk.
        let series = try #require(BenchPlot(results: results).panels.first).series.map(\.name)
        #expect(series.contains("lockfree-pool, chunk 1024") && series.contains("lockfree-pool, chunk auto") && series.contains("sequential, chunk auto"))

        let report = BenchReport(context: context, plan: plan, results: results)
        #expect(report.showsChunkColumns && report.table.text.contains("×CPUs"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(jsonString(report.jsonObject).utf8)) as? [String: Any])
        let json = try #require(object["cells"] as? [[String: Any]])
        for (cell, result) in zip(json, results) {
            if let chunk = result.cell.chunk { #expect(cell["chunk_elements"] as? Int == chunk) } else { #expect(cell["chunk_elements"] as? String == "auto") }
            #expect(cell["chunk_used_elements"] as? Int == result.chunkUsed)
            #expect(cell["oversubscription_ratio"] as? Double == Double(result.cell.workers) / Double(cpus))
        }
        let parameters = try #require(object["parameters"] as? [String: Any])
        #expect((parameters["chunk_elements"] as? [Any])?.count == 3)
        let records = parseCSV(report.csv)
        let header = records[0]
        for (record, result) in zip(records.dropFirst(), results) {
            let field = { (name: String) in record[header.firstIndex(of: name)!] }
            #expect(field("chunk_elements") == result.cell.chunkLabel && Int(field("chunk_used_elements")) == result.chunkUsed)
            #expect(Double(field("oversubscription_ratio")) == Double(result.cell.workers) / Double(cpus))
        }
    }

    /// One chunk value and no oversubscription: today's table, unchanged.
    @Test func tableKeepsItsColumnsWithoutTheNewAxes() throws {
        let report = try sampleReport()
        #expect(!report.showsChunkColumns)
        let firstLine = try #require(report.table.text.split(separator: "\n").first)
        #expect(!firstLine.contains("chunk") && !firstLine.contains("×CPUs"))
        #expect(report.tableRows.allSatisfy { $0.count == BenchReport.headers.count })
    }

    /// Cells of two sweeps meet by chunk too; a document from before `--chunk` is `auto`.
    @Test func compareMatchesCellsByChunk() throws {
        func cell(_ chunk: Any?, _ samples: [Double]) -> [String: Any] {
            var cell: [String: Any] = ["engine": "lockfree-pool", "kernel": "absdist.sum", "dtype": "i32", "size_elements": 100_000,
                                       "workers": 2, "pin": "compact", "mem": "first-touch", "status": "ok", "samples_ns": samples]
            cell["chunk_elements"] = chunk
            return cell
        }
        func document(_ cells: [[String: Any]]) throws -> Data {
            try JSONSerialization.data(withJSONObject: ["schema": "unlocked-bench/2", "cells": cells])
        }
        let baseline = try document([cell(1024, [10, 11, 12, 13, 14]), cell(nil, [50, 51, 52, 53, 54])])
        let candidate = try document([cell("auto", [60, 61, 62, 63, 64]), cell(1024, [20, 21, 22, 23, 24]),
                                      cell(16384, [30, 31, 32, 33, 34])])
        let comparison = try BenchComparison(baselineJSON: baseline, candidateJSON: candidate, baselineName: "A", candidateName: "B")
        let prefix = "lockfree-pool|absdist.sum|i32|100000|2|compact|first-touch|"
        #expect(comparison.rows.map(\.key) == [prefix + "1024", prefix + "auto"])
        #expect(comparison.rows.map(\.baselineMedian) == [12, 52] && comparison.rows.map(\.candidateMedian) == [22, 62])
        #expect(comparison.rows.map { $0.fields[7] } == ["1024", "auto"] && comparison.rows.allSatisfy { $0.fields[8] == "time" })
        #expect(comparison.unmatched == [prefix + "16384"])
        #expect(comparison.table.text.contains("chunk"))
        let csv = parseCSV(comparison.csv)
        #expect(csv[0][7] == "chunk_elements" && csv[1][7] == "1024")
        // Only `auto` and positive counts are chunks.
        for bad: Any in ["fast", 0, -3, 1.5] {
            expectError(.badData, containing: "A: a cell has chunk_elements") {
                _ = try BenchComparison(baselineJSON: try document([cell(bad, [1, 2, 3])]), candidateJSON: candidate,
                                        baselineName: "A", candidateName: "B")
            }
        }
    }

    /// The CLI turns both kinds of bad value into one line and exit 64.
    @Test func badAxesExitWithUsage() throws {
        let cpus = RunContext.current().allowedCPUCount
        for (arguments, fragment) in [
            (["--chunk", "1Ki,big"], "--chunk 1Ki,big: 'big' is not a chunk size"),
            (["--workers", "1,\(cpus + 1)"], "--workers 1,\(cpus + 1): \(cpus + 1) is more than the \(cpus) allowed CPUs"),
        ] {
            let run = try CommandLineTool.run(["bench", "--engines", "sequential", "--sizes", "1000", "--reps", "1"] + arguments)
            #expect(run.status == 64, "\(run.stderr)")
            #expect(run.stderr.contains(fragment) && run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
        }
    }
}
