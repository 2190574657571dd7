import Foundation
import Testing
import UnlockedMPI

/// UnlockedMPI under a real `mpirun` (Open MPI), driven through the `unlocked-mpi-probe`
/// executable. Serialized: each case starts up to three ranks on a small machine.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct MPIRunTests {
    /// Values whose block sums, for one to three ranks, exceed 2^64 and even 2^128 while
    /// the total is 3: 2·(2^128 − 1) − 4·2^127 + 5.
    static let beyond128 = [String(UInt128.max), String(UInt128.max), String(Int128.min), String(Int128.min),
                            String(Int128.min), String(Int128.min), "5"]
    /// Three times 2^64 − 1 minus seven, a total just past 64 bits.
    static let beyond64 = [String(UInt64.max), "-1", String(UInt64.max), "-2", String(UInt64.max), "-4"]

    @Test(arguments: [1, 2, 3])
    func exactSumsAreTheSameForEveryRankCount(ranks: Int) throws {
        for (values, expected) in [(Self.beyond128, "3"),
                                   (Self.beyond64, String(3 * UInt128(UInt64.max) - 7)),
                                   ([String(UInt128.max), String(UInt128.max), "1"],
                                    "680564733841876926926749214863536422911"),    // 2^129 − 1
                                   (["-7", String(Int128.min), "2"], "-170141183460469231731687303715884105733")] {
            let run = try MPIRun.probe(ranks: ranks, ["--values", values.joined(separator: ",")])
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.value("size") == String(ranks))
            #expect(run.value("sum") == expected, "values \(values)")
        }
    }

    /// Sums of doubles representable exactly come out exact, and every record arrives at
    /// rank 0 in rank order with its node-local rank.
    @Test(arguments: [1, 2, 3])
    func doublesAndGatheredRecords(ranks: Int) throws {
        let run = try MPIRun.probe(ranks: ranks, ["--values", "1,2,3,4,5", "--doubles", "0.5,0.25,1000,-0.125,2"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.value("double")?.hasPrefix("1002.625 ") == true)
        #expect(run.value("thread_level") == "MPI_THREAD_FUNNELED")
        let records = run.values("record").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(records.count == ranks)
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init)
        var counted = 0
        for (rank, record) in records.enumerated() {
            #expect(record?["rank"] as? Int == rank)
            #expect(record?["local_rank"] as? Int == rank)
            #expect(record?["local_size"] as? Int == ranks)
            #expect((record?["host"] as? String)?.split(separator: ".").first.map(String.init) == host)
            counted += record?["values"] as? Int ?? 0
        }
        #expect(counted == 5)
    }

    /// Without a launcher the probe runs alone and MPI stays uninitialised.
    @Test func noLauncherNoMPI() throws {
        let run = try MPIRun.run(MPIRun.probeExecutable, ["--values", Self.beyond128.joined(separator: ",")])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.value("launch") == "none")
        #expect(run.value("initialized") == "0")
        #expect(run.value("sum") == "3")
    }

    /// Another MPI's launcher (PMI variables, no server Open MPI can reach) would make a
    /// 1-rank world of each task: refused with one line.
    @Test func singletonWorldIsRefused() throws {
        let run = try MPIRun.run(MPIRun.probeExecutable, [], environment: ["PMI_RANK": "0", "PMI_SIZE": "2"])
        #expect(run.status == 64)
        #expect(run.stderrLines == ["unlocked-mpi-probe: \(MPIError.singletonTasks(tasks: 2, task: 0))"])
    }

    /// A failure on one rank ends every rank with that rank's line and exit code, printed
    /// once, before any rank goes on to the sums.
    @Test(arguments: [(ranks: 3, rank: 1, code: Int32(66)), (ranks: 2, rank: 0, code: Int32(65))])
    func agreedFailureEndsEveryRank(_ failure: (ranks: Int, rank: Int, code: Int32)) throws {
        let run = try MPIRun.probe(ranks: failure.ranks, ["--values", "1,2,3", "--fail", "\(failure.rank):\(failure.code)"],
                                   quiet: true)
        #expect(run.status == failure.code)
        #expect(run.stderrLines == ["unlocked-mpi-probe: rank \(failure.rank) on \(MPIRun.host): failure on purpose"])
        #expect(run.value("sum") == nil)
    }

    /// One rank aborting alone, while the others wait in a barrier, ends them all.
    @Test func unilateralAbortEndsEveryRank() throws {
        let run = try MPIRun.probe(ranks: 3, ["--abort", "2:65"], quiet: true)
        #expect(run.status == 65)
        #expect(run.stderrLines == ["unlocked-mpi-probe: rank 2 on \(MPIRun.host): abort on purpose"])
    }

    /// A rank killed outright ends the job; mpirun names the rank and the node.
    @Test func deadRankEndsTheJob() throws {
        let run = try MPIRun.probe(ranks: 2, ["--die", "1"])
        #expect(run.status == 128 + SIGKILL)
        #expect(run.stderr.contains("rank 1") && run.stderr.contains("node \(MPIRun.host)"), "\(run.stderr)")
    }
}

/// Runs a program to its end with output captured in files (no pipes to drain), killing
/// it after a deadline so a hung launcher fails the test instead of stalling it.
struct MPIRun {
    var status: Int32
    var stdout: String
    var stderr: String

    var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
    func values(_ key: String) -> [String] {
        stdout.split(separator: "\n").compactMap { line in
            line.hasPrefix(key + "=") ? String(line.dropFirst(key.count + 1)) : nil
        }
    }
    func value(_ key: String) -> String? { values(key).first }

    static let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? ""

    /// An executable built beside this test bundle (the test target depends on it).
    static func built(_ name: String) -> URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        while !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent(name).path),
              directory.path != "/" {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent(name)
    }

    static var probeExecutable: URL { built("unlocked-mpi-probe") }
    static var unlockedExecutable: URL { built("unlocked") }

    /// Root may run `mpirun` through Open MPI's opt-in variables.
    static let rootEnvironment = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]

    /// `mpirun -np ranks --oversubscribe probe arguments…`; `quiet` adds `-q`, which keeps
    /// Open MPI's own banners off stderr.
    static func probe(ranks: Int, _ arguments: [String], quiet: Bool = false) throws -> MPIRun {
        try run(URL(fileURLWithPath: "/usr/bin/mpirun"),
                (quiet ? ["-q"] : []) + ["-np", String(ranks), "--oversubscribe", probeExecutable.path] + arguments,
                environment: rootEnvironment)
    }

    /// `mpirun -q -np ranks --oversubscribe unlocked arguments…`, with `:`-separated
    /// further programs (`mpirun A : B`) for each of `others`: one rank each.
    static func unlocked(ranks: Int, _ arguments: [String], others: [[String]] = [],
                         directory: URL? = nil) throws -> MPIRun {
        var command = ["-q", "--oversubscribe", "-np", String(ranks), unlockedExecutable.path] + arguments
        for other in others { command += [":", "-np", "1", unlockedExecutable.path] + other }
        return try run(URL(fileURLWithPath: "/usr/bin/mpirun"), command, environment: rootEnvironment, directory: directory)
    }

    static func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:],
                    directory workingDirectory: URL? = nil, timeout: TimeInterval = 60) throws -> MPIRun {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("uk-mpi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outURL = directory.appendingPathComponent("stdout"), errURL = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        defer { try? out.close(); try? err.close() }

        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        try process.run()
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        process.waitUntilExit()
        watchdog.cancel()
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus
                                                                   : process.terminationStatus
        return MPIRun(status: status,
                      stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                      stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }
}
