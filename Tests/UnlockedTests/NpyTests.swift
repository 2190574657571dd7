import Foundation
import Testing
@testable import Unlocked

/// The fixtures written by numpy (Fixtures/npy/make_fixtures.py); values match that script.
enum NpyFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/npy")
    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static let ints32: [Int32] = [.min, -7, 0, 1, 49, 50, 51, 99, 100, .max]
    static let ints64: [Int64] = [.min, -7, 0, 1, 49, 50, 51, 99, 100, .max]
    static let floats: [Double] = [-1.5, 0.0, 0.1, 49.75, 50.0, 1e30, -1e-30, .infinity, 3.0, 2.5]
}

func elements<T>(_ array: MappedArray, as type: T.Type) -> [T] {
    Array(UnsafeBufferPointer(start: array.base.assumingMemoryBound(to: T.self), count: array.elements.count))
}

@Suite struct NpyTests {
    @Test(arguments: [1, 2, 3])
    func readsEveryDtypeNumpyWrites(version: Int) throws {
        let i4 = try MappedArray(path: NpyFixtures.path("i4_v\(version).npy"))
        #expect(i4.elementType == .i32 && i4.shape == [10])
        #expect(elements(i4, as: Int32.self) == NpyFixtures.ints32)
        let i8 = try MappedArray(path: NpyFixtures.path("i8_v\(version).npy"))
        #expect(i8.elementType == .i64)
        #expect(elements(i8, as: Int64.self) == NpyFixtures.ints64)
        let f4 = try MappedArray(path: NpyFixtures.path("f4_v\(version).npy"))
        #expect(f4.elementType == .f32)
        #expect(elements(f4, as: Float.self) == NpyFixtures.floats.map { Float($0) })
        let f8 = try MappedArray(path: NpyFixtures.path("f8_v\(version).npy"))
        #expect(f8.elementType == .f64)
        #expect(elements(f8, as: Double.self) == NpyFixtures.floats)
    }

    @Test func readsTwoDimensionalArraysInRowOrder() throws {
        let array = try MappedArray(path: NpyFixtures.path("i4_2d.npy"))
        #expect(array.shape == [2, 3])
        #expect(elements(array, as: Int32.self) == [0, 1, 2, 3, 4, 5])
    }

