#if os(Linux)
import CNuma
import Foundation
import Glibc

/// Where a buffer's pages really are, per NUMA node, as the kernel says.
/// Verification of a memory policy, never an assumption. A value.
public struct PageLocationReport: Sendable, Equatable, Codable {
    public var pageSize: Int
    public var totalPages: Int
    /// Present pages per NUMA node (OS number).
    public var pagesPerNode: [Int: Int]
    /// Pages not yet touched (`-ENOENT`): they have no node yet.
    public var notPresent: Int
    /// Pages the kernel would not locate (other errors).
    public var unknown: Int
    /// Set when the query itself failed (no NUMA support, forbidden).
    public var error: String?

    /// Pages whose node is known.
    public var locatedPages: Int { pagesPerNode.values.reduce(0, +) }

    /// Share of the buffer's pages on `node`, 0…1.
    public func share(ofNode node: Int) -> Double {
        totalPages == 0 ? 0 : Double(pagesPerNode[node, default: 0]) / Double(totalPages)
    }

    /// One line: `node 0: 100.0%` per node, plus untouched pages.
    public var summary: String {
        if let error { return "page locations unknown: \(error)" }
        var parts = pagesPerNode.keys.sorted().map { node in
            "node \(node): \(String(format: "%.1f", 100 * share(ofNode: node)))%"
        }
        if notPresent > 0 { parts.append("not touched: \(notPresent) pages") }
        if unknown > 0 { parts.append("unknown: \(unknown) pages") }
        return parts.joined(separator: ", ") + " of \(totalPages) pages"
    }

    public var jsonObject: [String: Any] {
        var object: [String: Any] = [
            "page_size": pageSize, "total_pages": totalPages, "not_present": notPresent, "unknown": unknown,
            "pages_per_node": Dictionary(uniqueKeysWithValues: pagesPerNode.map { ("\($0.key)", $0.value) }),
            "share_per_node": Dictionary(uniqueKeysWithValues: pagesPerNode.keys.map { ("\($0)", share(ofNode: $0)) }),
        ]
        object["error"] = error
        return object
    }
}

extension MappedMemory {
    /// Asks the kernel where every page of the buffer lives. Pages never
    /// touched count as not present. The corresponding C function is
    /// `numa_move_pages` with no target nodes, which only queries.
    public func pageLocations() -> PageLocationReport {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let total = (max(byteCount, 1) + pageSize - 1) / pageSize
        var report = PageLocationReport(pageSize: pageSize, totalPages: total, pagesPerNode: [:], notPresent: 0, unknown: 0)
        let batch = 16_384
        var pages = [UnsafeMutableRawPointer?](repeating: nil, count: min(batch, total))
        var status = [Int32](repeating: 0, count: min(batch, total))
        var first = 0
        while first < total {
            let count = min(batch, total - first)
            for index in 0..<count { pages[index] = base + (first + index) * pageSize }
            let result = pages.withUnsafeMutableBufferPointer { pointers in
                status.withUnsafeMutableBufferPointer { states in
                    valueOrErrno { uk_query_page_nodes(UInt(count), pointers.baseAddress, states.baseAddress) }
                }
            }
            if case .failure(let error) = result {
                report.error = "numa_move_pages failed: \(error)"
                return report
            }
            for state in status.prefix(count) {
                switch state {
                case 0...: report.pagesPerNode[Int(state), default: 0] += 1
                case -ENOENT: report.notPresent += 1
                default: report.unknown += 1
                }
            }
            first += count
        }
        return report
    }
}
#endif
