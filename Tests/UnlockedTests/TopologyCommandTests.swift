import Foundation
import Testing
import Unlocked

/// `unlocked topo` as a user runs it.
@Suite struct TopologyCommandTests {
    static let big = "pack:2 numa:2 core:8 pu:2"

    @Test func printsThePlanOfAnotherMachineAndSaysBindingIsSkipped() throws {
        let outcome = try CommandLineTool.run(["topo", "--topology", Self.big, "--workers", "4", "--pin", "spread"])
        #expect(outcome.status == 0)
        #expect(outcome.stdout.contains("binding skipped"))
        #expect(outcome.stdout.contains("worker 1    → PU P#32  core L#16  NUMA node P#2"))
        #expect(outcome.stdout.contains("NUMANode P#3"))
        #expect(outcome.stdout.contains("4 nodes"))
    }

    @Test func jsonHasTreeContextAndPlan() throws {
        let outcome = try CommandLineTool.run(["topo", "--json", "--topology", Self.big, "--pin", "numa:1", "--workers", "2"])
        #expect(outcome.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        let plan = try #require(object["plan"] as? [String: Any])
        let workers = try #require(plan["workers"] as? [[String: Any]])
        #expect(workers.compactMap { $0["os_pu"] as? Int } == [16, 18])
        #expect(workers.compactMap { $0["numa_node"] as? Int } == [1, 1])
        #expect(plan["binding_skipped"] is String)
        let context = try #require(object["context"] as? [String: Any])
        #expect(context["allowed_cpus"] as? String == "0-63")
        let topology = try #require(object["topology"] as? [String: Any])
        #expect((topology["pus"] as? [Any])?.count == 64)
    }

    @Test func withoutPlanOptionsOnlyTheTopologyIsShown() throws {
        let outcome = try CommandLineTool.run(["topo", "--json"])
        #expect(outcome.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        #expect(object["plan"] == nil)
        #expect((object["context"] as? [String: Any])?["is_this_machine"] as? Bool == true)
    }

    @Test func aSingleNodeMachineWorksAndSaysSo() throws {
        let outcome = try CommandLineTool.run(["topo", "--topology", "pack:1 core:2 pu:1", "--pin", "compact"])
        #expect(outcome.status == 0)
        #expect(outcome.stdout.contains("no NUMA information"))
    }

    @Test func contextListsSlurmAndOpenMPVariables() throws {
        let outcome = try CommandLineTool.run(["topo"], environment: ["SLURM_JOB_ID": "4242", "OMP_NUM_THREADS": "3"])
        #expect(outcome.status == 0)
        #expect(outcome.stdout.contains("SLURM_JOB_ID=4242"))
        #expect(outcome.stdout.contains("OMP_NUM_THREADS=3"))
    }

