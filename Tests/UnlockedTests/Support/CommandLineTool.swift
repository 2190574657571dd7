import Foundation

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

    /// Runs `unlocked arguments…` with `environment` added to this process's.
    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 120) throws -> Outcome {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes while the child runs so a full pipe cannot stall it.
        nonisolated(unsafe) var errData = Data()
        // The semaphore orders the reader's write before our read (the thread sanitizer checks it).
        let errRead = DispatchSemaphore(value: 0)
        let reader = Thread {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            errRead.signal()
        }
        reader.start()
        let deadline = Date().addingTimeInterval(timeout)
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        while process.isRunning {
            if Date() > deadline { process.terminate() }
            usleep(1_000)
        }
        errRead.wait()
        return Outcome(status: process.terminationStatus,
                       stdout: String(decoding: outData, as: UTF8.self),
                       stderr: String(decoding: errData, as: UTF8.self))
    }
}
