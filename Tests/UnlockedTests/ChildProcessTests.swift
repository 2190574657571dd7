import Foundation
import Testing
@testable import Unlocked

/// The one child-process layer and the hidden entry points built on it.
@Suite struct ChildProcessTests {
    @Test func workerArgumentsRoundTrip() throws {
        for invocation in [WorkerProcessArguments(index: 3, parent: 1234, cpu: 7, bestEffort: false),
                           WorkerProcessArguments(index: 4095, parent: 1, cpu: nil, bestEffort: true)] {
            let words = invocation.arguments
            #expect(words.first == WorkerProcessArguments.subcommand)
            #expect(try WorkerProcessArguments(parsing: Array(words.dropFirst())) == invocation)
        }
    }

    @Test func verifyChildArgumentsRoundTrip() throws {
        for invocation in [PluginVerifier.ChildArguments(path: "/tmp/a b.so", allowInsecure: true, kernelIndex: 0, threads: 8),
                           PluginVerifier.ChildArguments(path: "x.so", allowInsecure: false, kernelIndex: 2, threads: 3)] {
            let words = invocation.arguments
            #expect(words.first == PluginVerifier.ChildArguments.subcommand)
            #expect(try PluginVerifier.ChildArguments(parsing: Array(words.dropFirst())) == invocation)
        }
    }

    @Test func probeChildArgumentsRoundTrip() throws {
        for invocation in [PluginProbe.ChildArguments(path: "/tmp/a b.so", allowInsecure: true),
                           PluginProbe.ChildArguments(path: "x.so", allowInsecure: false)] {
            let words = invocation.arguments
            #expect(words.first == PluginProbe.ChildArguments.subcommand)
            #expect(try PluginProbe.ChildArguments(parsing: Array(words.dropFirst())) == invocation)
        }
    }

    @Test func malformedHiddenInvocationsAreUsageErrors() throws {
        let error = #expect(throws: UnlockedError.self) { try WorkerProcessArguments(parsing: ["1", "2"]) }
        #expect(error?.kind == .usage)
        #expect(error?.message.contains("not a worker invocation") == true)
        for (subcommand, words) in [(WorkerProcessArguments.subcommand, ["x", "1", "-", "strict"]),
                                    (PluginVerifier.ChildArguments.subcommand, ["list", "0", "strict", "p.so"]),
                                    (PluginProbe.ChildArguments.subcommand, ["lenient", "p.so"])] {
            let outcome = try CommandLineTool.run([subcommand] + words)
            #expect(outcome.status == 64)
            #expect(outcome.stderr.split(separator: "\n").count == 1)
        }
    }

    @Test func terminationDecodesWaitStatus() {
        #expect(ChildTermination(waitStatus: 65 << 8) == .exited(65))
        #expect(ChildTermination(waitStatus: SIGSEGV) == .signaled(SIGSEGV))
        #expect(ChildTermination.signaled(SIGKILL).description.hasPrefix("killed by SIGKILL"))
    }

    /// Report lines come on their own descriptor: what the child writes to
    /// stdout (plugin code printing) is kept with its stderr, never taken
    /// for a report line.
    @Test func childRunReportsLinesExitAndTimeout() throws {
        var lines: [[String]] = []
        let done = try ChildProcess.run(["/bin/sh", "-c", "echo one >&3; echo 'pass\tfake'; printf 'two\tfields\n' >&3; echo oops >&2; exit 3"],
                                        timeout: 10) { lines.append($0) }
        #expect(lines == [["one"], ["two", "fields"]])
        #expect(done.termination == .exited(3))
        #expect(done.stderr == "pass\tfake\noops\n")

        let start = Date()
        let hung = try ChildProcess.run(["/bin/sh", "-c", "echo started >&3; exec sleep 30"], timeout: 0.3) { _ in }
        #expect(hung.termination == .timedOut)
        #expect(Date().timeIntervalSince(start) < 10)
    }

    @Test func reapingKillsAChildThatDoesNotEnd() throws {
        let pid = try spawnProcess(["/bin/sleep", "30"], environment: environmentStrings(), stdin: nil, stdout: nil, stderr: nil)
        #expect(exitIfEnded(pid) == .some(nil))
        #expect(reapWithin(milliseconds: 50, pid) == .signaled(SIGKILL))
        #expect(exitIfEnded(pid) == nil)  // reaped: no longer our child
    }

    @Test func ownExecutableIsThisProcess() {
        #expect(FileManager.default.isExecutableFile(atPath: ownExecutablePath()))
        #expect(ownExecutablePath() == (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")))
    }
}
