/// Order statistics of repeated timings, in the samples' unit.
public struct Summary: Sendable, Codable, Equatable {
    public let count: Int
    public let median: Double
    public let min: Double
    public let max: Double

    /// Nil for an empty sample.
    public init?(_ samples: [Double]) {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        count = sorted.count
        min = sorted[0]
        max = sorted[sorted.count - 1]
        let mid = sorted.count / 2
        median = sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}
