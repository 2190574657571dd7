/// An exact sum of 128-bit integers, signed and unsigned mixed, kept in 192 bits.
///
/// Every `Int128` and `UInt128` fits in 192-bit two's complement, and so does the sum of
/// up to 2^62 of them, so adding never overflows and the order of additions never
/// changes the result: what an MPI reduction needs to give the same bits for every
/// rank count. Range checks happen once, when the total is read as `int128` or `uint128`.
///
/// A plain value: any thread may use its own copy.
public struct ExactSum: Sendable, Hashable, CustomStringConvertible {
    /// Least significant limb first: `value = limbs.0 + limbs.1 << 64 + limbs.2 << 128`.
    var limbs: (UInt64, UInt64, UInt64)

    public init() { limbs = (0, 0, 0) }

    public init(_ value: UInt128) {
        limbs = (UInt64(truncatingIfNeeded: value), UInt64(truncatingIfNeeded: value >> 64), 0)
    }

    public init(_ value: Int128) {
        let bits = UInt128(bitPattern: value)
        limbs = (UInt64(truncatingIfNeeded: bits), UInt64(truncatingIfNeeded: bits >> 64),
                 value < 0 ? .max : 0)
    }

    init(limbs: (UInt64, UInt64, UInt64)) { self.limbs = limbs }

    public static func + (lhs: ExactSum, rhs: ExactSum) -> ExactSum {
        let (low, carryLow) = lhs.limbs.0.addingReportingOverflow(rhs.limbs.0)
        let (middle, carryMiddle) = lhs.limbs.1.addingReportingOverflow(rhs.limbs.1)
        let (middleCarried, carryIn) = middle.addingReportingOverflow(carryLow ? 1 : 0)
        // At most one of the two middle additions carries.
        let high = lhs.limbs.2 &+ rhs.limbs.2 &+ (carryMiddle || carryIn ? 1 : 0)
        return ExactSum(limbs: (low, middleCarried, high))
    }

    public static func += (lhs: inout ExactSum, rhs: ExactSum) { lhs = lhs + rhs }

    public var isNegative: Bool { limbs.2 >> 63 == 1 }

    /// The total as `Int128`, or nil when it lies outside `Int128`'s range.
    public var int128: Int128? {
        let signExtension: UInt64 = limbs.1 >> 63 == 1 ? .max : 0
        guard limbs.2 == signExtension else { return nil }
        return Int128(bitPattern: UInt128(limbs.1) << 64 | UInt128(limbs.0))
    }

    /// The total as `UInt128`, or nil when it is negative or at least 2^128.
    public var uint128: UInt128? {
        guard limbs.2 == 0 else { return nil }
        return UInt128(limbs.1) << 64 | UInt128(limbs.0)
    }

    /// Decimal, exact for every value, also those outside both 128-bit ranges.
    public var description: String {
        if let value = uint128 { return String(value) }
        if let value = int128 { return String(value) }
        var magnitude = isNegative ? ExactSum(limbs: (~limbs.0, ~limbs.1, ~limbs.2)) + ExactSum(UInt128(1)) : self
        var chunks: [UInt64] = []    // base 10^18, least significant first
        while magnitude.limbs != (0, 0, 0) { chunks.append(magnitude.divide(by: 1_000_000_000_000_000_000)) }
        var text = isNegative ? "-" : ""
        for (index, chunk) in chunks.reversed().enumerated() {
            let digits = String(chunk)
            text += (index == 0 ? "" : String(repeating: "0", count: 18 - digits.count)) + digits
        }
        return text
    }

    /// Divides a non-negative value in place, returning the remainder.
    private mutating func divide(by divisor: UInt64) -> UInt64 {
        var remainder: UInt64 = 0
        (limbs.2, remainder) = divisor.dividingFullWidth((remainder, limbs.2))
        (limbs.1, remainder) = divisor.dividingFullWidth((remainder, limbs.1))
        (limbs.0, remainder) = divisor.dividingFullWidth((remainder, limbs.0))
        return remainder
    }

    public static func == (lhs: ExactSum, rhs: ExactSum) -> Bool { lhs.limbs == rhs.limbs }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(limbs.0)
        hasher.combine(limbs.1)
        hasher.combine(limbs.2)
    }
}

// Three limbs and nothing else: records holding sums can cross MPI as plain bytes.
extension ExactSum: BitwiseCopyable {}
