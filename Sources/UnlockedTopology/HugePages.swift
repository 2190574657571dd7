import Foundation
import UnlockedCore

/// Whether data buffers get transparent huge pages (`--huge-pages`). A value:
/// any thread may use it.
///
/// A 2 MiB page replaces 512 TLB entries with one; a streaming sum over a
/// buffer far larger than the TLB's reach then takes fewer page walks, which
/// matters most under nested paging (a virtual machine's walks are
/// two-dimensional).
public enum HugePageMode: String, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// Ask for huge pages on every buffer; a refusal is reported.
    case on
    /// Never ask; where THP is `always`, opt the buffer out.
    case off
    /// Ask on buffers of at least `autoThreshold` bytes, where THP allows it.
    case auto

    public static let accepted = allCases.map(\.rawValue).joined(separator: ", ")

    /// Four 2 MiB pages. Below that a buffer gains little: the second-level
    /// TLB of current x86 cores (1,536-2,048 entries of 4 KiB, 6-8 MiB)
    /// already covers it, only its 2 MiB-aligned middle could be huge, and
    /// each huge page is zeroed whole on first touch.
    public static let autoThreshold = 8 << 20

    public init(parsing text: String) throws(UnlockedError) {
        guard let mode = HugePageMode(rawValue: text) else {
            throw .usage("--huge-pages \(text): not a huge-page mode (accepted: \(HugePageMode.accepted))")
        }
        self = mode
    }

    public var description: String { rawValue }
}

/// The system-wide THP setting, the bracketed word of
/// /sys/kernel/mm/transparent_hugepage/enabled: `always`, `madvise` or
/// `never`; nil when the file is missing (no THP in this kernel).
package func transparentHugePageSetting(path: String) -> String? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8),
          let open = text.firstIndex(of: "["), let close = text[open...].firstIndex(of: "]") else { return nil }
    return String(text[text.index(after: open)..<close])
}

#if os(Linux)
import Glibc

extension MappedMemory {
    /// Carries out `mode` on this buffer; call it before touching the pages.
    /// The outcome says what was asked of the kernel (`advice`) and why.
    /// `auto` skips silently (applied, with the reason) where THP is `never`
    /// or missing and below `HugePageMode.autoThreshold`; `on` reports those
    /// as not applied. `off` advises `MADV_NOHUGEPAGE` only where THP is
    /// `always`, since elsewhere nothing gives the buffer huge pages.
    /// Shared memory (a memfd `JobBuffer`) is not advised: its pages were
    /// all allocated by `posix_fallocate`, outside any mapping, so only
    /// .../transparent_hugepage/shmem_enabled decides (huge under `always`,
    /// `within_size` or `force`), and the outcome says which it was.
    /// The corresponding C call is `madvise`.
    public func applyHugePages(_ mode: HugePageMode,
                               settingPath: String = "/sys/kernel/mm/transparent_hugepage/enabled",
                               sharedSettingPath: String = "/sys/kernel/mm/transparent_hugepage/shmem_enabled") -> MemoryOutcome {
        let requested = "huge-pages \(mode)"
        if let job = self as? JobBuffer, job.sharedFileDescriptor != nil {
            let shared = transparentHugePageSetting(path: sharedSettingPath)
            let huge = ["always", "within_size", "force"].contains(shared ?? "never")
            let note = "shared memory allocated by posix_fallocate: huge pages only if shmem_enabled says so, "
                + (shared.map { "[\($0)]" } ?? "missing") + (huge ? "" : " (4 KiB pages)")
            return MemoryOutcome(requested: requested, applied: mode == .auto || (mode == .on) == huge, note: note)
        }
        let setting = transparentHugePageSetting(path: settingPath)
        let described = setting.map { "transparent huge pages are [\($0)]" } ?? "this kernel has no transparent huge pages (no \(settingPath))"
        func advise(_ advice: Int32, _ name: String, reason: String) -> MemoryOutcome {
            switch valueOrErrno({ madvise(base, max(byteCount, 1), advice) }) {
            case .success:
                return MemoryOutcome(requested: requested, applied: true, note: "\(name): \(reason)", advice: name)
            case .failure(let error):
                return MemoryOutcome(requested: requested, applied: false, note: "\(name) refused: \(error)")
            }
        }
        switch mode {
        case .off:
            guard setting == "always" else { return MemoryOutcome(requested: requested, applied: true, note: "not advised: \(described)") }
            return advise(MADV_NOHUGEPAGE, "MADV_NOHUGEPAGE", reason: "\(described), this buffer opts out")
        case .on, .auto:
            guard let setting, setting != "never" else {
                return MemoryOutcome(requested: requested, applied: mode == .auto, note: "not advised: \(described)")
            }
            if mode == .auto, byteCount < HugePageMode.autoThreshold {
                return MemoryOutcome(requested: requested, applied: true,
                                     note: "not advised: \(byteCount) bytes, under the \(HugePageMode.autoThreshold >> 20) MiB threshold")
            }
            return advise(MADV_HUGEPAGE, "MADV_HUGEPAGE", reason: "\(byteCount) bytes, \(described)")
        }
    }
}
#endif
