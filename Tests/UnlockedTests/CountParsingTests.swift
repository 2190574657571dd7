import Testing
@testable import Unlocked

@Suite struct CountParsingTests {
    @Test(arguments: [("100000", 100_000), ("1e5", 100_000), ("64Ki", 65_536), ("1Gi", 1 << 30), ("10M", 10_000_000), ("2.5e3", 2_500)])
    func accepts(text: String, expected: Int) {
        #expect(parseCount(text) == expected)
    }

    @Test(arguments: ["0", "-5", "abc", "1.5", "1e-3", "", "Ki", "99999999999Ti"])
    func rejects(text: String) {
        #expect(parseCount(text) == nil)
    }
}
