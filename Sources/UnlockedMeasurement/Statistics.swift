import UnlockedCore
#if os(Linux)
import Glibc
#else
import Darwin
#endif

/// The statistics of one cell's timed repetitions, in the samples' unit (ns).
///
/// Quantiles interpolate linearly between closest ranks: the value at
/// probability `p` of `n` sorted samples is at rank `h = (n - 1) p`, between
/// `x[⌊h⌋]` and `x[⌊h⌋ + 1]`. This is Hyndman & Fan type 7, the default of
/// numpy.percentile and R, so users can check any figure with either.
///
/// The spread is the median absolute deviation over the median (`MAD/median`):
/// half the samples lie within that fraction of the median. It ignores a few
/// outliers (a page fault, a preemption) but grows when the machine is busy.
public struct SampleStatistics: Sendable, Equatable {
    public let count: Int
    public let median: Double
    public let min: Double
    public let max: Double
    public let p5: Double
    public let p95: Double
    /// Median of `|x - median|`, unscaled.
    public let mad: Double

    /// A cell whose `MAD/median` exceeds this is flagged noisy: more than half
    /// its repetitions are over 5% away from the median, so differences of a
    /// few percent between cells cannot be told from noise.
    public static let noisyRelativeSpread = 0.05

    /// Nil for an empty sample.
    public init?(_ samples: [Double]) {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        count = sorted.count
        min = sorted[0]
        max = sorted[sorted.count - 1]
        median = quantile(sorted: sorted, 0.5)
        p5 = quantile(sorted: sorted, 0.05)
        p95 = quantile(sorted: sorted, 0.95)
        let median = median
        mad = quantile(sorted: sorted.map { abs($0 - median) }.sorted(), 0.5)
    }

    /// `MAD / median`, the robust relative spread (0 when the median is 0).
    public var relativeSpread: Double { median > 0 ? mad / median : 0 }

    /// Whether the spread is too wide to trust differences of a few percent.
    public var isNoisy: Bool { relativeSpread > Self.noisyRelativeSpread }
}

/// The Mann-Whitney U test (Wilcoxon rank-sum) of two independent samples:
/// does one tend to give larger values than the other? It assumes nothing about
/// the distribution, which suits timings (skewed, with a long right tail).
public struct MannWhitney: Sendable, Equatable {
    /// U of the first sample: the number of pairs (a, b) with a > b, ties counting ½.
    public let u: Double
    /// Two-sided p-value.
    public let pValue: Double
    /// Whether `pValue` came from the exact distribution (small samples without
    /// ties) rather than the normal approximation.
    public let exact: Bool

    /// Samples of at most this many values each, without ties, get the exact
    /// distribution; larger ones the normal approximation with tie and
    /// continuity corrections, which is within 0.01 of exact from n ≈ 10 up.
    public static let exactLimit = 20

    /// Nil when either sample is empty.
    public init?(_ a: [Double], _ b: [Double]) {
        guard !a.isEmpty, !b.isEmpty else { return nil }
        let n1 = a.count, n2 = b.count, n = n1 + n2
        // Midranks: tied values share the mean of the ranks they span.
        let pooled = (a.map { ($0, 0) } + b.map { ($0, 1) }).sorted { $0.0 < $1.0 }
        var rankSumA = 0.0
        var tieTerm = 0.0  // Σ (t³ - t) over tie groups
        var start = 0
        while start < n {
            var end = start
            while end + 1 < n && pooled[end + 1].0 == pooled[start].0 { end += 1 }
            let rank = Double(start + end) / 2 + 1
            for i in start...end where pooled[i].1 == 0 { rankSumA += rank }
            let t = Double(end - start + 1)
            tieTerm += t * t * t - t
            start = end + 1
        }
        let u1 = rankSumA - Double(n1 * (n1 + 1)) / 2
        u = u1
        let mean = Double(n1 * n2) / 2
        if tieTerm == 0 && n1 <= Self.exactLimit && n2 <= Self.exactLimit {
            exact = true
            pValue = Swift.min(1, 2 * Self.exactLowerTail(Swift.min(u1, Double(n1 * n2) - u1), n1, n2))
        } else {
            exact = false
            let variance = Double(n1 * n2) / 12 * (Double(n + 1) - tieTerm / Double(n * (n - 1)))
            guard variance > 0 else { pValue = 1; return }  // every value equal
            let z = Swift.max(0, abs(u1 - mean) - 0.5) / variance.squareRoot()
            pValue = Swift.min(1, erfc(z / 2.0.squareRoot()))
        }
    }

