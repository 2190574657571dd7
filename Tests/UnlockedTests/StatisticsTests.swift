import Testing
@testable import Unlocked

/// Values computed by hand (quantiles: rank h = (n - 1) p, linear between
/// neighbours; Mann-Whitney: midranks, tie-corrected variance, continuity
/// correction), and agreeing with numpy.percentile and scipy.stats.mannwhitneyu.
@Suite struct StatisticsTests {
    func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-9) -> Bool { abs(a - b) <= tolerance * max(1, abs(b)) }

    @Test func evenSample() throws {
        let s = try #require(SampleStatistics([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]))
        #expect(s.count == 10 && s.min == 1 && s.max == 10)
        #expect(s.median == 5.5)
        #expect(close(s.p5, 1.45) && close(s.p95, 9.55))  // h = 0.45 and 8.55
        #expect(s.mad == 2.5)  // |x - 5.5| sorted: .5 .5 1.5 1.5 2.5 2.5 3.5 ...
        #expect(close(s.relativeSpread, 2.5 / 5.5))
    }

    @Test func oddAndSingleSamples() throws {
        let s = try #require(SampleStatistics([3, 1, 2]))
        #expect(s.median == 2 && close(s.p5, 1.1) && close(s.p95, 2.9) && s.mad == 1)
        let one = try #require(SampleStatistics([7]))
        #expect(one.median == 7 && one.p5 == 7 && one.p95 == 7 && one.mad == 0 && !one.isNoisy)
        #expect(SampleStatistics([]) == nil)
    }

    @Test func noisyFlagFollowsTheThreshold() throws {
        // Deviations 0 0 0 0 0 20 20: MAD 0, the two outliers do not count.
        #expect(try #require(SampleStatistics([100, 100, 100, 100, 100, 120, 80])).isNoisy == false)
        // Deviations 0 10 10 20 20: MAD 10 = 10% of the median.
        let wide = try #require(SampleStatistics([100, 90, 110, 80, 120]))
        #expect(wide.relativeSpread == 0.1 && wide.isNoisy)
        // Deviations 0 4 4 5 5: MAD 4 = 4%.
        #expect(try #require(SampleStatistics([100, 96, 104, 95, 105])).isNoisy == false)
    }

    /// The 95% interval of the median from order statistics: ranks from the
    /// exact binomial (checked against scipy.stats.binom), none under 6 samples.
    @Test func medianIntervalFromOrderStatistics() throws {
        func ranks(_ n: Int) -> ClosedRange<Double>? { medianInterval(sorted: (1...n).map(Double.init), confidence: 0.95) }
        #expect(ranks(5) == nil)
        #expect(ranks(6) == 1...6 && ranks(7) == 1...7 && ranks(10) == 2...9)
        #expect(ranks(20) == 6...15 && ranks(100) == 40...61 && ranks(1000) == 469...532)
        // Past 1000 the normal approximation: at most one rank wider than exact (470 for 1001).
        let large = try #require(ranks(1001))
        #expect(large.lowerBound >= 469 && large.lowerBound <= 470 && large.upperBound == 1002 - large.lowerBound)
        let s = try #require(SampleStatistics([100, 101, 99, 100, 102, 98, 100]))
        #expect(s.medianInterval95 == 98...102 && s.intervalRelativeHalfWidth == 0.02)
        #expect(s.isPrecise(within: 0.03) && !s.isPrecise(within: 0.01))
        #expect(SampleStatistics([1, 2, 3])?.isPrecise(within: 0.5) == false)  // no interval, not precise
        #expect(abs(normalQuantile(0.975) - 1.959963985) < 1e-8 && abs(normalQuantile(0.01) + 2.326347874) < 1e-8)
    }

    @Test func exactMannWhitney() throws {
        let separated = try #require(MannWhitney([1, 2, 3], [4, 5, 6]))
        #expect(separated.exact && separated.u == 0 && close(separated.pValue, 0.1))  // 2 × 1/C(6,3)
        let mixed = try #require(MannWhitney([1, 3, 5], [2, 4, 6]))
        #expect(mixed.u == 3 && close(mixed.pValue, 0.7))  // 2 × 7/20
        let four = try #require(MannWhitney([1, 2, 3, 4], [5, 6, 7, 8]))
        #expect(close(four.pValue, 2.0 / 70))
    }

    @Test func normalApproximationWithTies() throws {
        // Midranks 1, 3, 3, 5.5, 9 → R = 21.5, U = 6.5; Σ(t³ - t) = 24 + 6 + 6;
        // var = 25/12 (11 - 36/90) = 22.083; z = (6 - 0.5)/4.6993 = 1.1704.
        let test = try #require(MannWhitney([1, 2, 2, 3, 5], [2, 3, 4, 4, 6]))
        #expect(!test.exact && test.u == 6.5)
        #expect(close(test.pValue, 0.2418443040494631, 1e-9))
        let large = try #require(MannWhitney((1...25).map(Double.init), (26...50).map(Double.init)))
        #expect(!large.exact && close(large.pValue, 1.4156562248495537e-09, 1e-6))
        let equal = try #require(MannWhitney([5, 5, 5], [5, 5, 5]))
        #expect(equal.pValue == 1)
    }

    @Test func comparisonVerdicts() throws {
        let slower = try #require(TimingComparison(baseline: [10, 11, 12, 13, 14], candidate: [20, 21, 22, 23, 24]))
        #expect(close(slower.medianRatio, 22.0 / 12) && close(slower.test.pValue, 2.0 / 252) && slower.verdict(pValue: slower.test.pValue) == .slower)
        let faster = try #require(TimingComparison(baseline: [20, 21, 22, 23, 24], candidate: [10, 11, 12, 13, 14]))
        #expect(faster.verdict(pValue: faster.test.pValue) == .faster)
        let same = try #require(TimingComparison(baseline: [10, 12, 14], candidate: [11, 13, 15]))
        #expect(same.verdict(pValue: same.test.pValue) == .noise)
    }

    /// Holm's adjustment against values computed by hand (R's p.adjust(method = "holm")).
    @Test func holmAdjustment() {
        let adjusted = holmAdjusted([0.01, 0.04, 0.03, 0.005])
        for (value, expected) in zip(adjusted, [0.03, 0.06, 0.06, 0.02]) { #expect(close(value, expected)) }
        #expect(holmAdjusted([0.9, 0.6]) == [1, 1])
        #expect(holmAdjusted([]) == [])
    }

    @Test func bootstrapIntervalOfTheMedianRatio() throws {
        let slower = try #require(TimingComparison(baseline: [10, 11, 12, 13, 14], candidate: [20, 21, 22, 23, 24]))
        // Every resampled median lies in [10, 14] and [20, 24]: ratios in [20/14, 24/10].
        #expect(slower.ratioInterval.lowerBound >= 20.0 / 14 && slower.ratioInterval.upperBound <= 2.4)
        #expect(slower.ratioInterval.contains(slower.medianRatio))
        let again = try #require(TimingComparison(baseline: [10, 11, 12, 13, 14], candidate: [20, 21, 22, 23, 24]))
        #expect(again.ratioInterval == slower.ratioInterval)  // fixed seed: reproducible
        let constant = try #require(TimingComparison(baseline: [5, 5, 5], candidate: [10, 10, 10]))
        #expect(constant.ratioInterval == 2...2)
    }

    @Test func listOptions() throws {
        #expect(try parseWorkerList("1..max", maximum: 4) == [1, 2, 3, 4])
        #expect(try parseWorkerList("1,2,4,2", maximum: 4) == [1, 2, 4])
        #expect(try parseWorkerList("max", maximum: 3) == [3])
        for bad in ["0", "5", "2..1", "x", "1,,2", "1..2..3"] {
            #expect(throws: UnlockedError.self, "\(bad)") { try parseWorkerList(bad, maximum: 4) }
        }
        #expect(try parseSizeList("1e5,64Mi,1Gi") == [100_000, 64 << 20, 1 << 30])
        expectError(.usage, containing: "'0' is not a positive element count") { try parseSizeList("1e5,0") }
        #expect(try CPUList.parse("0-3,8,10-11").count == 7 && CPUList.parse("0").count == 1)
        expectError(.usage, containing: "range '3-1' at position 1 runs backwards") { try CPUList.parse("3-1") }
    }
}
