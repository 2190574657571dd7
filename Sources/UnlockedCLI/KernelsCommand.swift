import ArgumentParser
import Unlocked

struct KernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "List each kernel × type × SIMD variant, and which variant this CPU uses and why.",
        discussion: "UNLOCKED_ISA=scalar|avx2|avx512|neon forces a variant; one this CPU or build lacks is an error (exit 64)."
    )
}

extension KernelsCommand {
    func run() throws {
        try reportingErrors {
            try ISA.initializeDispatch()
            print(VariantListing().text)
        }
    }
}