    @Test func xmlWrittenByLstopoLoads() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("unlocked-lstopo-\(UUID()).xml")
        defer { try? FileManager.default.removeItem(at: url) }
        let lstopo = Process()
        lstopo.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        lstopo.arguments = ["lstopo-no-graphics", "--input", Self.big, "--of", "xml", "-f", url.path]
        try lstopo.run()
        lstopo.waitUntilExit()
        try #require(lstopo.terminationStatus == 0, "lstopo-no-graphics (package hwloc) must be installed")
        let fromXML = try CommandLineTool.run(["topo", "--topology", url.path, "--pin", "spread", "--workers", "8"])
        let fromSynthetic = try CommandLineTool.run(["topo", "--topology", Self.big, "--pin", "spread", "--workers", "8"])
        #expect(fromXML.status == 0)
        let plan = { (text: String) in text.split(separator: "\n").filter { $0.hasPrefix("worker ") } }
        #expect(plan(fromXML.stdout).count == 8)
        #expect(plan(fromXML.stdout) == plan(fromSynthetic.stdout))
    }

    static let badArguments: [[String]] = [
        ["--pin", "3-1"], ["--pin", "a"], ["--pin", ","], ["--pin", "1,,2"], ["--pin", "0,0"],
        ["--pin", "100000"], ["--pin", "numa:9"], ["--mem", "node:9"], ["--mem", "elsewhere"],
        ["--topology", "pack:two"], ["--workers", "0"], ["--topology", "Package.swift"],
        ["--topology", "pack:1 core:2 pu:1", "--workers", "3"], ["--topology", big, "--pin", "S5:0"],
        ["--topology", big, "--verify", "1Mi"], ["--verify", "lots"], ["--topology", "core:16384 pu:2"],
    ]

    @Test(arguments: badArguments)
    func badInputIsOneLineAndExit64(arguments: [String]) throws {
        let outcome = try CommandLineTool.run(["topo"] + arguments)
        #expect(outcome.status == 64)
        #expect(outcome.stderr.split(separator: "\n").count == 1)
        #expect(outcome.stderr.hasPrefix("unlocked: "))
    }

    @Test func aMissingXMLIsExit66() throws {
        let outcome = try CommandLineTool.run(["topo", "--topology", "/nonexistent/node.xml"])
        #expect(outcome.status == 66)
        #expect(outcome.stderr.split(separator: "\n").count == 1)
    }

    @Test func anUnreadableXMLIsExit66() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("unlocked-unreadable-\(UUID()).xml")
        try "<topology/>".write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: url.path)
        // root reads anything; then the file is merely invalid (64).
        let expected: Int32 = getuid() == 0 ? 64 : 66
        let outcome = try CommandLineTool.run(["topo", "--topology", url.path])
        #expect(outcome.status == expected)
        #expect(outcome.stderr.split(separator: "\n").count == 1)
    }

    @Test func oversubscribeWarnsOnStderr() throws {
        let outcome = try CommandLineTool.run(["topo", "--topology", "pack:1 core:2 pu:1", "--workers", "3", "--oversubscribe"])
        #expect(outcome.status == 0)
        #expect(outcome.stderr.contains("oversubscribed"))
        #expect(outcome.stdout.contains("worker 2    → PU P#0"))
    }

    /// Under `taskset -c <one CPU>` only that CPU is allowed, the rest is
    /// shown as not allowed, and the default plan uses it alone.
    @Test func tasksetNarrowsTheAllowedSet() throws {
        let machine = try #require(try JSONSerialization.jsonObject(with: Data(CommandLineTool.run(["topo", "--json"]).stdout.utf8)) as? [String: Any])
        let context = try #require(machine["context"] as? [String: Any])
        let allowed = try CPUList.parse(try #require(context["allowed_cpus"] as? String))
        let cpu = try #require(allowed.last)
        let taskset = Process()
        taskset.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        taskset.arguments = ["taskset", "-c", "\(cpu)", CommandLineTool.executable.path, "topo", "--json", "--pin", "compact"]
        let pipe = Pipe()
        taskset.standardOutput = pipe
        try taskset.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        taskset.waitUntilExit()
        try #require(taskset.terminationStatus == 0, "taskset (package util-linux) must be installed")
        let bound = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let boundContext = try #require(bound["context"] as? [String: Any])
        #expect(boundContext["allowed_cpus"] as? String == "\(cpu)")
        #expect(boundContext["affinity"] as? String == "\(cpu)")
        #expect(boundContext["already_bound"] as? Bool == (allowed.count > 1))
        let workers = try #require((bound["plan"] as? [String: Any])?["workers"] as? [[String: Any]])
        #expect(workers.compactMap { $0["os_pu"] as? Int } == [cpu])
        let pus = try #require((bound["topology"] as? [String: Any])?["pus"] as? [[String: Any]])
        #expect(pus.filter { $0["allowed"] as? Bool == false }.count == pus.count - 1)
    }

    @Test func helpSaysWhichNumberingEachFormUses() throws {
        let outcome = try CommandLineTool.run(["topo", "--help"])
        #expect(outcome.stdout.contains("OS CPU numbers"))
        #expect(outcome.stdout.contains("INSIDE the domain"))
    }
}