    @Test(arguments: [
        ("bad_bigendian.npy", "big-endian dtype >i4"),
        ("bad_fortran.npy", "Fortran-order"),
        ("bad_object.npy", "object dtype"),
        ("bad_structured.npy", "structured"),
        ("bad_uint16.npy", "'<u2' is not supported"),
        ("bad_truncated_data.npy", "needs 40 data bytes, the file has 37 (truncated)"),
        ("bad_extra_data.npy", "needs 40 data bytes, the file has 44"),
        ("bad_truncated_header.npy", "truncated .npy header"),
        ("bad_magic.npy", "not an .npy file"),
        ("bad_version.npy", "version 4.0"),
    ])
    func malformedFilesNameTheProblem(name: String, expected: String) {
        #expect {
            _ = try MappedArray(path: NpyFixtures.path(name))
        } throws: { error in
            guard let error = error as? UnlockedError else { return false }
            return error.kind == .badData && error.message.contains(expected) && !error.message.contains("\n")
        }
    }

    @Test func missingFileIsNoInput() {
        expectError(.noInput, containing: "/nonexistent/x.npy: cannot open: No such file or directory") { _ = try MappedArray(path: "/nonexistent/x.npy") }
    }

    /// A hostile dtype is quoted with escapes: the message stays one line and
    /// sends no terminal control sequence (found by the npy-header fuzzer).
    @Test func badDtypeIsQuotedOnOneLine() {
        let text = "{'descr': '<\n\u{1b}[2J', 'fortran_order': False, 'shape': (1,), }"
        let bytes = NpyHeader.magic + [1, 0, UInt8(text.utf8.count), 0] + Array(text.utf8)
        bytes.withUnsafeBytes { raw in
            expectError(.badData, containing: "dtype '<\\u{a}\\u{1b}[2J' is not supported") { _ = try NpyHeader.parse(raw, name: "h") }
        }
    }

    /// So is an unknown key (found by the npy-header fuzzer: NULs inside a key).
    @Test func unknownKeyIsQuotedOnOneLine() {
        let text = "{'descr': '<i4', 'fortran_orde\u{0}\u{1b}r': True, 'shape': (2,), }"
        let bytes = NpyHeader.magic + [1, 0, UInt8(text.utf8.count), 0] + Array(text.utf8)
        bytes.withUnsafeBytes { raw in
            expectError(.badData, containing: "has the key 'fortran_orde\\u{0}\\u{1b}r'") { _ = try NpyHeader.parse(raw, name: "h") }
        }
    }

    @Test func headerParserRejectsGarbage() {
        let cases = ["{'descr': '<i4', 'fortran_order': False}", "{'descr': '<i4' 'shape': (1,)}", "not a dict", "{'shape': (1,), 'fortran_order': Maybe}"]
        for text in cases {
            let bytes = NpyHeader.magic + [1, 0, UInt8(text.utf8.count), 0] + Array(text.utf8)
            _ = bytes.withUnsafeBytes { raw in
                #expect(throws: UnlockedError.self, "\(text)") { _ = try NpyHeader.parse(raw, name: "h") }
            }
        }
    }

    @Test func rawFilesNeedWholeElements() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("raw-\(UUID().uuidString).bin")
        defer { try? FileManager.default.removeItem(at: url) }
        let values: [Int64] = [5, -3, 1 << 40]
        try values.withUnsafeBytes { Data($0) }.write(to: url)
        let array = try MappedArray(path: url.path, rawType: .i64)
        #expect(elements(array, as: Int64.self) == values)
        expectError(.badData, containing: "not an .npy file, and no --dtype given") { _ = try MappedArray(path: url.path, rawType: nil) }
        try Data([1, 2, 3]).write(to: url)
        expectError(.badData, containing: "3 bytes is not a whole number of i32 elements") { _ = try MappedArray(path: url.path, rawType: .i32) }
    }

    @Test(arguments: OutputType.allCases)
    func writtenFilesReadBack(type: OutputType) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("out-\(UUID().uuidString).npy").path
        defer { unlink(path) }
        let file = try NpyOutputFile(path: path, type: type, shape: [2, 3])
        for i in 0..<(6 * type.byteWidth) { file.base.storeBytes(of: UInt8(i), toByteOffset: i, as: UInt8.self) }
        #expect(!FileManager.default.fileExists(atPath: path))
        try file.commit()
        let array = try MappedArray(path: path)
        #expect(array.elementType == type && array.shape == [2, 3])
        let bytes = UnsafeRawBufferPointer(start: array.base, count: array.byteCount)
        #expect(Array(bytes) == (0..<(6 * type.byteWidth)).map { UInt8($0) })
    }

    @Test func uncommittedOutputLeavesNoFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("npy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        do { _ = try NpyOutputFile(path: directory.appendingPathComponent("o.npy").path, type: .u32, shape: [100]) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    @Test func failedRunLeavesNoOutputFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("npy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("o.npy").path
        // --center out of range for i32 fails after the input is mapped, before any output.
        let outcome = try CommandLineTool.run(["run", "--input", NpyFixtures.path("i4_v1.npy"), "--kernel", "absdist.map",
                                               "--output", output, "--center", "1e20"])
        #expect(outcome.status == 64)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    @Test(arguments: ["bad_fortran.npy", "bad_truncated_data.npy", "bad_bigendian.npy"])
    func commandLineExit65OnMalformedInput(name: String) throws {
        let outcome = try CommandLineTool.run(["run", "--input", NpyFixtures.path(name)])
        #expect(outcome.status == 65)
        #expect(outcome.stderr.split(separator: "\n").count == 1)
    }

    @Test func commandLineExit66OnMissingInput() throws {
        let outcome = try CommandLineTool.run(["run", "--input", "/nonexistent/in.npy"])
        #expect(outcome.status == 66)
    }

    /// The map output of `unlocked run`, read back by numpy itself (required:
    /// python3 with numpy is part of the test environment).
    @Test(arguments: ["i4_v1.npy", "i8_v2.npy", "f4_v3.npy", "f8_v1.npy"])
    func numpyReadsMapOutput(name: String) throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("map-\(UUID().uuidString).npy").path
        defer { unlink(output) }
        let run = try CommandLineTool.run(["run", "--input", NpyFixtures.path(name), "--kernel", "absdist.map",
                                           "--output", output, "--reps", "1"])
        #expect(run.status == 0, "\(run.stderr)")
        let script = """
        import sys, numpy as np
        a = np.load(sys.argv[1]); b = np.load(sys.argv[2])
        expected = np.abs(a.astype(np.float64) - 50) if a.dtype.kind == 'f' else np.abs(a.astype(object) - 50)
        want = {'i': {4: '<u4', 8: '<u8'}, 'f': {4: '<f4', 8: '<f8'}}[a.dtype.kind][a.dtype.itemsize]
        assert b.dtype.str == want, (b.dtype.str, want)
        assert b.shape == a.shape
        assert [float(x) for x in b.tolist()] == [float(np.array(x, dtype=b.dtype)) for x in expected.tolist()], (b, expected)
        print("ok")
        """
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", script, NpyFixtures.path(name), output]
        let pipe = Pipe()
        python.standardOutput = pipe
        python.standardError = pipe
        try python.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        python.waitUntilExit()
        #expect(python.terminationStatus == 0 && text.hasPrefix("ok"), "numpy (required by this test) said: \(text)")
    }
}

