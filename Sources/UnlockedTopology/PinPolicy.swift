import UnlockedCore
/// How workers are assigned to PUs (`--pin`).
///
/// Numbering, because users mix them and get wrong pinnings: explicit lists
/// and masks are OS CPU numbers (`P#`, as `taskset -c` and /proc use);
/// `numa:K` and `N1:`/`M1:` name the NUMA node by its OS number; `S0:` is the
/// first package in hwloc's logical order; the indices after a domain's colon
/// count inside that domain (likwid's rule: one PU per core first, then SMT
/// siblings). A value: any thread may use it.
public enum PinPolicy: Sendable, Equatable, CustomStringConvertible {
    /// One worker per core in topology order; SMT siblings only once every core has one.
    case compact
    /// Round-robin over NUMA nodes (alternating packages), then cores, then SMT siblings.
    case spread
    /// Compact, inside the NUMA node with this OS number.
    case numa(Int)
    /// No binding.
    case none
    /// Exactly these OS CPU numbers, in this order.
    case cpus([Int])
    /// likwid-style domain selections, joined with `@`: `S0:0-3@S1:0-3`.
    case domains([DomainSelection])

    /// `S0:0-3`: the PUs at these indices inside one domain.
    public struct DomainSelection: Sendable, Equatable, CustomStringConvertible {
        public enum Domain: Sendable, Equatable {
            /// `N:` the whole machine (likwid's node).
            case machine
            /// `S<k>:` the k-th package, logical order.
            case package(Int)
            /// `N<k>:` or `M<k>:` the NUMA node with OS number k.
            case numaNode(Int)
        }
        public var domain: Domain
        public var indices: [Int]

        public var description: String {
            let prefix = switch domain {
            case .machine: "N"
            case .package(let k): "S\(k)"
            case .numaNode(let k): "N\(k)"
            }
            return "\(prefix):\(CPUList.format(indices))"
        }
    }

    /// Accepted forms, for help and errors.
    public static let accepted = "compact, spread, numa:K, none, OS CPU list 0-3,8 / 0-10:2 / 0xf0, or domain S0:0-3, N1:0-1"

    /// Parses a `--pin` value. Pure; errors quote the value and the accepted forms.
    public init(parsing text: String) throws(UnlockedError) {
        switch text {
        case "compact": self = .compact; return
        case "spread": self = .spread; return
        case "none": self = .none; return
        default: break
        }
        if text.hasPrefix("numa:") {
            guard let node = Int(text.dropFirst(5)), node >= 0 else {
                throw .usage("--pin \(text): numa:K needs a NUMA node number K ≥ 0 (accepted: \(PinPolicy.accepted))")
            }
            self = .numa(node)
        } else if let first = text.first, first.isLetter {
            self = .domains(try text.split(separator: "@", omittingEmptySubsequences: false).map { part throws(UnlockedError) in
                try DomainSelection(parsing: String(part), whole: text)
            })
        } else {
            do {
                self = .cpus(try CPUList.parse(text))
            } catch {
                throw .usage("--pin: \(error.message); or one of: compact, spread, numa:K, none, S0:0-3")
            }
        }
    }

    public var description: String {
        switch self {
        case .compact: "compact"
        case .spread: "spread"
        case .numa(let node): "numa:\(node)"
        case .none: "none"
        case .cpus(let list): list.map(String.init).joined(separator: ",")
        case .domains(let selections): selections.map(\.description).joined(separator: "@")
        }
    }
}

extension PinPolicy.DomainSelection {
    package init(parsing part: String, whole: String) throws(UnlockedError) {
        func bad(_ why: String) -> UnlockedError {
            .usage("--pin \(whole): \(why) (accepted: \(PinPolicy.accepted))")
        }
        guard let colon = part.firstIndex(of: ":") else { throw bad("'\(part)' is not a policy name nor a domain like S0:0-3") }
        let name = part[..<colon]
        let number = name.dropFirst()
        let index = number.isEmpty ? nil : Int(number)
        guard number.isEmpty || (index != nil && index! >= 0) else { throw bad("'\(name)' has a bad domain number") }
        switch (name.first, index) {
        case ("N", nil): domain = .machine
        case ("N", let k?), ("M", let k?): domain = .numaNode(k)
        case ("S", let k?): domain = .package(k)
        default: throw bad("unknown domain '\(name)' (S<k> package, N<k>/M<k> NUMA node, N whole machine)")
        }
        do {
            indices = try CPUList.parse(String(part[part.index(after: colon)...]))
        } catch {
            throw bad("in domain \(name): \(error.message)")
        }
    }
}
