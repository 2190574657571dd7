import ArgumentParser
import Unlocked

struct KernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "List each kernel × type × SIMD variant, and which variant this CPU uses."
    )
}

extension KernelsCommand {
    func run() throws {
        try reportingErrors {
            try ISA.initializeDispatch()
            let selected = ISA.selected
            print("selected variant: \(selected.rawValue) (\(ISA.selectionReason))")
            for kernel in KernelCatalog().kernels {
                let variants = ISA.allCases.map { isa in
                    let mark = isa == selected ? "*" : ""
                    let state = isa.isSupported ? "yes" : isa.isCompiled ? "no (CPU)" : "no (build)"
                    return "\(isa.rawValue)\(mark)=\(state)"
                }
                let name = "\(kernel.name) \(kernel.inputType.rawValue)".padding(toLength: 18, withPad: " ", startingAt: 0)
                print("\(name) \(variants.joined(separator: "  "))")
            }
        }
    }
}
