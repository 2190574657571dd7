import Foundation

/// Fixture and example plugins, compiled with `cc` into a private temporary
/// directory once per test process (the sources live next to this file and
/// in plugins/, found through #filePath).
///
/// `UNLOCKED_PLUGIN_CC` picks the compiler (default `cc`) and
/// `UNLOCKED_PLUGIN_CFLAGS` adds flags, so a sanitized test run can build
/// sanitized plugins: `UNLOCKED_PLUGIN_CC=clang UNLOCKED_PLUGIN_CFLAGS="-fsanitize=address,undefined"`.
/// The fixture directory, removed when the test process exits (atexit takes no context).
nonisolated(unsafe) private var removeAtExit: UnsafeMutablePointer<CChar>?

enum PluginFixtures {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The variants of Fixtures/plugins/fixture.c, by their -DFIXTURE_ suffix ("" is the valid plugin).
    static let variants = ["", "NO_ENTRY", "ABI_MAJOR", "NULL_RUN", "DUPLICATE", "NO_COMBINE", "NO_WORKER_INIT", "ENDLESS", "NEWER_MINOR", "LIFECYCLE", "INIT_FAILS", "SEGV", "ABORT", "LOOP", "WRONG",
                           "AFFINITY", "KERNEL_ERROR", "CTOR_SEGV", "CTOR_EXIT", "CTOR_HANG", "FINI_SEGV", "CHATTY", "INIT_LONG_ERROR",
                           "WORKER_LONG_ERROR", "KERNEL_LONG_ERROR", "RACY"]
    static let examples = ["sqdist", "perworker", "scratch"]

    private static let built: Result<URL, Failure> = {
        do {
            let directory = try build()
            removeAtExit = strdup(directory.path)
            atexit { if let path = removeAtExit { _ = try? FileManager.default.removeItem(atPath: String(cString: path)) } }
            return .success(directory)
        } catch let error as Failure { return .failure(error) } catch {
            return .failure(Failure(description: "\(error)"))
        }
    }()

    /// The directory holding every built fixture (mode 0755).
    static func directory() throws -> URL { try built.get() }

    /// `lib<name>.so` of a variant or example, or a derived file such as `truncated.so`.
    static func path(_ name: String) throws -> String {
        try directory().appendingPathComponent(name.hasSuffix(".so") ? name : "lib\(name.isEmpty ? "valid" : name).so").path
    }

    /// A fresh 0755 directory of the test's own, for permission experiments.
    static func scratchDirectory() throws -> URL {
        let url = try directory().appendingPathComponent("case-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o755])
        return url
    }

    private static func build() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("unlocked-plugins-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o755])
        let fixture = packageRoot.appendingPathComponent("Tests/UnlockedTests/Fixtures/plugins/fixture.c").path
        for variant in variants {
            try compile(fixture, to: directory.appendingPathComponent("lib\(variant.isEmpty ? "valid" : variant).so").path,
                        defines: variant.isEmpty ? [] : ["-DFIXTURE_\(variant)"])
        }
        for example in examples {
            try compile(packageRoot.appendingPathComponent("plugins/\(example)/\(example).c").path,
                        to: directory.appendingPathComponent("lib\(example).so").path, defines: [])
        }
        let valid = try Data(contentsOf: directory.appendingPathComponent("libvalid.so"))
        // Not a shared object at all; cut in the middle of its segments; built for another machine.
        try Data("this is not a shared object\n".utf8).write(to: directory.appendingPathComponent("text.so"))
        try valid.prefix(valid.count / 2).write(to: directory.appendingPathComponent("truncated.so"))
        var foreign = valid
        let otherMachine: UInt16 = foreign[18] == 62 ? 183 : 62 // AArch64 on x86-64 hosts, else x86-64
        foreign[18] = UInt8(otherMachine & 0xFF)
        foreign[19] = UInt8(otherMachine >> 8)
        try foreign.write(to: directory.appendingPathComponent("foreign.so"))
        for name in ["text.so", "truncated.so", "foreign.so"] {
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: directory.appendingPathComponent(name).path)
        }
        return directory
    }

    private static func compile(_ source: String, to output: String, defines: [String]) throws {
        let environment = ProcessInfo.processInfo.environment
        let extra = environment["UNLOCKED_PLUGIN_CFLAGS"]?.split(separator: " ").map(String.init) ?? []
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [environment["UNLOCKED_PLUGIN_CC"] ?? "cc", "-O2", "-Wall", "-Werror", "-shared", "-fPIC",
                             "-I", packageRoot.appendingPathComponent("CKernels/include").path]
            + defines + extra + [source, "-o", output]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "cc \(source) \(defines) failed: \(String(decoding: message, as: UTF8.self))")
        }
    }
}
