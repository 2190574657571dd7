import Foundation
import Testing
@testable import Unlocked

@Suite struct LastLevelCacheTests {
    @Test func largestDataCacheFromSysfsFixture() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("uk-cache-\(getpid())")
        defer { try? FileManager.default.removeItem(at: root) }
        for (index, type, size) in [(0, "Data", "48K"), (1, "Instruction", "64M"), (2, "Unified", "1024K"), (3, "Unified", "32768K")] {
            let dir = root.appendingPathComponent("index\(index)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try "\(type)\n".write(to: dir.appendingPathComponent("type"), atomically: true, encoding: .utf8)
            try "\(size)\n".write(to: dir.appendingPathComponent("size"), atomically: true, encoding: .utf8)
        }
        #expect(largestCacheBytes(directory: root.path) == 32 << 20)
        #expect(largestCacheBytes(directory: root.path + "/missing") == nil)
    }
}
