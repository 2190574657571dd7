import CKernels
import CSupport
import Foundation
import Testing
@testable import Unlocked

/// Plugins that misbehave while loading or reporting (issue 11): each
/// becomes a one-line error naming the plugin, never a crash, a silent
/// exit, a hang or garbled output of the host.
@Suite("Plugin misbehaviour") struct PluginMisbehaviourTests {
    /// A constructor that crashes, exits or hangs, or a fini that crashes,
    /// is refused by every command that loads plugins, with nothing on stdout.
    @Test(arguments: [
        ("CTOR_SEGV", "crashed with SIGSEGV (segmentation fault) while loading"),
        ("CTOR_EXIT", "exited with status 0 while loading"),
        ("CTOR_HANG", "hung while loading (no answer in 2 s)"),
        ("FINI_SEGV", "crashed with SIGSEGV (segmentation fault) while unloading (in fini or a destructor)"),
    ])
    func misbehavingLoadIsOneLineError(fixture: String, message: String) throws {
        let path = try PluginFixtures.path(fixture)
        for arguments in [["plugins", "list", "--plugin", path], ["plugins", "info", path],
                          ["run", "--json", "--size", "1000", "--reps", "1", "--plugin", path],
                          ["bench", "--csv", "--engines", "sequential", "--sizes", "1000", "--workers", "1", "--reps", "1", "--plugin", path]] {
            let outcome = try CommandLineTool.run(arguments + ["--plugin-timeout", "2"], timeout: 60)
            #expect(outcome.status == 65, "\(arguments): \(outcome.stderr)")
            #expect(outcome.stdout.isEmpty, "\(arguments)")
            #expect(outcome.stderr.hasPrefix("unlocked: plugin \(path): \(message)"), "\(arguments): \(outcome.stderr)")
            #expect(outcome.stderr.filter { $0 == "\n" }.count == 1, "one line: \(outcome.stderr)")
        }
    }

