import Testing
import UnlockedCore
@testable import UnlockedMPI

@Suite struct ExactSumTests {
    @Test func carriesCrossBothLimbBoundaries() {
        let almostFull = ExactSum(UInt128(UInt64.max))
        #expect((almostFull + ExactSum(UInt128(1))).uint128 == UInt128(1) << 64)
        #expect((ExactSum(UInt128.max) + ExactSum(UInt128(1))).uint128 == nil)
        #expect((ExactSum(UInt128.max) + ExactSum(UInt128(1))).description == "340282366920938463463374607431768211456")
        #expect((ExactSum(UInt128.max) + ExactSum(UInt128.max) + ExactSum(UInt128(1))).description
            == "680564733841876926926749214863536422911")    // 2^129 - 1
    }

    @Test func signedAndUnsignedMix() {
        #expect((ExactSum(Int128(-5)) + ExactSum(UInt128(3))).int128 == -2)
        #expect((ExactSum(Int128(-5)) + ExactSum(UInt128(3))).uint128 == nil)
        #expect((ExactSum(Int128(-5)) + ExactSum(UInt128.max)).uint128 == UInt128.max - 5)
        #expect((ExactSum(Int128(-5)) + ExactSum(UInt128.max)).int128 == nil)
        #expect((ExactSum(Int128.max) + ExactSum(UInt128(1))).int128 == nil)
        #expect((ExactSum(Int128.max) + ExactSum(UInt128(1))).uint128 == UInt128(1) << 127)
        #expect((ExactSum(Int128.min) + ExactSum(Int128(-1))).int128 == nil)
        #expect((ExactSum(Int128.min) + ExactSum(Int128(-1))).description == "-170141183460469231731687303715884105729")
        #expect(ExactSum(Int128.min).int128 == Int128.min)
        #expect(ExactSum(Int128.min).description == String(Int128.min))
    }

    /// Beyond 128 bits and back: the range check looks at the total only.
    @Test func intermediateSumsBeyond128BitsCancel() {
        var total = ExactSum()
        for value in [UInt128.max, UInt128.max] { total += ExactSum(value) }
        #expect(total.uint128 == nil)
        for _ in 0..<4 { total += ExactSum(Int128.min) }    // 4 × -2^127 = -2^129
        total += ExactSum(Int128(5))
        #expect(total.int128 == 3)
        #expect(total.uint128 == 3)
    }

    /// Any grouping and order gives the same bits: what makes sums across ranks
    /// independent of the rank count. 200 values below 2^119 (signed) or 2^120
    /// (unsigned) keep the Int128 and UInt128 references from overflowing.
    @Test(arguments: [1, 2, 3, 7])
    func groupingDoesNotChangeTheSum(groups: Int) {
        // Seeded, so a failure repeats: 128 random bits from two of the generator's elements.
        let random = DataGenerator(seed: UInt64(groups))
        let bits = { (pair: Int) in UInt128(random.bits(2 * pair + 1)) << 64 | UInt128(random.bits(2 * pair + 2)) }
        let signed = (0..<200).map { Int128(bitPattern: bits($0)) >> 8 }           // within ±2^119
        let unsigned = (0..<200).map { bits(200 + $0) >> 8 }                       // below 2^120
        for (values, reference) in [(signed.map(ExactSum.init), ExactSum(signed.reduce(0, +))),
                                    (unsigned.map(ExactSum.init), ExactSum(unsigned.reduce(0, +)))] {
            let blocks = (0..<groups).map { group in
                values[(group * values.count / groups)..<((group + 1) * values.count / groups)].reduce(ExactSum(), +)
            }
            #expect(blocks.reduce(ExactSum(), +) == reference)
            #expect(blocks.reversed().reduce(ExactSum(), +) == reference)
        }
        #expect(ExactSum(signed.reduce(0, +)).int128 == signed.reduce(0, +))
        #expect(ExactSum(unsigned.reduce(0, +)).uint128 == unsigned.reduce(0, +))
    }

    /// The MPI reduction hands limb triples over as raw memory.
    @Test func layoutIsThreeContiguousLimbs() {
        #expect(MemoryLayout<ExactSum>.size == 24)
        #expect(MemoryLayout<ExactSum>.stride == 24)
    }
}
