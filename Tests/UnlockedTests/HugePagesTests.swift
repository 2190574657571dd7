import Foundation
import Glibc
import Testing
@testable import Unlocked

/// `--huge-pages on|off|auto`: parsing, what each mode asks of the kernel,
/// and what the kernel then records for the buffer in /proc/self/smaps.
@Suite struct HugePagesTests {
    /// The system's THP setting; the smaps checks below expect what it allows.
    static let setting = transparentHugePageSetting(path: "/sys/kernel/mm/transparent_hugepage/enabled")
    static var thpAvailable: Bool { setting != nil && setting != "never" }

    /// A THP setting file as the kernel writes it, with `word` selected.
    static func fixture(_ word: String, of words: [String] = ["always", "madvise", "never"]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("unlocked-thp-\(UUID())")
        try (words.map { $0 == word ? "[\($0)]" : $0 }.joined(separator: " ") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// The smaps fields of the mapping that holds `address`: "VmFlags" (the
    /// two-letter flags: `hg` is MADV_HUGEPAGE, `nh` MADV_NOHUGEPAGE),
    /// "THPeligible", "AnonHugePages" and the rest, as written.
    static func smaps(containing address: UnsafeMutableRawPointer) throws -> [String: String] {
        // Read to the end: String(contentsOfFile:) stops at the size /proc reports.
        let data = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/smaps")).readToEnd() ?? Data()
        let text = String(decoding: data, as: UTF8.self)
        let target = UInt(bitPattern: address)
        var fields: [String: String]?
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ", maxSplits: 1)
            if let range = words.first, range.contains("-"), !range.hasSuffix(":") {
                if fields != nil { break }
                let bounds = range.split(separator: "-").compactMap { UInt($0, radix: 16) }
                if bounds.count == 2, (bounds[0]..<bounds[1]).contains(target) { fields = [:] }
            } else if fields != nil, let colon = line.firstIndex(of: ":") {
                fields![String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return try #require(fields, "no mapping holds \(address)")
    }

    static func flags(_ buffer: AlignedBuffer) throws -> Set<String> {
        Set(try smaps(containing: buffer.base)["VmFlags"]?.split(separator: " ").map(String.init) ?? [])
    }

    @Test(arguments: [("on", HugePageMode.on), ("off", .off), ("auto", .auto)])
    func parsesModes(text: String, mode: HugePageMode) throws {
        #expect(try HugePageMode(parsing: text) == mode)
        #expect(mode.description == text)
    }

    @Test(arguments: ["yes", "", "ON", "true"])
    func rejectsModes(text: String) {
        expectError(.usage, containing: "--huge-pages \(text): not a huge-page mode (accepted: on, off, auto)") {
            try HugePageMode(parsing: text)
        }
    }

    /// A bad value is one line naming it and the accepted modes, exit 64, in
    /// every command that allocates data; the old bare flag needs a value now.
    @Test(arguments: [["run", "--size", "1000", "--huge-pages", "yes"],
                      ["bench", "--sizes", "1000", "--huge-pages", "yes"],
                      ["compare", "--size-large", "1000", "--huge-pages", "yes"],
                      ["topo", "--huge-pages", "yes"]])
    func badModeOnTheCommandLine(arguments: [String]) throws {
        let outcome = try CommandLineTool.run(arguments)
        #expect(outcome.status == 64)
        #expect(outcome.stderr.contains("--huge-pages yes: not a huge-page mode (accepted: on, off, auto)"), "\(outcome.stderr)")
        #expect(outcome.stderr.split(separator: "\n").count == 1)
    }

    @Test func bareFlagNeedsAMode() throws {
        let outcome = try CommandLineTool.run(["run", "--size", "1000", "--huge-pages"])
        #expect(outcome.status == 64)
        #expect(outcome.stderr.contains("--huge-pages <mode>"), "\(outcome.stderr)")
        #expect(outcome.stderr.split(separator: "\n").count == 1)
    }

    /// `auto` advises a buffer of the threshold or more and leaves a smaller
    /// one alone, and the kernel's record of the mapping agrees.
    @Test func autoAdvisesLargeBuffersOnly() throws {
        let large = try AlignedBuffer(byteCount: HugePageMode.autoThreshold)
        let small = try AlignedBuffer(byteCount: 64 << 10)
        let largeOutcome = large.applyHugePages(.auto), smallOutcome = small.applyHugePages(.auto)
        #expect(largeOutcome.requested == "huge-pages auto" && largeOutcome.applied)
        #expect(smallOutcome.applied && smallOutcome.advice == nil)
        #expect(smallOutcome.note?.contains("under the 8 MiB threshold") == true || !Self.thpAvailable)
        #expect(try !Self.flags(small).contains("hg"))
        if Self.thpAvailable {
            #expect(largeOutcome.advice == "MADV_HUGEPAGE")
            #expect(try Self.flags(large).contains("hg"))
            memset(large.base, 1, large.byteCount)
            #expect(try Self.smaps(containing: large.base)["THPeligible"] == "1")
        } else {
            #expect(largeOutcome.advice == nil)
            #expect(try !Self.flags(large).contains("hg"))
        }
    }

    /// Where the setting allows madvise, `auto` and `on` advise; where it is
    /// `never`, `auto` skips quietly and `on` reports the refusal.
    @Test func modesFollowTheSetting() throws {
        let madvise = try Self.fixture("madvise"), never = try Self.fixture("never")
        defer { [madvise, never].forEach { try? FileManager.default.removeItem(at: $0) } }
        let buffer = try AlignedBuffer(byteCount: 16 << 20)
        let skipped = buffer.applyHugePages(.auto, settingPath: never.path)
        #expect(skipped.applied && skipped.advice == nil && skipped.note?.contains("[never]") == true)
        let refused = buffer.applyHugePages(.on, settingPath: never.path)
        #expect(!refused.applied && refused.advice == nil && refused.note?.contains("[never]") == true)
        let missing = buffer.applyHugePages(.on, settingPath: "/nonexistent")
        #expect(!missing.applied && missing.note?.contains("no transparent huge pages") == true)
        // `on` ignores the threshold.
        let small = try AlignedBuffer(byteCount: 64 << 10)
        #expect(small.applyHugePages(.on, settingPath: madvise.path).advice == "MADV_HUGEPAGE")
        #expect(try Self.flags(small).contains("hg"))
    }

    /// `off` asks nothing unless THP is `always`; then the buffer opts out.
    @Test func offOptsOutOnlyWhereTHPIsAlways() throws {
        let madvise = try Self.fixture("madvise"), always = try Self.fixture("always")
        defer { [madvise, always].forEach { try? FileManager.default.removeItem(at: $0) } }
        let quiet = try AlignedBuffer(byteCount: 16 << 20)
        let nothing = quiet.applyHugePages(.off, settingPath: madvise.path)
        #expect(nothing.requested == "huge-pages off" && nothing.applied && nothing.advice == nil)
        #expect(try Self.flags(quiet).isDisjoint(with: ["hg", "nh"]))
        let optedOut = try AlignedBuffer(byteCount: 16 << 20)
        let outcome = optedOut.applyHugePages(.off, settingPath: always.path)
        #expect(outcome.applied && outcome.advice == "MADV_NOHUGEPAGE")
        #expect(try Self.flags(optedOut).contains("nh"))
        memset(optedOut.base, 1, optedOut.byteCount)
        #expect(try Self.smaps(containing: optedOut.base)["THPeligible"] == "0")
    }

    /// Shared memory is allocated by posix_fallocate, outside any mapping:
    /// no advice can change it, and the outcome names shmem_enabled's word.
    @Test func sharedMemoryFollowsShmemEnabled() throws {
        let shmemWords = ["always", "within_size", "advise", "never", "deny", "force"]
        let never = try Self.fixture("never", of: shmemWords), always = try Self.fixture("always", of: shmemWords)
        defer { [never, always].forEach { try? FileManager.default.removeItem(at: $0) } }
        let shared = try JobBuffer(sharedCount: 4 << 20, width: 4)
        let small = shared.applyHugePages(.auto, sharedSettingPath: never.path)
        #expect(small.applied && small.advice == nil && small.note?.contains("[never] (4 KiB pages)") == true)
        #expect(!shared.applyHugePages(.on, sharedSettingPath: never.path).applied)
        #expect(shared.applyHugePages(.on, sharedSettingPath: always.path).applied)
        #expect(!shared.applyHugePages(.off, sharedSettingPath: always.path).applied)
        #expect(shared.applyHugePages(.off, sharedSettingPath: never.path).applied)
    }

    static func runMemory(_ arguments: [String]) throws -> [[String: Any]] {
        let outcome = try CommandLineTool.run(["run", "--json", "--reps", "1", "--warmup", "0"] + arguments)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try #require(JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        let placement = try #require(report["placement"] as? [String: Any])
        return try #require(placement["memory"] as? [[String: Any]])
    }

    /// `run` reports the mode and what it did to the input, huge pages first.
    @Test func runRecordsTheModeAndTheAdvice() throws {
        let large = try Self.runMemory(["--size", "4Mi", "--dtype", "i32"])  // 16 MiB
        #expect(large.first?["requested"] as? String == "huge-pages auto")
        #expect(large.first?["advice"] as? String == (Self.thpAvailable ? "MADV_HUGEPAGE" : nil))
        let small = try Self.runMemory(["--size", "1000"])
        #expect(small.first?["requested"] as? String == "huge-pages auto" && small.first?["advice"] == nil)
        let off = try Self.runMemory(["--size", "4Mi", "--huge-pages", "off"])
        #expect(off.first?["requested"] as? String == "huge-pages off")
        #expect(off.first?["advice"] == nil || Self.setting == "always")
    }

    /// `bench` records the mode in its parameters and each cell's input outcome.
    @Test func benchRecordsTheModeAndTheAdvice() throws {
        let outcome = try CommandLineTool.run(["bench", "--engines", "sequential", "--sizes", "1000,4Mi", "--reps", "1", "--warmup", "0",
                                               "--huge-pages", "on", "--json"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try #require(JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        #expect((report["parameters"] as? [String: Any])?["huge_pages"] as? String == "on")
        let cells = try #require(report["cells"] as? [[String: Any]])
        #expect(cells.count == 2)
        for cell in cells {
            let hugePages = try #require(cell["huge_pages"] as? [String: Any])
            #expect(hugePages["requested"] as? String == "huge-pages on")
            #expect(hugePages["advice"] as? String == (Self.thpAvailable ? "MADV_HUGEPAGE" : nil))
        }
    }
}
