import CKernels

/// A SIMD variant of the built-in kernels. The corresponding C type is `uk_isa`.
public enum ISA: String, CaseIterable, Sendable, Codable {
    case scalar, avx2, avx512, neon

    package var raw: uk_isa {
        switch self {
        case .scalar: UK_ISA_SCALAR
        case .avx2: UK_ISA_AVX2
        case .avx512: UK_ISA_AVX512
        case .neon: UK_ISA_NEON
        }
    }

    /// What the variant needs from the CPU, e.g. "x86-64 with AVX2 and FMA".
    /// The corresponding C function is `uk_isa_requirement`.
    public var requirement: String { String(cString: uk_isa_requirement(raw)) }

    /// Whether this build contains the variant.
    public var isCompiled: Bool { uk_isa_compiled(raw) != 0 }
    /// Whether this build contains it and this CPU runs it.
    public var isSupported: Bool { uk_isa_supported(raw) != 0 }

    /// Selects the variant once per process, honouring `UNLOCKED_ISA`.
    /// The corresponding C function is `uk_dispatch_init`.
    public static func initializeDispatch() throws(UnlockedError) {
        var error = [CChar](repeating: 0, count: Int(UK_ERROR_CAPACITY))
        if uk_dispatch_init(&error) != 0 {
            throw .usage(string(fromCBuffer: error))
        }
    }

    /// The variant dispatch selected.
    public static var selected: ISA {
        allCases.first { $0.raw == uk_isa_selected() } ?? .scalar
    }

    /// One line on why `selected` was chosen.
    public static var selectionReason: String { String(cString: uk_isa_selection_reason()) }

    /// The variant's function for `op` over `dtype`, nil when unsupported here.
    public func variant(_ op: uk_op, _ dtype: DType) -> uk_variant_fn? {
        guard let table = uk_isa_table_for(raw) else { return nil }
        return withUnsafeBytes(of: table.pointee.fn) { raw in
            raw.bindMemory(to: uk_variant_fn?.self)[Int(op.rawValue) * Int(UK_ELEM_COUNT.rawValue) + Int(dtype.elem.rawValue)]
        }
    }
}