/// Headers numpy.load refuses are refused too, and shapes whose byte size
/// overflows are an error, never an arithmetic trap.
@Suite struct NpyHeaderStrictnessTests {
    /// A version-`major.minor` file whose header dict is `dict`, padded as numpy pads it.
    static func file(_ dict: String, major: UInt8 = 1, minor: UInt8 = 0, padding: String = "") -> [UInt8] {
        let text = Array((dict + padding).utf8)
        let lengthBytes = major == 1 ? 2 : 4
        let unpadded = 8 + lengthBytes + text.count + 1
        let total = (unpadded + 63) / 64 * 64
        let length = total - 8 - lengthBytes
        var bytes = NpyHeader.magic + [major, minor]
        for i in 0..<lengthBytes { bytes.append(UInt8((length >> (8 * i)) & 0xFF)) }
        return bytes + text + [UInt8](repeating: 0x20, count: total - unpadded) + [0x0A]
    }

    static func parse(_ bytes: [UInt8]) throws -> NpyHeader {
        try bytes.withUnsafeBytes { try NpyHeader.parse($0, name: "x.npy") }
    }

    static let good = "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }"

    @Test func numpysOwnHeaderParses() throws {
        #expect(try Self.parse(Self.file(Self.good)).shape == [3])
        #expect(try Self.parse(Self.file(Self.good, major: 2)).shape == [3])
    }

    @Test(arguments: [
        (file(good, minor: 1), "unsupported .npy format version 1.1"),
        (file(good, major: 4), "unsupported .npy format version 4.0"),
        (file("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), 'extra': 'x'}"), "the key 'extra'"),
        (file(good, padding: "garbage"), "unexpected text after the header's dict"),
        (file(good, padding: "\u{0}"), "unexpected text after the header's dict"),
        (file(good + String(repeating: " ", count: 10_001)), "more than numpy's limit of 10000"),
    ])
    func refusedLikeNumpy(bytes: [UInt8], message: String) {
        expectError(.badData, containing: message) { _ = try Self.parse(bytes) }
    }

    @Test(arguments: ["<i4", "<f8"], ["(2305843009213693952,)", "(9223372036854775807,)", "(4611686018427387904,)"])
    func overflowingShapesAreBadData(descr: String, shape: String) {
        let dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        expectError(.badData, containing: "is larger than any file can hold") { _ = try Self.parse(Self.file(dict)) }
    }

    @Test func overflowingShapeFromTheCommandLineIsExit65() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("huge-\(UUID().uuidString).npy").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(Self.file("{'descr': '<i4', 'fortran_order': False, 'shape': (2305843009213693952,), }")).write(to: URL(fileURLWithPath: path))
        let outcome = try CommandLineTool.run(["run", "--input", path])
        #expect(outcome.status == 65)
        #expect(outcome.stderr.split(separator: "\n").count == 1)
    }
}
