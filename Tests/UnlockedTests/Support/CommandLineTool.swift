import Foundation
import Synchronization

/// Runs the built `unlocked` executable, as a user would, and captures its output.
struct CommandLineTool {
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The `unlocked` binary built next to this test bundle (the test target
    /// depends on the executable target, so SwiftPM builds it first).
    static var executable: URL {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = bundle.deletingLastPathComponent()
        // On Linux arguments[0] is `<products>/UnlockedPackageTests.xctest`.
        while !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("unlocked").path),
              directory.path != "/" {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("unlocked")
    }

    /// `unlocked arguments…`, not yet started, that gets SIGKILL if the
    /// thread starting it dies: `setpriv` sets the parent-death signal and
    /// execs the tool under the same pid. Without it a crashed test process
    /// leaves its million-repetition runs going, holding `swift test`'s
    /// output pipe open, and the CI hangs instead of failing.
    static func process(_ arguments: [String], environment: [String: String] = [:]) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--pdeathsig", "KILL", "--", executable.path] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        return process
    }

    /// Runs `unlocked arguments…` with `environment` added to this process's.
    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 120) throws -> Outcome {
        let process = process(arguments, environment: environment)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read stderr on its own thread while stdout is read here, so a full
        // pipe cannot stall the child; the mutex orders the hand-over.
        let errData = Mutex(Data())
        let errDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let data = readToEnd(err.fileHandleForReading.fileDescriptor)
            errData.withLock { $0 = data }
            errDone.signal()
        }
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        let outData = readToEnd(out.fileHandleForReading.fileDescriptor)
        process.waitUntilExit()
        watchdog.cancel()
        errDone.wait()
        // Close the read ends now: leaving them to deallocation keeps them open
        // long enough for the engine leak test to count them as leaked.
        try? out.fileHandleForReading.close()
        try? err.fileHandleForReading.close()
        return Outcome(status: process.terminationStatus,
                       stdout: String(decoding: outData, as: UTF8.self),
                       stderr: String(decoding: errData.withLock { $0 }, as: UTF8.self))
    }

    /// Reads until end of file, retrying EINTR: FileHandle's reader traps on it,
    /// and signals (SIGCHLD from the children these tests start) do arrive.
    private static func readToEnd(_ fd: Int32) -> Data {
        var data = Data()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                data.append(contentsOf: chunk[0..<count])
            } else if count == 0 || errno != EINTR {
                return data
            }
        }
    }
}
