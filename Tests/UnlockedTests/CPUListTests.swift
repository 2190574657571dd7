import Testing
@testable import Unlocked

@Suite struct CPUListTests {
    @Test(arguments: [
        ("0-3,8,10-11", [0, 1, 2, 3, 8, 10, 11]),
        ("5", [5]),
        ("0-10:2", [0, 2, 4, 6, 8, 10]),
        ("1-7:3", [1, 4, 7]),
        ("8,0-1", [8, 0, 1]),
        ("0xf0", [4, 5, 6, 7]),
        ("0x1,00000001", [0, 32]),
        ("0X3", [0, 1]),
    ])
    func parses(text: String, expected: [Int]) throws {
        #expect(try CPUList.parse(text) == expected)
    }

    /// Control characters in a bad list are escaped: one line, no terminal
    /// sequences (found by the cpu-list fuzzer).
    @Test func badItemsAreQuotedOnOneLine() {
        expectError(.usage, containing: "invalid CPU list '0,\\u{a}\\u{1b}[31m': item '\\u{a}\\u{1b}[31m' at position 3") {
            try CPUList.parse("0,\n\u{1b}[31m")
        }
        #expect(printable("é\u{85}\u{2028}\u{202e}x") == "é\\u{85}\\u{2028}\\u{202e}x")
    }

    @Test func openRangeRunsToTheGivenLastCPU() throws {
        #expect(try CPUList.parse("6-", last: 9) == [6, 7, 8, 9])
        expectError(.usage, containing: "open range '6-' at position 1") { try CPUList.parse("6-") }
    }

    @Test(arguments: [[0, 1, 2, 3, 8, 10, 11], [7], [1, 3, 5], Array(0..<64), [0, 2, 3, 4, 63, 100]])
    func formatThenParseRoundTrips(numbers: [Int]) throws {
        let text = CPUList.format(numbers)
        #expect(try CPUList.parse(text) == numbers.sorted())
        #expect(CPUList.format(try CPUList.parse(text)) == text)
    }

    @Test func formatIsCompact() {
        #expect(CPUList.format([11, 10, 8, 3, 2, 1, 0]) == "0-3,8,10-11")
        #expect(CPUList.format([3, 1, 2, 2, 3, 7, 7]) == "1-3,7")
        #expect(CPUList.format([Int.max, Int.max, Int.max - 1]) == "\(Int.max - 1)-\(Int.max)")
    }

    /// Each rejection names the list and the offending item with its position.
    @Test(arguments: [
        ("3-1", "'3-1' at position 1 runs backwards"),
        ("a", "'a' at position 1"),
        (",", "empty item at position 1"),
        ("1,,2", "empty item at position 3"),
        ("1,2,1", "CPU 1 appears twice"),
        ("0-3,2", "CPU 2 appears twice"),
        ("", "empty"),
        ("1-x", "bad range end 'x'"),
        ("0-8:0", "bad stride '0'"),
        ("4:2", "needs a range"),
        ("0x", "no hex digits"),
        ("0xz1", "'z' is not a hex digit"),
        ("0x0", "selects no CPU"),
        ("99999999", "above the largest CPU number"),
        ("-1", "'-1' at position 1"),
        (" 1", "' 1' at position 1"),
    ])
    func rejects(text: String, reason: String) {
        #expect {
            try CPUList.parse(text)
        } throws: { error in
            guard let error = error as? UnlockedError else { return false }
            return error.kind == .usage && error.message.contains("'\(text)'") && error.message.contains(reason)
                && !error.message.contains("\n")
        }
    }
}
