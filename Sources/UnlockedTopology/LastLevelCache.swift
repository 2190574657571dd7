import Foundation

/// Bytes of the largest data or unified cache CPU 0 sees, read from sysfs
/// (what hwloc and lscpu report). glibc's sysconf derives it from CPUID,
/// which VMs often misreport (384 MiB seen for a 32 MiB L3). Used to decide
/// when map output should bypass the cache and how large a STREAM-style
/// array must be; falls back to 32 MiB when sysfs has no cache information.
public let lastLevelCacheBytes: Int = largestCacheBytes() ?? 32 << 20

/// Reads `index*/size` and `index*/type` under `directory` (a defaulted
/// parameter, so tests can point it at fixture files).
package func largestCacheBytes(directory: String = "/sys/devices/system/cpu/cpu0/cache") -> Int? {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return nil }
    let sizes = entries.filter { $0.hasPrefix("index") }.compactMap { entry -> Int? in
        let base = directory + "/" + entry
        guard let type = try? String(contentsOfFile: base + "/type", encoding: .utf8),
              type.trimmingCharacters(in: .whitespacesAndNewlines) != "Instruction",
              let text = try? String(contentsOfFile: base + "/size", encoding: .utf8) else { return nil }
        return parseCacheSize(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    return sizes.max()
}

/// "32768K" → 33554432; sysfs uses K and M suffixes.
package func parseCacheSize(_ text: String) -> Int? {
    let multipliers: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
    if let last = text.last, let multiplier = multipliers[last] {
        return Int(text.dropLast()).map { $0 * multiplier }
    }
    return Int(text)
}