    /// A probe's verdict is kept per path and file version: the same file is
    /// not probed again (here: the probe executable is gone and it still
    /// answers), a replaced file is.
    @Test func probeVerdictIsKeptPerFileVersion() throws {
        let path = try PluginFixtures.scratchDirectory().appendingPathComponent("probed.so").path
        try FileManager.default.copyItem(atPath: try PluginFixtures.path(""), toPath: path)
        let real = PluginProbe.Options(executable: CommandLineTool.executable.path)
        #expect(try PluginProbe.probe(path: path, options: real).name == "fixture")
        let gone = PluginProbe.Options(executable: "/nonexistent/unlocked")
        #expect(try PluginProbe.probe(path: path, options: gone).kernels.map(\.name) == ["good.sum"])
        expectError(.internal, containing: "cannot start /nonexistent/unlocked") {
            try PluginProbe.describe(path: path, options: gone)
        }

        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: try PluginFixtures.path("CTOR_SEGV"), toPath: path)
        expectError(.badData, containing: "plugin \(path): crashed with SIGSEGV (segmentation fault) while loading") {
            try PluginProbe.probe(path: path, options: real)
        }
    }

    /// What a plugin prints to stdout — in its constructor, entry point,
    /// get_kernel, init and kernel — goes to stderr; JSON and CSV stay parseable.
    @Test func pluginPrintingToStdoutLeavesOutputParseable() throws {
        let path = try PluginFixtures.path("CHATTY")
        let count = 100_000
        let run = try CommandLineTool.run(["run", "--json", "--reps", "1", "--size", "\(count)", "--engine", "lockfree-pool",
                                           "--workers", "2", "--plugin", path, "--kernel", "fixture:good.sum"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        var data = [Int32](repeating: 0, count: count)
        data.withUnsafeMutableBytes { DataGenerator(seed: RunRequest.defaultSeed).fill($0.baseAddress!, dtype: .i32, range: 0..<count) }
        #expect(object?["result"] as? String == "\(data.reduce(0) { $0 + abs(Int($1) - 50) })")
        for place in ["the constructor", "the entry point", "get_kernel", "init", "the kernel"] {
            #expect(run.stderr.contains("fixture chatter from \(place)\n"), "\(run.stderr)")
        }

        let bench = try CommandLineTool.run(["bench", "--csv", "--engines", "sequential,lockfree-pool", "--workers", "1,2",
                                             "--sizes", "10000", "--reps", "2", "--plugin", path, "--kernel", "good.sum"])
        #expect(bench.status == 0, "\(bench.stderr)")
        let rows = bench.stdout.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).count }
        #expect(rows.count == 4, "header and three cells: \(bench.stdout)")
        #expect(Set(rows).count == 1, "every row has the header's fields: \(bench.stdout)")
        #expect(!bench.stdout.contains("chatter") && bench.stderr.contains("fixture chatter from the kernel"))

        // Worker processes answer their engine on a descriptor of their own, so chatter cannot break the protocol.
        for engine in ["processes-shm", "processes-pipe"] {
            let processes = try CommandLineTool.run(["run", "--json", "--reps", "1", "--size", "\(count)", "--engine", engine,
                                                     "--workers", "2", "--plugin", path, "--kernel", "fixture:good.sum"])
            #expect(processes.status == 0, "\(engine): \(processes.stderr)")
            let answer = try JSONSerialization.jsonObject(with: Data(processes.stdout.utf8)) as? [String: Any]
            #expect(answer?["result"] as? String == object?["result"] as? String, "\(engine)")
        }

        let info = try CommandLineTool.run(["plugins", "info", path])
        #expect(info.status == 0)
        #expect(info.stdout == "plugin fixture 1.0.0, ABI 1.0, thread-safe, \(path)\n  good.sum i32: reduce -> uint128 — sum of |x[i] - c|\n")
        #expect(info.stderr.contains("fixture chatter from init"))
    }

    /// Output that cannot be written (a full disk) is one line and exit 74,
    /// not lost silently with exit 0.
    @Test func unwritableOutputIsExit74() throws {
        let process = CommandLineTool.process(["kernels"])
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/full")
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 74)
        #expect(String(decoding: message, as: UTF8.self) == "unlocked: cannot write the output to stdout: No space left on device\n")
    }

    /// A 10 KB message into the error buffer of init, worker_init or a
    /// kernel: the host survives and reports the promised 255 bytes.
    @Test func overlongErrorMessagesAreCutToTheCapacity() throws {
        let cut = "long message " + String(repeating: "E", count: Int(UK_ERROR_CAPACITY) - 1 - 13) + "…"
        let initPath = try PluginFixtures.path("INIT_LONG_ERROR")
        #expect(throws: UnlockedError.badData("plugin \(initPath): init failed: \(cut)")) { try PluginLoader.load(path: initPath) }

        let perWorker = try PluginLoader.load(path: try PluginFixtures.path("WORKER_LONG_ERROR"))
        #expect(throws: UnlockedError.badData("plugin fixture: worker_init for worker 3 failed: \(cut)")) {
            try perWorker.makeWorkerContext(worker: 3)
        }

        let kernelPath = try PluginFixtures.path("KERNEL_LONG_ERROR")
        let outcome = try CommandLineTool.run(["run", "--size", "100000", "--engine", "lockfree-pool", "--workers", "2",
                                               "--plugin", kernelPath, "--kernel", "fixture:bad.sum"])
        #expect(outcome.status == 65)
        #expect(outcome.stderr.hasPrefix("unlocked: kernel bad.sum (i32) of plugin fixture failed on ["), "\(outcome.stderr)")
        #expect(outcome.stderr.hasSuffix("): \(cut)\n"), "\(outcome.stderr)")
    }

    /// The buffer plugins write into: far more room than promised, then a
    /// page nobody may touch; one per thread, kept across calls.
    @Test func errorBufferIsGuardedAndPerThread() throws {
        var mine: UnsafeMutablePointer<CChar>?
        _ = try PluginErrorBuffer.call { mine = $0; return 0 }
        var again: UnsafeMutablePointer<CChar>?
        _ = try PluginErrorBuffer.call { again = $0; return 0 }
        let start = try #require(mine)
        #expect(again == start)
        // Another thread's buffer, as an address: pointers are not Sendable.
        final class Seen: @unchecked Sendable { var address: UInt = 0 }  // written before `done` is signalled
        let seen = Seen(), done = DispatchSemaphore(value: 0)
        Thread {
            _ = try? PluginErrorBuffer.call { seen.address = UInt(bitPattern: $0); return 0 }
            done.signal()
        }.start()
        done.wait()
        #expect(seen.address != 0 && seen.address != UInt(bitPattern: start))

        func permissions(at address: UInt) throws -> String? {
            // Read to the end: /proc files report a size of 0.
            let maps = try #require(FileHandle(forReadingAtPath: "/proc/self/maps")).readDataToEndOfFile()
            return String(decoding: maps, as: UTF8.self).split(separator: "\n").first { line in
                let bounds = line.prefix { $0 != " " }.split(separator: "-").compactMap { UInt($0, radix: 16) }
                return bounds.count == 2 && (bounds[0]..<bounds[1]).contains(address)
            }.map { String($0.split(separator: " ")[1]) }
        }
        let base = UInt(bitPattern: start)
        #expect(try permissions(at: base + UInt(UK_ERROR_BUFFER_ROOM) - 1)?.hasPrefix("rw") == true)
        #expect(try permissions(at: base + UInt(UK_ERROR_BUFFER_ROOM)) == "---p")
    }

    /// Control characters cannot break the one-line error; no message is a status.
    @Test func errorMessagesAreOneLine() throws {
        #expect(try PluginErrorBuffer.call { strcpy($0, "bad\nthing\u{1B}[31m"); return 2 } == "bad thing [31m")
        #expect(try PluginErrorBuffer.call { _ in 9 } == "status 9")
        #expect(try PluginErrorBuffer.call { strcpy($0, "left over"); return 0 } == nil)
    }

    /// sshd's and sudo's rule for every directory on the way, both along
    /// the path as given (each symlink's directory) and where it leads.
    @Test func everyDirectoryOnThePathIsChecked() throws {
        let base = try PluginFixtures.scratchDirectory()
        let valid = try PluginFixtures.path("")
        func directory(_ name: String, in parent: URL, mode: Int) throws -> URL {
            let url = parent.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
            return url
        }
        let open = try directory("open", in: base, mode: 0o777)
        let safe = try directory("safe", in: base, mode: 0o755)

        // A symlink to a safe file, inside a world-writable directory: anyone can repoint it.
        let link = open.appendingPathComponent("link.so").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: valid)
        expectError(.badData, containing: "plugin \(link): refused, the directory \(open.path) on its path is writable by other users (mode 777)") {
            try PluginLoader.load(path: link)
        }
        #expect(try PluginLoader.load(path: link, allowInsecure: true).name == "fixture")

        // A file two levels under a world-writable directory: anyone can rename the level between.
        let inner = try directory("inner", in: open, mode: 0o755)
        let deep = inner.appendingPathComponent("libvalid.so").path
        try FileManager.default.copyItem(atPath: valid, toPath: deep)
        expectError(.badData, containing: "refused, the directory \(open.path) on its path is writable by other users (mode 777)") {
            try PluginLoader.load(path: deep)
        }

        // A safe link (relative, through "..") to a file whose own directory is unsafe.
        let outward = safe.appendingPathComponent("outward.so").path
        try FileManager.default.createSymbolicLink(atPath: outward, withDestinationPath: "../open/inner/libvalid.so")
        expectError(.badData, containing: "refused, the directory \(open.path) on its path is writable by other users (mode 777)") {
            try PluginLoader.load(path: outward)
        }

        // Safe all the way, through a relative link and "." and "..": loads, from its physical path.
        let file = safe.appendingPathComponent("libvalid.so").path
        try FileManager.default.copyItem(atPath: valid, toPath: file)
        try FileManager.default.createSymbolicLink(atPath: safe.appendingPathComponent("same.so").path, withDestinationPath: "./libvalid.so")
        let plugin = try PluginLoader.load(path: "\(safe.path)/../safe/./same.so")
        #expect(plugin.path == file)
        expectError(.noInput, containing: "No such file or directory") { try PluginLoader.load(path: "\(safe.path)/missing.so") }
    }

    /// In a sticky shared directory such as /tmp, an entry is safe only if
    /// it belongs to us or root: its owner may replace it.
    @Test(.enabled(if: geteuid() == 0, "giving a file to another user needs root"))
    func stickyDirectoryProtectsOnlyOurOwnEntries() throws {
        let base = try PluginFixtures.scratchDirectory()
        let sticky = base.appendingPathComponent("sticky")
        try FileManager.default.createDirectory(at: sticky, withIntermediateDirectories: false)
        try FileManager.default.setAttributes([.posixPermissions: 0o1777], ofItemAtPath: sticky.path)
        let link = sticky.appendingPathComponent("link.so").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: try PluginFixtures.path(""))
        #expect(try PluginLoader.load(path: link).name == "fixture")
        #expect(lchown(link, 4242, 4242) == 0)
        expectError(.badData, containing: "refused, \(link) in the shared sticky directory \(sticky.path) belongs to uid 4242, neither you nor root") {
            try PluginLoader.load(path: link)
        }
    }

    /// A THREAD_SAFE kernel whose running sum lives in one global variable
    /// is caught every time, while two other processes keep both cores busy.
    @Test func racyKernelIsCaughtUnderLoad() throws {
        let path = try PluginFixtures.path("RACY")
        let busy = try (0..<2).map { _ in
            try spawnProcess(["/bin/sh", "-c", "while :; do :; done"], environment: environmentStrings(), stdin: nil, stdout: nil, stderr: nil)
        }
        defer { for pid in busy { kill(pid, SIGKILL); waitForExit(pid) } }
        var caught = 0
        for _ in 0..<5 {
            let outcome = try CommandLineTool.run(["plugins", "verify", path], timeout: 600)
            #expect(outcome.stdout.contains("ok   good.sum i32: concurrency THREAD_SAFE, 8 threads"), "\(outcome.stdout)")
            #expect(!outcome.stdout.contains("FAIL good.sum"), "\(outcome.stdout)")
            if outcome.status == 65, outcome.stdout.contains("FAIL racy.sum i32: concurrency THREAD_SAFE, 8 threads: ") { caught += 1 }
        }
        #expect(caught == 5)
    }
}
