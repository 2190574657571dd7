import CKernels

/// The element types every kernel understands, with the short names the CLI
/// and `.npy` files use.
public enum DType: String, CaseIterable, Sendable, Codable {
    case i32, i64, f32, f64

    /// Bytes per element.
    public var byteWidth: Int {
        switch self {
        case .i32, .f32: 4
        case .i64, .f64: 8
        }
    }

    public var isInteger: Bool { self == .i32 || self == .i64 }

    /// The element type of `absdist.map` output: distances of integers are
    /// unsigned so they never overflow.
    public var distanceType: OutputType {
        switch self {
        case .i32: .u32
        case .i64: .u64
        case .f32: .f32
        case .f64: .f64
        }
    }

    /// The ABI value. The corresponding C type is `uk_dtype`.
    public var abiValue: uk_dtype {
        switch self {
        case .i32: UK_DTYPE_I32
        case .i64: UK_DTYPE_I64
        case .f32: UK_DTYPE_F32
        case .f64: UK_DTYPE_F64
        }
    }

    /// The built-in kernel table's column. The corresponding C type is `uk_elem`.
    package var elem: uk_elem {
        switch self {
        case .i32: UK_ELEM_I32
        case .i64: UK_ELEM_I64
        case .f32: UK_ELEM_F32
        case .f64: UK_ELEM_F64
        }
    }

    public init?(abiValue: uk_dtype) {
        guard let match = Self.allCases.first(where: { $0.abiValue == abiValue }) else { return nil }
        self = match
    }

    /// Parses a centre for this type: integers must be whole and within the
    /// type's range, floats any finite or infinite number.
    public func parseCenter(_ text: String) throws(UnlockedError) -> uk_params {
        var params = uk_params()
        params.size = UInt32(MemoryLayout<uk_params>.size)
        switch self {
        case .i32, .i64:
            let limits: ClosedRange<Int64> = self == .i32 ? Int64(Int32.min)...Int64(Int32.max) : Int64.min...Int64.max
            let real = Double(text)
            guard let value = Int64(text) ?? real.flatMap({ $0.rounded() == $0 ? Int64(exactly: $0) : nil }),
                  limits.contains(value) else {
                if let real, real.isFinite, real.rounded() != real {
                    throw .usage("--center \(text): not a whole number (accepted for \(rawValue): integers in \(limits.lowerBound)...\(limits.upperBound))")
                }
                if real == nil, Int64(text) == nil, text.isEmpty || !text.allSatisfy({ $0.isNumber || $0 == "-" }) {
                    throw .usage("--center \(text): not a number (accepted for \(rawValue): integers in \(limits.lowerBound)...\(limits.upperBound))")
                }
                throw .usage("--center \(text): out of range for \(rawValue) (accepted: \(limits.lowerBound)...\(limits.upperBound))")
            }
            params.center_int = value
            params.center_float = Double(value)
        case .f32, .f64:
            guard let value = Double(text) else {
                throw .usage("--center \(text): not a number (accepted for \(rawValue): decimal numbers such as 50, 1e3, -0.5, inf)")
            }
            params.center_float = value
            params.center_int = Int64(exactly: value.rounded(.towardZero)) ?? 0
        }
        return params
    }
}

/// Element types of kernel output.
public enum OutputType: String, CaseIterable, Sendable, Codable {
    case i32, i64, f32, f64, u32, u64

    public var byteWidth: Int {
        switch self {
        case .i32, .f32, .u32: 4
        case .i64, .f64, .u64: 8
        }
    }

    public var abiValue: uk_dtype {
        switch self {
        case .i32: UK_DTYPE_I32
        case .i64: UK_DTYPE_I64
        case .f32: UK_DTYPE_F32
        case .f64: UK_DTYPE_F64
        case .u32: UK_DTYPE_U32
        case .u64: UK_DTYPE_U64
        }
    }

    public init?(abiValue: uk_dtype) {
        guard let match = Self.allCases.first(where: { $0.abiValue == abiValue }) else { return nil }
        self = match
    }
}
