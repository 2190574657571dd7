#if os(Linux)
import CNuma
import Foundation
import Glibc
import UnlockedCore

/// Where a buffer's pages should live (`--mem`). A value: any thread may use it.
public enum MemoryPolicy: Sendable, Equatable, CustomStringConvertible {
    /// Each pinned worker writes the chunk it will process first, so the
    /// kernel puts those pages on the worker's node. Done by the engines.
    case firstTouch
    /// Pages round-robin over the NUMA nodes that hold allowed CPUs.
    case interleave
    /// Every page on the NUMA node with this OS number.
    case node(Int)
    /// The allocator's default.
    case none

    public static let accepted = "first-touch, interleave, node:K, none"

    public init(parsing text: String) throws(UnlockedError) {
        switch text {
        case "first-touch": self = .firstTouch
        case "interleave": self = .interleave
        case "none": self = .none
        default:
            guard text.hasPrefix("node:"), let node = Int(text.dropFirst(5)), node >= 0 else {
                throw .usage("--mem \(text): not a memory policy (accepted: \(MemoryPolicy.accepted))")
            }
            self = .node(node)
        }
    }

    public var description: String {
        switch self {
        case .firstTouch: "first-touch"
        case .interleave: "interleave"
        case .node(let k): "node:\(k)"
        case .none: "none"
        }
    }
}

/// What happened to a requested memory setting: applied, or why not.
/// A refused policy is never reported as success.
public struct MemoryOutcome: Sendable, Equatable, Codable {
    public var requested: String
    public var applied: Bool
    /// Why it was not applied, or how it is applied (first-touch).
    public var note: String?
    /// The `madvise` advice given to the kernel (`MADV_HUGEPAGE`,
    /// `MADV_NOHUGEPAGE`); nil when none was.
    public var advice: String?

    public init(requested: String, applied: Bool, note: String? = nil, advice: String? = nil) {
        self.requested = requested
        self.applied = applied
        self.note = note
        self.advice = advice
    }

}

/// The node mask `mbind(2)` reads: bit n % 64 of word n / 64 for each node
/// (OS numbers, none negative), in as many words as the highest node needs.
package func nodeMask(_ nodes: [Int]) -> [UInt] {
    var words = [UInt](repeating: 0, count: (nodes.max() ?? 0) / UInt.bitWidth + 1)
    for node in nodes { words[node / UInt.bitWidth] |= 1 << UInt(node % UInt.bitWidth) }
    return words
}

extension MappedMemory {
    /// Applies `policy` to the whole buffer with `mbind(2)`; call it before
    /// any page is touched (pages already present keep their node).
    /// `first-touch` and `none` change nothing here: first-touch is done by
    /// each pinned worker writing its own chunk first.
    ///
    /// A NUMA node that does not exist is a usage error; a policy the kernel
    /// refuses (EPERM in containers, no NUMA support) comes back not applied.
    /// The corresponding C function is `mbind`.
    public func apply(_ policy: MemoryPolicy, topology: Topology) throws(UnlockedError) -> MemoryOutcome {
        let name = policy.description
        let nodes = topology.numaNodes.map(\.osIndex)
        if case .node(let k) = policy, !nodes.contains(k) {
            throw .usage("--mem node:\(k): no NUMA node \(k) (this topology has nodes \(CPUList.format(nodes)))")
        }
        switch policy {
        case .none:
            return MemoryOutcome(requested: name, applied: true, note: "allocator default")
        case .firstTouch:
            return MemoryOutcome(requested: name, applied: true, note: "each pinned worker writes its own chunk first")
        case .interleave, .node:
            guard topology.isThisMachine else {
                return MemoryOutcome(requested: name, applied: false, note: "the topology is \(topology.source), not this machine")
            }
            guard numa_available() >= 0 else {
                return MemoryOutcome(requested: name, applied: false, note: "the kernel has no NUMA support")
            }
            let targets: [Int]
            if case .node(let k) = policy {
                targets = [k]
            } else {
                let used = Set(topology.pus.filter(\.allowed).compactMap(\.numaNode))
                targets = nodes.filter { used.contains($0) }
            }
            let mode = policy == .interleave ? MPOL_INTERLEAVE : MPOL_BIND
            switch bind(toNodes: targets, mode: Int32(mode)) {
            case .success:
                return MemoryOutcome(requested: name, applied: true, note: "mbind to nodes \(CPUList.format(targets))")
            case .failure(let error):
                return MemoryOutcome(requested: name, applied: false, note: "the kernel refused mbind: \(error)")
            }
        }
    }

    /// `mbind(2)` of the whole buffer with `mode` to `nodes` (OS numbers);
    /// the mask has as many words as the highest node needs, so machines with
    /// more than 64 NUMA nodes work. The corresponding C function is `mbind`.
    package func bind(toNodes nodes: [Int], mode: Int32) -> Result<Int, SystemCallError> {
        let mask = nodeMask(nodes)
        return mask.withUnsafeBufferPointer { words in
            valueOrErrno { uk_mbind(base, UInt(max(byteCount, 1)), mode, words.baseAddress, UInt(words.count * UInt.bitWidth)) }
        }
    }
}
#endif
