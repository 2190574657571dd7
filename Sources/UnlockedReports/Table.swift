import Foundation

/// Rows of cells rendered as an aligned text table, Markdown or CSV.
///
/// A header may span several lines ("speedup\n@100k"): the text table stacks
/// them, bottom-aligned, so narrow numeric columns keep readable names;
/// Markdown joins them with a space.
public struct TextTable: Sendable, Equatable {
    public var headers: [String]
    public var rows: [[String]]
    /// Columns aligned right (numbers); the others align left.
    public var rightAligned: Set<Int>

    public init(headers: [String], rows: [[String]], rightAligned: Set<Int> = []) {
        precondition(rows.allSatisfy { $0.count == headers.count }, "a row with the wrong number of cells")
        self.headers = headers
        self.rows = rows
        self.rightAligned = rightAligned
    }

    /// Characters each column takes in `text`.
    public var columnWidths: [Int] {
        headers.indices.map { column in
            (headers[column].split(separator: "\n", omittingEmptySubsequences: false).map(\.count) + rows.map { $0[column].count }).max() ?? 0
        }
    }

    /// The width of the widest line of `text`.
    public var width: Int { columnWidths.reduce(0, +) + 2 * max(headers.count - 1, 0) }

    /// Columns separated by two spaces, a dashed rule under the headers.
    public var text: String {
        let widths = columnWidths
        func line(_ cells: [String]) -> String {
            cells.indices.map { column in
                let pad = String(repeating: " ", count: widths[column] - cells[column].count)
                return rightAligned.contains(column) ? pad + cells[column] : cells[column] + pad
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
        let headerLines = headers.map { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
        let depth = headerLines.map(\.count).max() ?? 1
        let stacked = (0..<depth).map { level in
            line(headerLines.map { lines in
                let index = level - (depth - lines.count)
                return index >= 0 ? lines[index] : ""
            })
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return (stacked + [rule] + rows.map(line)).joined(separator: "\n")
    }

    /// The table cut into parts no wider than `width` where it can be: each
    /// part repeats column 0 (what names a row) and takes a run of the
    /// following columns, in order. As few parts as fit, as even as can be.
    /// A column too wide for any part gets one of its own.
    public func parts(fitting width: Int) -> [TextTable] {
        guard self.width > width, headers.count > 1 else { return [self] }
        let widths = columnWidths
        let columns = Array(1..<headers.count)
        func partWidth(_ run: ArraySlice<Int>) -> Int { widths[0] + run.map { 2 + widths[$0] }.reduce(0, +) }
        // Fewest parts: greedy. Then, for that many, the split whose widest part is narrowest.
        var count = 1, used = widths[0], inPart = 0
        for column in columns {
            if inPart > 0 && used + 2 + widths[column] > width { count += 1; used = widths[0]; inPart = 0 }
            used += 2 + widths[column]
            inPart += 1
        }
        // best[k][i]: the narrowest widest part splitting columns[..<i] into k parts, with the cut.
        let n = columns.count
        var best = [[(Int, Int)]](repeating: [(Int, Int)](repeating: (Int.max, 0), count: n + 1), count: count + 1)
        best[0][0] = (0, 0)
        for k in 1...count {
            for end in 1...n {
                for start in (k - 1)..<end where best[k - 1][start].0 != Int.max {
                    let widest = max(best[k - 1][start].0, partWidth(columns[start..<end]))
                    if widest < best[k][end].0 { best[k][end] = (widest, start) }
                }
            }
        }
        var cuts: [Range<Int>] = []
        var end = n
        for k in stride(from: count, to: 0, by: -1) {
            let start = best[k][end].1
            cuts.insert(start..<end, at: 0)
            end = start
        }
        return cuts.map { run in
            let chosen = [0] + Array(columns[run])
            return TextTable(headers: chosen.map { headers[$0] }, rows: rows.map { row in chosen.map { row[$0] } },
                             rightAligned: Set(chosen.indices.filter { rightAligned.contains(chosen[$0]) }))
        }
    }

    /// A GitHub-flavoured Markdown table; `|` inside cells is escaped.
    public var markdown: String {
        func line(_ cells: [String]) -> String {
            "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }
                .joined(separator: " | ") + " |"
        }
        let rule = "|" + headers.indices.map { rightAligned.contains($0) ? "---:|" : "---|" }.joined()
        return ([line(headers), rule] + rows.map(line)).joined(separator: "\n")
    }
}

/// RFC 4180 CSV: fields with a comma, quote or line break are quoted, quotes doubled.
public func csvLine(_ fields: [String]) -> String {
    fields.map { field in
        field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
    }.joined(separator: ",")
}

/// `text` broken at spaces into lines of at most `width` characters. Each
/// line of `text` is a paragraph: its leading spaces are kept, and its
/// continuation lines start `indent` spaces further in. A word longer than
/// a line is cut.
public func wrapped(_ text: String, width: Int, indent: Int = 0) -> String {
    var lines: [String] = []
    for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
        let lead = paragraph.prefix { $0 == " " }.count
        let continuation = String(repeating: " ", count: lead + indent)
        let width = max(width, lead + indent + 8)
        var line = String(repeating: " ", count: lead)
        var lineHasWord = false
        func flush() {
            lines.append(line.trimmingTrailingSpaces())
            line = continuation
            lineHasWord = false
        }
        for word in paragraph.split(separator: " ", omittingEmptySubsequences: true) {
            var word = Substring(word)
            if lineHasWord && line.count + 1 + word.count > width { flush() }
            while line.count + word.count > width {
                let room = width - line.count
                line += word.prefix(room)
                word = word.dropFirst(room)
                flush()
            }
            line += (lineHasWord ? " " : "") + word
            lineHasWord = true
        }
        lines.append(line.trimmingTrailingSpaces())
    }
    return lines.joined(separator: "\n")
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var result = self
        while result.last == " " { result.removeLast() }
        return result
    }
}
