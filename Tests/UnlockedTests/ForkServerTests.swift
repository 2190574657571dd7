import CKernels
import Foundation
import Testing
@testable import Unlocked

/// Worker processes forked by their executable's fork server (which every
/// process-engine test goes through, under the sanitizers too).
@Suite struct ForkServerTests {
    private func parent(of pid: pid_t) -> pid_t? {
        processStatFields(pid)?.dropFirst().first.flatMap { pid_t($0) }
    }

    /// The built CLI under a path of the test's own: servers are kept per
    /// executable path, so killing this one disturbs no other test's engines.
    private func privateExecutable(_ name: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("unlocked-\(name)-\(getpid())").path
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: CommandLineTool.executable.path)
        return path
    }

    private func configuration(_ kind: EngineKind, executable: String) -> EngineConfiguration {
        var configuration = EngineFixture.configuration(kind, workers: 2)
        configuration.workerExecutable = executable
        return configuration
    }

    /// Each worker is this process's own child (CLONE_PARENT), forked from
    /// the server's image rather than exec'd, bound to its planned CPU, and
    /// computes what `sequential` does.
    @Test(arguments: [EngineKind.processesShm, .processesPipe])
    func workersAreForkedChildrenOfTheEngineProcess(kind: EngineKind) throws {
        let executable = try privateExecutable("children-\(kind.rawValue)")
        var configuration = configuration(kind, executable: executable)
        let allowed = try #require(initialAffinity).sorted()
        for worker in 0..<2 { configuration.placement.workers[worker].osPU = allowed[worker % allowed.count] }
        let engine = try #require(try makeEngine(configuration) as? ProcessEngine)
        defer { engine.close() }
        let server = try #require(ForkServers.serverProcessID(executable: executable))
        #expect(parent(of: server) == getpid())
        for (worker, pid) in engine.workerProcessIDs.enumerated() {
            #expect(parent(of: pid) == getpid())
            #expect(procFile("/proc/\(pid)/cmdline").contains(ForkServers.subcommand), "worker \(pid) was exec'd")
            let cpu = allowed[worker % allowed.count]
            #expect(engine.startup.bindings[worker].bound && engine.startup.bindings[worker].observedCPU == cpu)
            #expect(procFile("/proc/\(pid)/status").contains("Cpus_allowed_list:\t\(cpu)\n"))
        }
        let job = try EngineFixture.sumJob(engine)
        let sequential = try makeEngine(EngineFixture.configuration(.sequential, workers: 1))
        defer { sequential.close() }
        let reference = try EngineFixture.sumJob(sequential)
        #expect(try engine.value(of: job).0 == sequential.value(of: reference).0)
    }

    /// A server killed between engines: the next engine start fails in one
    /// line naming it, the server is reaped, and the start after that gets a new server.
    @Test func aServerThatDiesIsAClearErrorAndTheNextEngineStartsANewOne() throws {
        let executable = try privateExecutable("dies")
        try makeEngine(configuration(.processesShm, executable: executable)).close()
        let server = try #require(ForkServers.serverProcessID(executable: executable))
        kill(server, SIGKILL)
        let error = #expect(throws: UnlockedError.self) { try makeEngine(configuration(.processesShm, executable: executable)) }
        #expect(error?.kind == .internal)
        #expect(error?.message.contains("the fork server of \(executable) (pid \(server)) stopped answering (killed by SIGKILL") == true,
                "\(error?.message ?? "")")
        #expect(processIsReaped(server))

        let engine = try makeEngine(configuration(.processesShm, executable: executable))
        defer { engine.close() }
        let replacement = try #require(ForkServers.serverProcessID(executable: executable))
        #expect(replacement != server)
        _ = try engine.value(of: try EngineFixture.sumJob(engine))
    }

    /// Workers die with their parent *thread* (PR_SET_PDEATHSIG); forked by
    /// the server, their parent is the server starter thread, which lives as
    /// long as the process: an engine made on a thread that then exits keeps working.
    @Test func workersOutliveTheThreadThatCreatedTheEngine() throws {
        final class Made: @unchecked Sendable { var engine: (any Engine)? }
        let made = Made()
        let executable = try privateExecutable("thread")
        try EngineFixture.onOwnThread { made.engine = try makeEngine(configuration(.processesShm, executable: executable)) }
        let engine = try #require(made.engine)
        defer { engine.close() }
        usleep(200_000)  // PR_SET_PDEATHSIG would have fired when that thread exited
        _ = try engine.value(of: try EngineFixture.sumJob(engine))
    }
}
