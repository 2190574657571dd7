/// Reproducible input data: element `i` depends only on the seed and `i`.
///
/// Counter-based (SplitMix64 of `seed + i·γ`), so pinned workers can each fill
/// the chunk they will later process (first-touch placement) and still get
/// exactly the array a single thread would. Integers are uniform in
/// `[low, high)` by Lemire's multiply-shift; floats uniform in `[low, high)`
/// from 53 (or 24) random bits.
public struct DataGenerator: Sendable {
    public var seed: UInt64
    public var low: Int64
    public var high: Int64

    /// The seed's workload: uniform integers in [0, 100).
    public init(seed: UInt64, low: Int64 = 0, high: Int64 = 100) {
        precondition(low < high, "empty value range")
        self.seed = seed
        self.low = low
        self.high = high
    }

    /// The same data from `offset` on: element `i` of the result is element `offset + i`
    /// of this generator, so a process holding one block of a global array (an MPI
    /// rank) generates exactly that block. The offset folds into the seed, since the
    /// counter is `seed + i·γ`.
    public func advanced(by offset: Int) -> DataGenerator {
        var advanced = self
        advanced.seed = seed &+ UInt64(truncatingIfNeeded: offset) &* Self.gamma
        return advanced
    }

    /// SplitMix64's increment, the golden ratio in 64 bits.
    private static let gamma: UInt64 = 0x9E37_79B9_7F4A_7C15

    @inline(__always)
    package func bits(_ index: Int) -> UInt64 {
        var z = seed &+ UInt64(truncatingIfNeeded: index) &* Self.gamma
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    package func integer(_ index: Int) -> Int64 {
        let span = UInt64(bitPattern: high &- low)
        let scaled = bits(index).multipliedFullWidth(by: span).high
        return low &+ Int64(bitPattern: scaled)
    }

    @inline(__always)
    package func real(_ index: Int) -> Double {
        let unit = Double(bits(index) >> 11) * 0x1p-53
        return Double(low) + unit * (Double(high) - Double(low))
    }

    /// Writes elements `[range)` of an array of `dtype` starting at `base`.
    public func fill(_ base: UnsafeMutableRawPointer, dtype: DType, range: Range<Int>) {
        switch dtype {
        case .i32:
            let p = base.assumingMemoryBound(to: Int32.self)
            for i in range { p[i] = Int32(truncatingIfNeeded: integer(i)) }
        case .i64:
            let p = base.assumingMemoryBound(to: Int64.self)
            for i in range { p[i] = integer(i) }
        case .f32:
            let p = base.assumingMemoryBound(to: Float.self)
            for i in range { p[i] = Float(real(i)) }
        case .f64:
            let p = base.assumingMemoryBound(to: Double.self)
            for i in range { p[i] = real(i) }
        }
    }
}
