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
    /// The 95% confidence interval of the median (see `medianInterval`), nil
    /// under 6 samples, where none exists.
    public let medianInterval95: ClosedRange<Double>?

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
        medianInterval95 = medianInterval(sorted: sorted, confidence: 0.95)
    }

    /// How far the 95% interval of the median reaches from it, as a fraction
    /// of the median (the larger side); nil when there is no interval.
    public var intervalRelativeHalfWidth: Double? {
        guard let interval = medianInterval95, median > 0 else { return nil }
        return Swift.max(median - interval.lowerBound, interval.upperBound - median) / median
    }

    /// Whether the median is known to within `target` (0.03 is ±3%) at 95% confidence.
    public func isPrecise(within target: Double) -> Bool {
        intervalRelativeHalfWidth.map { $0 <= target } ?? false
    }

    /// `MAD / median`, the robust relative spread (0 when the median is 0).
    public var relativeSpread: Double { median > 0 ? mad / median : 0 }

    /// Whether the spread is too wide to trust differences of a few percent.
    public var isNoisy: Bool { relativeSpread > Self.noisyRelativeSpread }
}

/// The distribution-free confidence interval of the median: `[x(l), x(n-l+1)]`
/// of the sorted sample (1-based), with `l` the largest rank such that
/// P(B ≤ l - 1) ≤ (1 - confidence) / 2 for B ~ Binomial(n, ½): the median lies
/// below `x(l)` only when fewer than `l` samples fall under it. Its coverage is
/// at least `confidence` whatever the distribution, which suits timings.
/// Nil when even `[min, max]` covers less (under 6 samples at 95%).
/// Exact for up to 1000 samples; beyond, the normal approximation of the
/// binomial, which is then within one rank of exact.
public func medianInterval(sorted: [Double], confidence: Double) -> ClosedRange<Double>? {
    let n = sorted.count
    let tail = (1 - confidence) / 2
    var rank: Int  // l, 1-based
    if n <= 1000 {
        // P(B ≤ k) summed term by term in log space (2^-n underflows past n = 1074).
        let logTotal = Double(n) * log(2.0)
        var cumulative = 0.0
        rank = 0
        while rank < n {
            let k = Double(rank)
            cumulative += exp(lgamma(Double(n) + 1) - lgamma(k + 1) - lgamma(Double(n) - k + 1) - logTotal)
            guard cumulative <= tail else { break }
            rank += 1  // P(B ≤ rank - 1) ≤ tail still holds for the new rank
        }
    } else {
        rank = Int((Double(n) / 2 - Double(n).squareRoot() * medianIntervalReach(confidence: confidence)).rounded(.down))
    }
    guard rank >= 1, rank <= n - rank + 1 else { return nil }
    return sorted[rank - 1]...sorted[n - rank]
}

/// How far the median's interval reaches from the middle rank, in ranks per
/// √n (normal approximation of the binomial): `z / 2`, 0.98 at 95%. Its end
/// ranks are about `n/2 ∓ √n · reach`, the sample's quantiles `½ ∓ reach/√n`.
private func medianIntervalReach(confidence: Double) -> Double { -normalQuantile((1 - confidence) / 2) / 2 }

/// About how many repetitions a cell sampled like `sorted` needs before the
/// `confidence` interval of its median (`medianInterval`) lies within
/// ±`target` of it: the interval's ends sit near the sample's quantiles
/// `½ ∓ reach/√n`, so this finds the widest quantile offset `δ` around the
/// median still within `target` and returns `(reach/δ)²`. It reads the
/// sample's own shape (skew, a heavy tail) rather than assuming a normal one,
/// and is a projection, as good as the sample; at least the 6 samples any
/// 95% interval needs. Infinite when the median is not positive.
public func projectedRepetitions(sorted: [Double], within target: Double, confidence: Double = 0.95) -> Double {
    guard !sorted.isEmpty else { return .infinity }
    let median = quantile(sorted: sorted, 0.5)
    guard median > 0 else { return .infinity }
    func halfWidth(_ offset: Double) -> Double {
        max(median - quantile(sorted: sorted, 0.5 - offset), quantile(sorted: sorted, 0.5 + offset) - median) / median
    }
    // The half-width grows with the offset: bisect for the largest within target.
    var low = 0.0, high = 0.5
    if halfWidth(high) <= target { low = high } else {
        for _ in 0..<40 {
            let middle = (low + high) / 2
            if halfWidth(middle) <= target { low = middle } else { high = middle }
        }
    }
    guard low > 0 else { return .infinity }
    let reach = medianIntervalReach(confidence: confidence)
    let smallest = Double((1...).first { medianInterval(sorted: Array(repeating: 0, count: $0), confidence: confidence) != nil }!)
    return max(smallest, (reach / low) * (reach / low))
}

/// The standard normal quantile (Acklam's rational approximation, relative
/// error under 1.2e-9), for the few probabilities the statistics need.
package func normalQuantile(_ p: Double) -> Double {
    precondition(p > 0 && p < 1, "normal quantile outside (0, 1)")
    let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
             -3.066479806614716e+01, 2.506628277459239e+00]
    let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
             -1.328068155288572e+01]
    let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
             4.374664141464968e+00, 2.938163982698783e+00]
    let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
    func tailValue(_ q: Double) -> Double {
        (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    }
    if p < 0.02425 { return tailValue((-2 * log(p)).squareRoot()) }
    if p > 1 - 0.02425 { return -tailValue((-2 * log(1 - p)).squareRoot()) }
    let q = p - 0.5, r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
        / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
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

/// Holm's step-down adjustment of `pValues` tested together: the i-th
/// smallest p is multiplied by (m - i) (0-based) and the results are made
/// non-decreasing in that order, capped at 1. Rejecting where the adjusted p
/// is below alpha keeps the chance of any false "slower" across all cells at
/// alpha, which the plain per-cell p does not (Holm 1979).
public func holmAdjusted(_ pValues: [Double]) -> [Double] {
    let order = pValues.indices.sorted { pValues[$0] < pValues[$1] }
    var adjusted = [Double](repeating: 1, count: pValues.count)
    var running = 0.0
    for (rank, index) in order.enumerated() {
        running = max(running, min(1, Double(pValues.count - rank) * pValues[index]))
        adjusted[index] = running
    }
    return adjusted
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

    /// Slower or faster only when the rank test rejects "same distribution" at
    /// `alpha`, with `pValue` (the test's own, or one adjusted for many cells).
    public func verdict(pValue: Double) -> Verdict {
        guard pValue < Self.alpha else { return .noise }
        return medianRatio > 1 ? .slower : .faster
    }
}
