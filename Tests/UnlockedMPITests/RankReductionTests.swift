import Testing
@testable import UnlockedCluster
import Unlocked

/// How every rank turns the gathered records into the job's value, without MPI.
@Suite struct RankReductionTests {
    static func records(_ values: [KernelValue?]) -> [RepetitionRecord] {
        values.map { RepetitionRecord(failure: nil, value: $0, computeNanoseconds: 1) }
    }

    /// Unsigned partials whose sum passes 2^128 - 1 at no point but whose pairs pass 2^64.
    @Test func unsignedPartialsSumExactly() throws {
        let half = UInt128(1) << 126
        #expect(try Self.records([.unsigned(half), .unsigned(half), nil, .unsigned(half)]).combined() == .unsigned(3 * half))
    }

    /// Signed partials (stream.sum) stay signed, also when the total is positive.
    @Test func signedPartialsStaySigned() throws {
        #expect(try Self.records([.signed(Int128.min + 1), .signed(.max), .signed(5)]).combined() == .signed(5))
    }

    /// Map checksums mix unsigned and signed partials: the total's sign decides, as for one process.
    @Test func mixedPartialsFollowTheSign() throws {
        #expect(try Self.records([.unsigned(3), .signed(-5)]).combined() == .signed(-2))
        #expect(try Self.records([.unsigned(7), .signed(-5)]).combined() == .unsigned(2))
    }

    /// Floats are added in rank order, which is the order of the records.
    @Test func floatsInRankOrder() throws {
        let values: [Double] = [1e16, 1, -1e16, 1]
        #expect(try Self.records(values.map { .float($0) }).combined() == .float(values.reduce(0, +)))
    }

    @Test func idleRanksAddNothingAndMapsWithoutOutputAreNone() throws {
        #expect(try Self.records([nil, nil]).combined() == .none)
        #expect(try Self.records([KernelValue.none, nil]).combined() == .none)
    }

    @Test func aTotalPast128BitsIsAnInternalError() {
        #expect(throws: UnlockedError.self) {
            try Self.records([.unsigned(.max), .unsigned(.max)]).combined()
        }
    }
}
