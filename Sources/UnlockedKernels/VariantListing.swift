import CKernels
import UnlockedCore

/// The built-in kernels × element types × SIMD variants, as `unlocked kernels`
/// prints them: which variant each kernel runs on this CPU, and why.
///
/// Built after `ISA.initializeDispatch()`; a value, safe to pass anywhere.
public struct VariantListing: Sendable {
    /// Whether one variant of one kernel can run here.
    public enum Status: Sendable, Equatable {
        /// The variant dispatch selected: every call of the kernel runs it.
        case selected
        /// Built and runnable on this CPU (force it with `UNLOCKED_ISA`).
        case available
        /// Built, but this CPU lacks the instructions.
        case cpuLacks
        /// Not in this build (another architecture's variant).
        case notBuilt

        package var mark: String {
            switch self {
            case .selected: "*"
            case .available: "+"
            case .cpuLacks: "cpu"
            case .notBuilt: "-"
            }
        }
    }

    public struct Row: Sendable {
        public var kernel: String
        public var dtype: DType
        /// What the kernel produces: the map's element type or the reduction's accumulator.
        public var produces: String
        public var status: [ISA: Status]
    }

    public let selected: ISA
    public let reason: String
    public let rows: [Row]

    /// The listing for the built-in kernels of `catalog` on this CPU.
    public init(catalog: KernelCatalog = KernelCatalog()) {
        selected = ISA.selected
        reason = ISA.selectionReason
        let builtin = catalog.kernels.filter { $0.plugin === PluginInstance.builtin }
        rows = builtin.map { kernel in
            var status: [ISA: Status] = [:]
            for isa in ISA.allCases {
                let op = Self.op(named: kernel.name)
                status[isa] = isa == ISA.selected ? .selected
                    : op.flatMap { isa.variant($0, kernel.inputType) } != nil ? .available
                    : isa.isCompiled ? .cpuLacks : .notBuilt
            }
            return Row(kernel: kernel.name, dtype: kernel.inputType,
                       produces: Self.produces(kernel), status: status)
        }
    }

    /// The built-in table row of a kernel name. The corresponding C type is `uk_op`.
    package static func op(named name: String) -> uk_op? {
        switch name {
        case "absdist.map": UK_OP_ABSDIST_MAP
        case "absdist.sum": UK_OP_ABSDIST_SUM
        case "stream.sum": UK_OP_STREAM_SUM
        default: nil
        }
    }

    package static func produces(_ kernel: Kernel) -> String {
        if let output = kernel.outputType { return "\(output.rawValue)[]" }
        switch kernel.accKind {
        case UK_ACC_UINT128: return "uint128"
        case UK_ACC_INT128: return "int128"
        case UK_ACC_FLOAT64: return "float64"
        default: return "-"
        }
    }

    /// The table `unlocked kernels` prints.
    public var text: String {
        var lines = ["selected variant: \(selected.rawValue), \(reason)", ""]
        lines.append(Self.columns(["variant", "built", "this CPU", "needs"], widths: [9, 7, 10]))
        for isa in ISA.allCases {
            let runs = isa.isSupported ? "yes" : "no"
            let needs = isa == selected ? "\(isa.requirement)  <- selected" : isa.requirement
            lines.append(Self.columns([isa.rawValue, isa.isCompiled ? "yes" : "no", runs, needs], widths: [9, 7, 10]))
        }
        lines.append("")
        let widths = [13, 7, 10] + Array(repeating: 8, count: ISA.allCases.count - 1)
        lines.append(Self.columns(["kernel", "dtype", "produces"] + ISA.allCases.map(\.rawValue), widths: widths))
        for row in rows {
            let marks = ISA.allCases.map { row.status[$0]?.mark ?? "-" }
            lines.append(Self.columns([row.kernel, row.dtype.rawValue, row.produces] + marks, widths: widths))
        }
        lines.append("")
        lines.append("* selected (every call runs it)   + runs here   cpu: built, this CPU lacks it   - not in this build")
        lines.append("Force a variant with UNLOCKED_ISA=scalar|avx2|avx512|neon.")
        return lines.joined(separator: "\n")
    }

    /// Left-aligned columns; the last one takes the rest of the line.
    private static func columns(_ cells: [String], widths: [Int]) -> String {
        var line = ""
        for (index, cell) in cells.enumerated() {
            if index < widths.count, index < cells.count - 1 {
                line += cell.padding(toLength: max(widths[index], cell.count + 1), withPad: " ", startingAt: 0)
            } else {
                line += cell
            }
        }
        return line
    }
}
