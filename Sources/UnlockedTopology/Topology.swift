import Foundation
import UnlockedCore

/// A snapshot of a machine's topology as hwloc describes it, plus which PUs
/// this process may use.
///
/// Two numberings exist and are never mixed: `osIndex` is the kernel's
/// number (what `taskset`, `/proc/cpuinfo`, `numactl` and `--pin 0-3` use,
/// written `P#` as lstopo does); `logicalIndex` is hwloc's depth-first order
/// (written `L#`, what `hwloc-calc` uses by default). A value type: any thread
/// may read it.
public struct Topology: Sendable, Codable, Equatable {
    /// Where the description came from.
    public enum Source: Sendable, Codable, Equatable, CustomStringConvertible {
        /// The machine this process runs on.
        case host
        /// An hwloc synthetic description such as `pack:2 numa:2 core:8 pu:2`.
        case synthetic(String)
        /// An hwloc XML export (`lstopo --of xml`).
        case xml(path: String)

        /// `--topology VALUE`: an existing file or a name ending in `.xml`
        /// is XML, anything else a synthetic description.
        public init(argument: String, fileExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }) {
            if argument.lowercased().hasSuffix(".xml") || fileExists(argument) {
                self = .xml(path: argument)
            } else {
                self = .synthetic(argument)
            }
        }

        public var description: String {
            switch self {
            case .host: "this machine"
            case .synthetic(let text): "synthetic '\(text)'"
            case .xml(let path): "XML \(path)"
            }
        }
    }

    /// One hardware thread.
    public struct PU: Sendable, Codable, Equatable {
        /// The kernel's CPU number (`P#`).
        public var osIndex: Int
        /// hwloc's logical index (`L#`).
        public var logicalIndex: Int
        /// Logical index of the core holding it (the PU's own logical index
        /// when the topology has no core level).
        public var core: Int
        /// Logical index of its package (0 when the topology has none).
        public var package: Int
        /// OS index of the NUMA node next to it, nil when none is known.
        public var numaNode: Int?
        /// Whether this process may run on it (affinity mask, cgroup cpuset).
        public var allowed: Bool
    }

    /// One NUMA node: its memory and the PUs next to it.
    public struct NUMANode: Sendable, Codable, Equatable {
        public var osIndex: Int
        public var logicalIndex: Int
        public var memoryBytes: Int
        /// OS indices of its PUs.
        public var pus: [Int]
    }

    /// An object of the tree (Machine, Package, Group, NUMANode, L3, Core, PU…).
    public struct Object: Sendable, Codable, Equatable {
        public var type: String
        public var logicalIndex: Int
        public var osIndex: Int?
        /// Cache size, for caches.
        public var cacheBytes: Int?
        /// Local memory, for NUMA nodes.
        public var memoryBytes: Int?
        /// For PUs: whether this process may use it.
        public var allowed: Bool?
        /// Memory children (NUMA nodes) first, then the normal children.
        public var children: [Object]
    }

    public var source: Source
    /// Whether the description is of the machine this process runs on, so
    /// threads can be bound to it.
    public var isThisMachine: Bool
    public var root: Object
    /// Every PU in logical order, allowed or not.
    public var pus: [PU]
    public var numaNodes: [NUMANode]

    public init(source: Source, isThisMachine: Bool, root: Object, pus: [PU], numaNodes: [NUMANode]) {
        self.source = source
        self.isThisMachine = isThisMachine
        self.root = root
        self.pus = pus
        self.numaNodes = numaNodes
    }
}

extension Topology {
    /// OS indices of the PUs this process may use.
    public var allowedPUs: [Int] { pus.filter(\.allowed).map(\.osIndex) }

    /// Cores with at least one allowed PU, in logical order, each with its
    /// allowed PUs in logical order.
    public var allowedCores: [(core: Int, pus: [PU])] {
        var order: [Int] = []
        var members: [Int: [PU]] = [:]
        for pu in pus where pu.allowed {
            if members[pu.core] == nil { order.append(pu.core) }
            members[pu.core, default: []].append(pu)
        }
        return order.map { ($0, members[$0]!) }
    }

    /// Whether hwloc knows more than one NUMA node. With one node (laptops,
    /// most containers and VMs) memory placement changes nothing.
    public var hasNUMAInformation: Bool { numaNodes.count > 1 }

    /// Whether some PUs of the machine are not allowed: the process was
    /// bound by a parent (taskset, numactl, hwloc-bind, srun) or a cgroup.
    public var isRestricted: Bool { pus.contains { !$0.allowed } }

    /// Returns this topology with only `osPUs` allowed (intersected with what
    /// was allowed), for planning as if run under `taskset` or a SLURM
    /// allocation. Unknown CPU numbers are an error naming them.
    public func restricted(to osPUs: [Int]) throws(UnlockedError) -> Topology {
        let known = Set(pus.map(\.osIndex))
        if let unknown = osPUs.first(where: { !known.contains($0) }) {
            throw .usage("CPU \(unknown) is not in this topology (its CPUs: \(CPUList.format(known)))")
        }
        let keep = Set(osPUs)
        var copy = self
        for index in copy.pus.indices where !keep.contains(copy.pus[index].osIndex) {
            copy.pus[index].allowed = false
        }
        copy.root = Topology.marking(copy.root, allowed: Set(copy.allowedPUs))
        return copy
    }

    private static func marking(_ object: Object, allowed: Set<Int>) -> Object {
        var object = object
        if object.type == "PU", let os = object.osIndex { object.allowed = allowed.contains(os) }
        object.children = object.children.map { marking($0, allowed: allowed) }
        return object
    }
}
