import Foundation
import Testing
@testable import Unlocked

/// `--output` never replaces what is not a regular file, keeps modes as
/// `cp`/`numpy.save` users expect, writes through links, reports a full disk
/// as exit 74, and leaves no partial or hidden file after any signal.
@Suite struct OutputSafetyTests {
    /// A scratch directory holding an int32 `.npy` input of `count` elements.
    static func scratch(count: Int = 1_000) throws -> (directory: String, input: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("out-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let input = directory + "/in.npy"
        let header = NpyHeader.encode(type: .i32, shape: [count])
        var bytes = Data(header)
        bytes.append(Data(count: count * 4))
        try bytes.write(to: URL(fileURLWithPath: input))
        return (directory, input)
    }

    static func mapArguments(_ input: String, _ output: String) -> [String] {
        ["run", "--input", input, "--kernel", "absdist.map", "--output", output, "--reps", "1"]
    }

    /// `unlocked …` under `/bin/sh` with the given umask.
    static func run(umask mask: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "umask \(mask) && exec \"$0\" \"$@\" >/dev/null", CommandLineTool.executable.path] + arguments
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    static func mode(_ path: String) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    @Test func devicesAndFIFOsAreNeverReplaced() throws {
        let (directory, input) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fifo = directory + "/pipe"
        #expect(mkfifo(fifo, 0o600) == 0)
        for target in ["/dev/null", fifo, directory] {
            let outcome = try CommandLineTool.run(Self.mapArguments(input, target))
            #expect(outcome.status == 64)
            #expect(outcome.stderr.contains("--output \(target): not a regular file"))
        }
        var info = stat()
        #expect(stat("/dev/null", &info) == 0 && info.st_mode & S_IFMT == S_IFCHR)
        #expect(lstat(fifo, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)
    }

    @Test func newFilesFollowTheUmaskAndReplacedFilesKeepTheirMode() throws {
        let (directory, input) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = directory + "/o.npy"
        #expect(try Self.run(umask: "027", Self.mapArguments(input, output)) == 0)
        #expect(try Self.mode(output) == 0o640)
        #expect(chmod(output, 0o664) == 0)
        #expect(try Self.run(umask: "077", Self.mapArguments(input, output)) == 0)
        #expect(try Self.mode(output) == 0o664)
    }

    @Test func symbolicLinksAreWrittenThrough() throws {
        let (directory, input) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let link = directory + "/link.npy", target = directory + "/target.npy"
        #expect(symlink("target.npy", link) == 0)
        #expect(try CommandLineTool.run(Self.mapArguments(input, link)).status == 0)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "target.npy")
        let written = try MappedArray(path: target)
        #expect(written.shape == [1_000] && written.elementType == .u32)
    }

    /// A full file system: exit 74, one line, and nothing left in it. Mounting
    /// a small tmpfs needs root, which CI is; elsewhere the test is reported skipped.
    @Test(.enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
    func fullFileSystemIsExit74() throws {
        let (directory, input) = try Self.scratch(count: 1 << 20)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let mountPoint = directory + "/small"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        #expect(mount("tmpfs", mountPoint, "tmpfs", 0, "size=1m") == 0, "mount: \(String(cString: strerror(errno)))")
        defer { umount(mountPoint) }
        let outcome = try CommandLineTool.run(Self.mapArguments(input, mountPoint + "/o.npy"))
        #expect(outcome.status == 74)
        #expect(outcome.stderr.contains("no space left"))
        #expect(outcome.stderr.split(separator: "\n").count == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: mountPoint).isEmpty)
    }

    /// SIGKILL, SIGTERM and SIGINT while the map output is being written: no
    /// file appears, hidden or not; SIGTERM exits 143 and SIGINT 130.
    @Test(arguments: [(SIGKILL, nil), (SIGTERM, Int32(143)), (SIGINT, Int32(130))] as [(Int32, Int32?)])
    func signalsLeaveNoFile(signal: Int32, status: Int32?) throws {
        let (directory, input) = try Self.scratch(count: 4 << 20)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let process = CommandLineTool.process(["run", "--input", input, "--kernel", "absdist.map", "--output", directory + "/o.npy",
                             "--reps", "1000000", "--warmup", "0", "--engine", "processes-shm", "--workers", "2"])
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }  // a failed expectation must not leave a million repetitions running
        let pid = process.processIdentifier
        // Running once both workers exist: the output was created before the engine.
        let deadline = Date().addingTimeInterval(60)
        var children: [pid_t] = []
        while children.count < 2, Date() < deadline, process.isRunning {
            children = workerProcesses(of: pid)
            usleep(10_000)
        }
        #expect(children.count == 2)
        kill(pid, signal)
        process.waitUntilExit()
        if let status {
            #expect(process.terminationReason == .exit)
            #expect(process.terminationStatus == status)
            #expect(children.allSatisfy { kill($0, 0) == -1 && errno == ESRCH })
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["in.npy"])
    }
}
