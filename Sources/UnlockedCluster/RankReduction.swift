#if os(Linux)
import Unlocked
import UnlockedMPI

/// What one rank says after one repetition: whether it failed, its partial value and
/// its compute time. Every rank gathers every rank's record (one `MPI_Allgather` of a
/// few dozen bytes each), so the failure check, the reduction and the compute times
/// need one collective, and every rank reduces the same records to the same bits.
struct RepetitionRecord: BitwiseCopyable {
    /// 0, or the exit code of this rank's failure.
    var failure: Int32 = 0
    /// Which `KernelValue` case the partial is (`Kind`).
    var kind: Int32 = 0
    var exact = ExactSum()
    var float = 0.0
    var computeNanoseconds = 0.0

    enum Kind: Int32 { case none, unsigned, signed, float, idle }

    init(failure: UnlockedError?, value: KernelValue?, computeNanoseconds: Double) {
        self.computeNanoseconds = computeNanoseconds
        if let failure {
            self.failure = failure.exitCode
            return
        }
        switch value {
        case .unsigned(let value): (kind, exact) = (Kind.unsigned.rawValue, ExactSum(value))
        case .signed(let value): (kind, exact) = (Kind.signed.rawValue, ExactSum(value))
        case .float(let value): (kind, float) = (Kind.float.rawValue, value)
        case .some(.none): kind = Kind.none.rawValue
        case nil: kind = Kind.idle.rawValue
        }
    }
}

extension [RepetitionRecord] {
    /// The job's value from every rank's partial: integers summed exactly in 192 bits
    /// (the same bits for any rank count and order), floats added in rank order (the
    /// same on every rank). Ranks without elements (`idle`) add nothing. Integer totals
    /// are unsigned when every rank's partial was (a reduction of `|x − c|`), signed when
    /// every one was, and otherwise by their sign (map checksums), as for one process.
    func combined() throws(UnlockedError) -> KernelValue {
        let active = filter { $0.kind != RepetitionRecord.Kind.idle.rawValue }
        let kinds = Set(active.map(\.kind))
        if kinds.contains(RepetitionRecord.Kind.float.rawValue) {
            guard kinds.count == 1 else { throw .internal("ranks returned float and integer partials for one kernel") }
            return .float(active.reduce(0) { $0 + $1.float })
        }
        if kinds == [RepetitionRecord.Kind.none.rawValue] || kinds.isEmpty { return .none }
        let total = active.reduce(ExactSum()) { $0 + $1.exact }
        let signed = kinds == [RepetitionRecord.Kind.signed.rawValue] || (kinds.count > 1 && total.isNegative)
        if signed, let value = total.int128 { return .signed(value) }
        if !signed, let value = total.uint128 { return .unsigned(value) }
        throw .internal("the sum across ranks, \(total), exceeds 128 bits")
    }
}
#endif
