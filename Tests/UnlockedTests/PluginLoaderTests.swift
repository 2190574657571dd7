import Foundation
import Testing
import CKernels
@testable import Unlocked

@Suite("Plugin loader") struct PluginLoaderTests {
    /// Each broken plugin gives its documented one-line error and exit code,
    /// through `plugins info` and through `run --plugin`.
    @Test(arguments: [
        ("text.so", "not a shared object (no ELF header)", Int32(65)),
        ("truncated.so", "truncated", 65),
        ("foreign.so", "built for AArch64 (e_machine 183), this host is x86-64", 65),
        ("NO_ENTRY", "no entry symbol unlocked_plugin_entry", 65),
        ("ABI_MAJOR", "built for plugin ABI 99.0, this host speaks ABI 1.x", 65),
        ("NULL_RUN", "kernel #1 null.sum: run is NULL", 65),
        ("DUPLICATE", "duplicate kernel good.sum for i32", 65),
        ("NO_COMBINE", "kernel #1 lonely.sum: a REDUCE kernel needs combine, which is NULL", 65),
        ("NO_WORKER_INIT", "concurrency is PER_WORKER but worker_init is NULL", 65),
        ("INIT_FAILS", "init failed: no licence for this machine", 65),
        ("ENDLESS", "lists more than 1024 kernels (get_kernel must return NULL after the last one)", 65),
        ("missing.so", "No such file or directory", 66),
    ])
    func brokenPluginIsOneLineError(fixture: String, message: String, status: Int32) throws {
        let path = try PluginFixtures.path(fixture)
        for arguments in [["plugins", "info", path], ["run", "--plugin", path, "--size", "1000"]] {
            let outcome = try CommandLineTool.run(arguments)
            #expect(outcome.status == status, "\(arguments)")
            #expect(outcome.stderr.hasPrefix("unlocked: plugin \(path): "))
            #expect(outcome.stderr.contains(message), "\(outcome.stderr)")
            #expect(outcome.stderr.filter { $0 == "\n" }.count == 1, "one line: \(outcome.stderr)")
        }
    }

    @Test func worldWritableFileIsRefusedUnlessAllowed() throws {
        let directory = try PluginFixtures.scratchDirectory()
        let path = directory.appendingPathComponent("ww.so").path
        try FileManager.default.copyItem(atPath: try PluginFixtures.path(""), toPath: path)
        try FileManager.default.setAttributes([.posixPermissions: 0o666], ofItemAtPath: path)

        let refused = try CommandLineTool.run(["plugins", "info", path])
        #expect(refused.status == 65)
        #expect(refused.stderr.contains("is writable by other users (mode 666)"))
        #expect(refused.stderr.contains("--allow-insecure-plugins"))

        let allowed = try CommandLineTool.run(["plugins", "info", "--allow-insecure-plugins", path])
        #expect(allowed.status == 0)
        #expect(allowed.stdout.contains("plugin fixture 1.0.0, ABI 1.0, thread-safe"))
    }

    @Test func groupWritableDirectoryIsRefused() throws {
        let directory = try PluginFixtures.scratchDirectory()
        let path = directory.appendingPathComponent("libvalid.so").path
        try FileManager.default.copyItem(atPath: try PluginFixtures.path(""), toPath: path)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        try FileManager.default.setAttributes([.posixPermissions: 0o775], ofItemAtPath: directory.path)

        expectError(.badData, containing: "its directory \(directory.path) is writable by other users (mode 775)") {
            try PluginLoader.load(path: path)
        }
        #expect(try PluginLoader.load(path: path, allowInsecure: true).name == "fixture")
    }

    @Test func newerMinorWithLargerDescriptorLoads() throws {
        let plugin = try PluginLoader.load(path: try PluginFixtures.path("NEWER_MINOR"))
        #expect(plugin.abiVersion == "1.99")
        #expect(plugin.kernels.map(\.name) == ["good.sum"])
    }