    /// P(U ≤ u) without ties: the number of arrangements of n1 a's among n2 b's
    /// with U = k, by the recurrence f(n1, n2, k) = f(n1 - 1, n2, k - n2) + f(n1, n2 - 1, k),
    /// over C(n1 + n2, n1).
    package static func exactLowerTail(_ u: Double, _ n1: Int, _ n2: Int) -> Double {
        let maxU = n1 * n2
        // counts[j][k]: arrangements of i a's and j b's with U = k, for the current i.
        var counts = [[Double]](repeating: [Double](repeating: 0, count: maxU + 1), count: n2 + 1)
        for j in 0...n2 { counts[j][0] = 1 }  // i = 0: U is always 0
        if n1 > 0 {
            for i in 1...n1 {
                var next = [[Double]](repeating: [Double](repeating: 0, count: maxU + 1), count: n2 + 1)
                next[0][0] = 1  // j = 0: U is 0
                if n2 > 0 {
                    for j in 1...n2 {
                        for k in 0...(i * j) {
                            // Last element is an a (greater than all j b's) or a b.
                            next[j][k] = (k >= j ? counts[j][k - j] : 0) + next[j - 1][k]
                        }
                    }
                }
                counts = next
            }
        }
        let total = counts[n2].reduce(0, +)
        let below = counts[n2].prefix(Int(u.rounded(.down)) + 1).reduce(0, +)
        return below / total
    }
}

/// How two sets of timings of the same cell compare (`bench --compare`).
public struct TimingComparison: Sendable, Equatable {
    /// Median of the new samples over the median of the baseline: above 1 is slower.
    public let medianRatio: Double
    public let test: MannWhitney
    /// The significance level for `verdict`.
    public static let alpha = 0.05

    public enum Verdict: String, Sendable {
        case slower, faster, noise = "same (noise)"
    }

    /// 95% percentile-bootstrap interval of `medianRatio`: how large the change
    /// may be, where the rank test says whether there is one.
    public let ratioInterval: ClosedRange<Double>
    /// Resamples of the bootstrap; its generator has a fixed seed, so a
    /// comparison of the same files always prints the same interval.
    public static let bootstrapResamples = 2000

    public init?(baseline: [Double], candidate: [Double]) {
        guard let a = SampleStatistics(baseline), let b = SampleStatistics(candidate),
              a.median > 0, let test = MannWhitney(candidate, baseline) else { return nil }
        medianRatio = b.median / a.median
        self.test = test
        ratioInterval = Self.bootstrapRatioInterval(baseline: baseline, candidate: candidate)
    }

    /// Resamples both sets with replacement, takes the ratio of their medians
    /// each time, and returns the 2.5% and 97.5% quantiles of those ratios.
    package static func bootstrapRatioInterval(baseline: [Double], candidate: [Double]) -> ClosedRange<Double> {
        let generator = DataGenerator(seed: 0x5EED)
        var draw = 0
        func resampledMedian(_ values: [Double]) -> Double {
            let resample = (0..<values.count).map { _ -> Double in
                defer { draw += 1 }
                return values[Int(generator.bits(draw) % UInt64(values.count))]
            }
            return quantile(sorted: resample.sorted(), 0.5)
        }
        var ratios: [Double] = []
        ratios.reserveCapacity(bootstrapResamples)
        for _ in 0..<bootstrapResamples {
            let base = resampledMedian(baseline)
            if base > 0 { ratios.append(resampledMedian(candidate) / base) }
        }
        guard !ratios.isEmpty else { return 0...Double.infinity }  // every resampled baseline median was 0
        ratios.sort()
        return quantile(sorted: ratios, 0.025)...quantile(sorted: ratios, 0.975)
    }

    /// Slower or faster only when the rank test rejects "same distribution" at `alpha`.
    public var verdict: Verdict {
        guard test.pValue < Self.alpha else { return .noise }
        return medianRatio > 1 ? .slower : .faster
    }
}
