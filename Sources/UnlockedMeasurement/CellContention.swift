import UnlockedEngines

/// A prepared cell that knows the contention counters of its last sample,
/// per job: those its engine counts (`EngineKind.contentionCounters`) and,
/// when its worker threads are its own, their context switches. Counters the
/// engine cannot see are missing from the dictionary: absent, not zero.
public protocol ContentionReporting: PreparedCell {
    var lastContention: [ContentionCounter: Double]? { get }
}

extension CellResult {
    /// The median over the timed samples of `counter` per job; nil when no
    /// sample has it (the engine does not count it, or the cell failed).
    public func contentionMedian(_ counter: ContentionCounter) -> Double? {
        SampleStatistics(contention.compactMap { $0[counter] })?.median
    }
}