    /// A kernel's own error message reaches the caller as a one-line error.
    @Test func kernelErrorMessageIsReported() throws {
        let plugin = try PluginLoader.load(path: try PluginFixtures.path("perworker"))
        let kernel = try #require(plugin.kernels.first)
        var data = [Int32](repeating: 1, count: 16)
        var params = try DType.i32.parseCenter("0")
        var acc = uk_acc()
        #expect(throws: UnlockedError.badData("kernel absdist.sum (i32) of plugin blocked failed on [0, 16): called without a worker context (PER_WORKER needs one)")) {
            try kernel.run(context: nil, input: &data, output: nil, range: 0..<16, params: &params, acc: &acc)
        }
    }

    /// fini runs once, on close() or when the last reference goes away.
    @Test func finiRunsOnceOnCloseOrRelease() throws {
        let log = try PluginFixtures.scratchDirectory().appendingPathComponent("lifecycle.log")
        setenv("UNLOCKED_FIXTURE_LOG", log.path, 1)
        let path = try PluginFixtures.path("LIFECYCLE")
        let plugin = try PluginLoader.load(path: path)
        #expect(try String(contentsOf: log, encoding: .utf8) == "init\n")
        plugin.close()
        plugin.close()
        #expect(try String(contentsOf: log, encoding: .utf8) == "init\nfini\n")
        do { _ = try PluginLoader.load(path: path) }
        #expect(try String(contentsOf: log, encoding: .utf8) == "init\nfini\ninit\nfini\n")
    }

    @Test func pluginLogsThroughTheHostAPI() throws {
        let outcome = try CommandLineTool.run(["plugins", "info", try PluginFixtures.path("LIFECYCLE")])
        #expect(outcome.status == 0)
        #expect(outcome.stderr == "unlocked: plugin fixture: initialised through the host api\n")
    }

    @Test func validPluginLoadsAndClosesOnce() throws {
        let plugin = try PluginLoader.load(path: try PluginFixtures.path(""))
        #expect(plugin.name == "fixture")
        #expect(plugin.concurrencyMode == .threadSafe)
        #expect(plugin.kernels.map(\.name) == ["good.sum"])
        plugin.close()
        plugin.close()
    }

    @Test func builtinKernelsPassTheirOwnValidation() {
        let kernels = PluginInstance.builtin.kernels
        #expect(kernels.count == 12)
        #expect(Set(kernels.map(\.name)) == ["absdist.sum", "absdist.map", "stream.sum"])
    }

    /// Explicit paths first, then each directory's *.so by name; empty
    /// entries (the current directory) and missing directories are skipped.
    @Test func searchOrder() throws {
        let directory = try PluginFixtures.scratchDirectory()
        for name in ["b.so", "a.so", "notes.txt", ".hidden.so"] {
            _ = FileManager.default.createFile(atPath: directory.appendingPathComponent(name).path, contents: Data())
        }
        let paths = try PluginLoader.candidatePaths(explicit: ["/x/first.so"],
                                                    searchPath: "::/nonexistent-unlocked:\(directory.path)")
        #expect(paths == ["/x/first.so", directory.appendingPathComponent("a.so").path,
                          directory.appendingPathComponent("b.so").path])
        #expect(throws: UnlockedError.usage("UNLOCKED_PLUGIN_PATH entry plugins: not an absolute directory (accepted: /abs/dir[:/other/dir])")) {
            try PluginLoader.candidatePaths(explicit: [], searchPath: "plugins")
        }
    }

    @Test func pluginPathVariableFeedsListAndRun() throws {
        let directory = try PluginFixtures.scratchDirectory()
        try FileManager.default.copyItem(atPath: try PluginFixtures.path("sqdist"),
                                         toPath: directory.appendingPathComponent("libsqdist.so").path)
        let environment = ["UNLOCKED_PLUGIN_PATH": directory.path]
        let list = try CommandLineTool.run(["plugins", "list"], environment: environment)
        #expect(list.status == 0)
        #expect(list.stdout.contains("sqdist\t1.0.0\t1.0\tsqdist.sum/i32"))
        #expect(list.stdout.contains("builtin\t1.0.0\t1.0\tabsdist.sum/i32"))
        let run = try CommandLineTool.run(["run", "--kernel", "sqdist.sum", "--size", "1000"], environment: environment)
        #expect(run.status == 0, "\(run.stderr)")
    }

    @Test func twoFilesClaimingOneNameAreRefused() throws {
        let directory = try PluginFixtures.scratchDirectory()
        let copy = directory.appendingPathComponent("libcopy.so").path
        try FileManager.default.copyItem(atPath: try PluginFixtures.path(""), toPath: copy)
        expectError(.badData, containing: "name fixture is already taken by") {
            try KernelCatalog.loading(explicit: [try PluginFixtures.path(""), copy], searchPath: nil)
        }
        // The same file twice is loaded once.
        let catalog = try KernelCatalog.loading(explicit: [copy, copy], searchPath: nil)
        #expect(catalog.plugins.map(\.name) == ["builtin", "fixture"])
    }

    @Test func qualifiedNamesPickOnePlugin() throws {
        let catalog = try KernelCatalog.loading(explicit: [try PluginFixtures.path("perworker")], searchPath: nil)
        #expect(try catalog.kernel(named: "absdist.sum", dtype: .i32).plugin.name == "builtin")
        #expect(try catalog.kernel(named: "blocked:absdist.sum", dtype: .i32).plugin.name == "blocked")
        expectError(.usage, containing: "no plugin nope is loaded") { try catalog.kernel(named: "nope:absdist.sum", dtype: .i32) }
        expectError(.usage, containing: "kernel blocked:absdist.sum does not take it") { try catalog.kernel(named: "blocked:absdist.sum", dtype: .f32) }
    }

    @Test func perWorkerContextsAreDistinct() throws {
        let plugin = try PluginLoader.load(path: try PluginFixtures.path("perworker"))
        let first = try plugin.makeWorkerContext(worker: 0)
        let second = try plugin.makeWorkerContext(worker: 1)
        #expect(first != nil && second != nil && first != second && first != plugin.state)
        plugin.releaseWorkerContext(first)
        plugin.releaseWorkerContext(second)
        plugin.close()
    }
}
