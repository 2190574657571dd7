import Foundation
import Testing

/// The real `unlocked` under a real `mpirun` (1 to 3 ranks, `--oversubscribe` on this
/// 2-core machine): answers against one process, `.npy` in and out, agreed errors, the
/// per-rank report, and `bench` across ranks. Serialized: every case starts ranks.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct ClusterRunTests {
    /// A scratch directory with numpy-made inputs: extremes of int64 (sums far past 64
    /// bits, positive and negative) and a 2-D int32 array.
    static let directory: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("uk-cluster-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let script = """
        import numpy as np
        r = np.random.RandomState(3)
        x = r.choice(np.array([-2**63, 2**63 - 1, -7, 0, 50, 2**62], dtype=np.int64), 10007)
        np.save('extremes.npy', x)
        np.save('grid.npy', r.randint(-2**31, 2**31 - 1, size=(333, 7), dtype=np.int64).astype(np.int32))
        np.save('two.npy', np.arange(2, dtype=np.int32))
        """
        let python = try! MPIRun.run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script], directory: url)
        precondition(python.status == 0, "numpy fixtures: \(python.stderr)")
        return url
    }()

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// `unlocked arguments… --json` in one process, without a launcher: the reference.
    static func single(_ arguments: [String]) throws -> [String: Any] {
        let run = try MPIRun.run(MPIRun.unlockedExecutable, arguments + ["--json"], directory: directory)
        #expect(run.status == 0, "\(arguments): \(run.stderr)")
        return try json(run)
    }

    static func json(_ run: MPIRun) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)\n\(run.stderr)")
    }

    /// Ranks' blocks are contiguous and cover the array in rank order; each rank planned
    /// inside its launcher's cpuset and every bound worker ran on a CPU of its plan.
    static func checkRanks(_ report: [String: Any], ranks: Int, total: Int) throws {
        let rows = try #require(report["ranks"] as? [[String: Any]])
        #expect(rows.count == ranks)
        var next = 0
        for (rank, row) in rows.enumerated() {
            #expect(row["rank"] as? Int == rank)
            #expect(row["first_index"] as? Int == next)
            next += row["elements"] as? Int ?? 0
            let launcher = Set(try cpus(row["launcher_cpus"])), planned = Set(try cpus(row["planned_cpus"]))
            #expect(!planned.isEmpty && planned.isSubset(of: launcher), "rank \(rank): \(planned) outside \(launcher)")
            let workers = try #require(row["workers"] as? [[String: Any]])
            #expect(!workers.isEmpty)
            for worker in workers where worker["bound"] as? Bool == true {
                #expect(planned.contains(worker["observed_cpu"] as? Int ?? -1), "rank \(rank): \(worker)")
            }
            #expect((row["samples_compute_ns"] as? [Double])?.count == report["reps"] as? Int)
            #expect((row["samples_reduce_ns"] as? [Double])?.count == report["reps"] as? Int)
        }
        #expect(next == total)
    }

    /// "0-2,5" as CPU numbers.
    static func cpus(_ value: Any?) throws -> [Int] {
        let text = try #require(value as? String)
        return try text.split(separator: ",").flatMap { piece -> [Int] in
            let bounds = piece.split(separator: "-").compactMap { Int($0) }
            let low = try #require(bounds.first)
            return Array(low...(bounds.last ?? low))
        }
    }

    /// Generated data is a function of the global index: every rank count gives one
    /// process's integers, bit for bit (a size no rank count divides).
    @Test(arguments: [1, 2, 3])
    func generatedIntegersMatchOneProcess(ranks: Int) throws {
        for (kernel, dtype) in [("absdist.sum", "i32"), ("stream.sum", "i64")] {
            let arguments = ["run", "--kernel", kernel, "--dtype", dtype, "--size", "100003", "--seed", "9", "--reps", "2"]
            let reference = try Self.single(arguments)
            let job = try MPIRun.unlocked(ranks: ranks, arguments + ["--json"])
            #expect(job.status == 0, "\(job.stderr)")
            let report = try Self.json(job)
            #expect(report["schema"] as? String == "unlocked-run-ranks/1")
            #expect(report["result"] as? String == reference["result"] as? String, "\(kernel) \(dtype)")
            #expect(report["ranks_count"] as? Int == ranks)
            #expect(report["launcher"] as? String == "mpirun")
            #expect(report["thread_level"] as? String == "MPI_THREAD_FUNNELED")
            #expect((report["launcher_variables"] as? [String: String])?["OMPI_COMM_WORLD_SIZE"] == String(ranks))
            try Self.checkRanks(report, ranks: ranks, total: 100_003)
        }
    }

    /// Float sums are added in double in rank order: within the documented bound of the
    /// one-process sum (which has the same bound against the exact one).
    @Test func floatSumWithinTheBound() throws {
        let arguments = ["run", "--kernel", "absdist.sum", "--dtype", "f64", "--size", "100003", "--reps", "1"]
        let reference = try #require(Double(try Self.single(arguments)["result"] as? String ?? ""))
        let report = try Self.json(try MPIRun.unlocked(ranks: 3, arguments + ["--json"]))
        let value = try #require(Double(report["result"] as? String ?? ""))
        #expect(abs(value - reference) <= 2 * 100_003 * 0x1p-53 * reference)
    }

    /// An .npy input is mapped by each rank at its block: 128-bit sums of int64 extremes
    /// (signed and unsigned) equal one process's.
    @Test(arguments: [1, 2, 3])
    func npyInputMatchesOneProcess(ranks: Int) throws {
        for kernel in ["absdist.sum", "stream.sum"] {
            let arguments = ["run", "--input", Self.path("extremes.npy"), "--kernel", kernel, "--reps", "1"]
            let reference = try Self.single(arguments)
            let report = try Self.json(try MPIRun.unlocked(ranks: ranks, arguments + ["--json"]))
            #expect(report["result"] as? String == reference["result"] as? String, "\(kernel)")
            try Self.checkRanks(report, ranks: ranks, total: 10_007)
        }
    }

    /// Map output: one .npy written by every rank at its offset, which numpy reads back as
    /// |x − 50| of the 2-D input; nothing hidden is left beside it.
    @Test(arguments: [1, 2, 3])
    func npyOutputIsOneFile(ranks: Int) throws {
        let output = "grid-\(ranks).npy"
        let job = try MPIRun.unlocked(ranks: ranks, ["run", "--input", "grid.npy", "--kernel", "absdist.map", "--output", output,
                                                     "--reps", "2", "--json"], directory: Self.directory)
        #expect(job.status == 0, "\(job.stderr)")
        let report = try Self.json(job)
        let reference = try Self.single(["run", "--input", "grid.npy", "--kernel", "absdist.map", "--reps", "1"])
        #expect(report["result"] as? String == reference["result"] as? String)
        let check = """
        import numpy as np
        x = np.load('grid.npy'); d = np.load('\(output)')
        assert d.dtype == np.uint32 and d.shape == x.shape, (d.dtype, d.shape)
        assert (d == np.abs(x.astype(np.int64) - 50).astype(np.uint32)).all()
        """
        let python = try MPIRun.run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", check], directory: Self.directory)
        #expect(python.status == 0, "\(python.stderr)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    /// A bad input on one rank only (`mpirun A : B`): every rank ends with that rank's
    /// one line and exit code, within seconds.
    @Test func missingFileOnOneRank() throws {
        let started = Date()
        let job = try MPIRun.unlocked(ranks: 1, ["run", "--input", "extremes.npy"], others: [["run", "--input", "absent.npy"]],
                                      directory: Self.directory)
        #expect(job.status == 66)
        #expect(job.stderrLines == ["unlocked: rank 1 on \(MPIRun.host): absent.npy: cannot open: No such file or directory"])
        #expect(job.stdout.isEmpty)
        #expect(Date().timeIntervalSince(started) < 20)
    }

    /// Errors every rank finds alike are printed once, with their exit code.
    @Test func agreedErrors() throws {
        let cases: [([String], Int32, String)] = [
            (["run", "--input", "two.npy"], 65, "two.npy: 2 elements are fewer than the 3 ranks (each needs at least one)"),
            (["run", "--input", "grid.npy", "--kernel", "absdist.map", "--output", "/dev/null"], 64,
             "--output /dev/null: not a regular file"),
            (["run", "--engine", "processes-shm"], 64, "--engine processes-shm: worker processes are not run under MPI"),
            (["run", "--size", "2"], 64, "--size 2: fewer elements than the 3 ranks"),
        ]
        for (arguments, code, message) in cases {
            let job = try MPIRun.unlocked(ranks: 3, arguments, directory: Self.directory)
            #expect(job.status == code, "\(arguments): \(job.stderr)")
            #expect(job.stderrLines.count == 1 && job.stderrLines.first?.hasPrefix("unlocked: rank 0 on \(MPIRun.host): \(message)") == true,
                    "\(arguments): \(job.stderr)")
        }
        let topo = try MPIRun.unlocked(ranks: 2, ["topo"])
        #expect(topo.status == 64)
        #expect(topo.stderrLines == ["unlocked: topo runs as one process, not under mpirun (only run and bench run across ranks)"])
        let mixed = try MPIRun.unlocked(ranks: 1, ["run", "--reps", "2"], others: [["run", "--reps", "3"]])
        #expect(mixed.status == 64)
        #expect(mixed.stderr.contains("rank 1 was started with other arguments than rank 0"), "\(mixed.stderr)")
    }

    /// srun without an MPI plugin starts R tasks that would each be a whole job: task 0
    /// says so in one line, every task exits 64, none runs.
    @Test func singletonTasksAreRefused() throws {
        let step = ["SLURM_JOB_ID": "7", "SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "2", "SLURM_NTASKS": "2"]
        let first = try MPIRun.run(MPIRun.unlockedExecutable, ["run"], environment: step.merging(["SLURM_PROCID": "0"]) { $1 })
        #expect(first.status == 64)
        #expect(first.stderrLines.count == 1 && first.stderr.contains("2 tasks were started without MPI wire-up"), "\(first.stderr)")
        #expect(first.stdout.isEmpty)
        let second = try MPIRun.run(MPIRun.unlockedExecutable, ["run"], environment: step.merging(["SLURM_PROCID": "1"]) { $1 })
        #expect(second.status == 64)
        #expect(second.stderr.isEmpty && second.stdout.isEmpty)
        // Another MPI's launcher (PMI variables this Open MPI cannot use): MPI itself sees a
        // world of one; task 0 says so, the others exit quietly.
        for (task, lines) in [("0", 1), ("1", 0)] {
            let other = try MPIRun.run(MPIRun.unlockedExecutable, ["run"], environment: ["PMI_RANK": task, "PMI_SIZE": "2"])
            #expect(other.status == 64)
            #expect(other.stderrLines.count == lines && other.stdout.isEmpty, "task \(task): \(other.stderr)")
        }
    }

    /// The text and CSV reports: one from rank 0, a row per rank.
    @Test func textAndCSVReports() throws {
        let text = try MPIRun.unlocked(ranks: 2, ["run", "--size", "1e5", "--reps", "2"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.components(separatedBy: "\nresult ").count == 2, "one report: \(text.stdout)")
        #expect(text.stdout.contains("job         2 ranks on 1 host (mpirun, MPI_THREAD_FUNNELED)"))
        for line in ["reduction   median", "skew        median", "launch      joining MPI"] { #expect(text.stdout.contains(line)) }
        let csv = try MPIRun.unlocked(ranks: 2, ["run", "--size", "1e5", "--reps", "2", "--csv"])
        let lines = csv.stdout.split(separator: "\n")
        #expect(lines.count == 3 && lines[0].hasPrefix("rank,host,local_rank"), "\(csv.stdout)")
        #expect(lines.dropFirst().map { $0.split(separator: ",")[0] } == ["0", "1"])
    }

    /// A rank killed outright ends the job within seconds; mpirun names the rank and host.
    @Test func deadRankEndsTheJob() throws {
        let process = Process()
        // SIGTERM to mpirun, which then ends its ranks, if this test process dies first:
        // a million repetitions must not outlive it (see CommandLineTool.process).
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--pdeathsig", "TERM", "--", "/usr/bin/mpirun", "-np", "2", "--oversubscribe",
                             MPIRun.unlockedExecutable.path, "run", "--size", "4Mi", "--reps", "1000000"]
        process.environment = ProcessInfo.processInfo.environment.merging(MPIRun.rootEnvironment) { $1 }
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        // Rank 1: the child of mpirun whose environment says so, once it is computing.
        var victim: Int32?
        for _ in 0..<600 where victim == nil {
            Thread.sleep(forTimeInterval: 0.1)
            victim = Self.children(of: process.processIdentifier).first { pid in
                (try? String(contentsOfFile: "/proc/\(pid)/environ", encoding: .utf8))?
                    .split(separator: "\0").contains("OMPI_COMM_WORLD_RANK=1") == true
            }
        }
        let pid = try #require(victim)
        Thread.sleep(forTimeInterval: 2)
        let killed = Date()
        kill(pid, SIGKILL)
        process.waitUntilExit()
        #expect(Date().timeIntervalSince(killed) < 15)
        #expect(process.terminationStatus != 0)
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(stderr.contains("rank 1") && stderr.contains("node \(MPIRun.host)"), "\(stderr)")
    }

    static func children(of parent: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == parent
        }
    }

    /// bench across ranks: the same cells per rank count, the same answer as one process,
    /// and efficiency against the 1-rank run; weak scaling grows the job with the ranks.
    @Test func benchAcrossRanks() throws {
        let reference = try Self.single(["run", "--size", "100003", "--reps", "1"])
        let strong = try Self.json(try MPIRun.unlocked(ranks: 2, ["bench", "--engines", "sequential,lockfree-pool", "--workers", "1",
                                                                   "--sizes", "100003", "--reps", "3", "--json"]))
        #expect(strong["schema"] as? String == "unlocked-bench-ranks/1")
        let cells = try #require(strong["cells"] as? [[String: Any]])
        #expect(cells.map { $0["ranks"] as? Int } == [1, 2, 1, 2])
        #expect(cells.map { $0["engine"] as? String } == ["sequential", "sequential", "lockfree-pool", "lockfree-pool"])
        for cell in cells {
            #expect(cell["status"] as? String == "ok", "\(cell)")
            #expect(cell["result"] as? String == reference["result"] as? String)
            #expect(cell["size_elements"] as? Int == 100_003)
            #expect((cell["parallel_efficiency"] as? Double ?? 0) > 0)
            #expect((cell["compute_median_ns_by_rank"] as? [Double])?.count == cell["ranks"] as? Int)
        }
        let twice = try Self.single(["run", "--size", "200006", "--reps", "1"])
        let weak = try Self.json(try MPIRun.unlocked(ranks: 2, ["bench", "--scaling", "weak", "--ranks", "2", "--engines", "sequential",
                                                                 "--sizes", "100003", "--reps", "2", "--json"]))
        let cell = try #require((weak["cells"] as? [[String: Any]])?.first)
        #expect(cell["size_elements"] as? Int == 200_006)
        #expect(cell["size_per_rank_elements"] as? Int == 100_003)
        #expect(cell["result"] as? String == twice["result"] as? String)
    }
}
