#if os(Linux)
import Foundation
import UnlockedMeasurement

/// `unlocked --plot FILE.svg`: the measured table as a picture. One row per
/// engine, named on the left; two panels share the rows, the time per job at
/// the small size and at the large size, each on a log axis with its unit.
/// At the small size a filled dot is the steady state (jobs back to back) and
/// a ring the wake-up (a job arriving at parked workers); bars are the 95%
/// intervals of the medians. Dashed lines mark `sequential`'s time and, at the
/// large size, the time the bandwidth ceiling allows (`stream.sum` over the
/// same bytes with the same workers).
public struct SeedTablePlot: Sendable {
    public var table: SeedTable

    public init(table: SeedTable) { self.table = table }

    private static let rowHeight = 30.0, top = 92.0, labelWidth = 150.0, panelWidth = 400.0, gap = 50.0
    private static let steadyColor = "#1f5fa8", wakeColor = "#c0392b", sequentialColor = "#555555", ceilingColor = "#1e8449"

    /// A point of one series: a median and its 95% interval, in nanoseconds.
    private struct Mark {
        var median: Double
        var interval: ClosedRange<Double>?
        init?(_ statistics: SampleStatistics?) {
            guard let statistics, statistics.median > 0 else { return nil }
            median = statistics.median
            interval = statistics.medianInterval95
        }
    }

    /// A standalone SVG document.
    public var svg: String {
        let rows = table.rows
        let workload = table.plan.workload
        let small = formatCount(Double(workload.smallSize)), large = formatCount(Double(workload.largeSize))
        let plotBottom = Self.top + Double(max(rows.count, 1)) * Self.rowHeight
        let height = plotBottom + 110
        let width = Self.labelWidth + 2 * Self.panelWidth + Self.gap + 40
        var out = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="13">
        <rect width="100%" height="100%" fill="white"/>
        <text x="20" y="30" font-size="17" font-weight="bold">\(xmlEscaped("absdist.sum over \(workload.dtype.rawValue), \(table.plan.workers) workers (sequential: 1): time per job, lower is faster"))</text>

        """
        // Engine names, one row each, with a light band every other row.
        for (index, row) in rows.enumerated() {
            let y = Self.top + Double(index) * Self.rowHeight
            if index % 2 == 0 {
                out += "<rect x=\"10\" y=\"\(f(y))\" width=\"\(f(width - 20))\" height=\"\(f(Self.rowHeight))\" fill=\"#f4f6f8\"/>\n"
            }
            out += "<text class=\"engine\" x=\"\(f(Self.labelWidth - 10))\" y=\"\(f(y + Self.rowHeight / 2 + 4.5))\" text-anchor=\"end\" font-weight=\"bold\">\(xmlEscaped(row.profile.name))</text>\n"
        }
        let sequential = rows.first { $0.profile.name == "sequential" }
        let smallPanel = Panel(title: "\(small) elements (the talk's)", originX: Self.labelWidth,
                               marks: rows.map { (Mark($0.small), $0.profile.persistentWorkers || $0.profile.name == "sequential" ? Mark($0.smallWake) : nil) },
                               references: [sequential.flatMap { Mark($0.small) }.map { ("sequential", $0.median, Self.sequentialColor) }].compactMap { $0 },
                               failures: rows.map(\.failure))
        var largeReferences: [(String, Double, String)] = []
        if let base = sequential.flatMap({ Mark($0.large) }) { largeReferences.append(("sequential", base.median, Self.sequentialColor)) }
        if let ceiling = table.ceilingBytesPerSecond(workers: table.plan.workers), ceiling > 0 {
            let bytes = Double(workload.largeSize * workload.dtype.byteWidth)
            largeReferences.append(("bandwidth ceiling", bytes / ceiling * 1e9, Self.ceilingColor))
        }
        let largePanel = Panel(title: "\(large) elements (\(formatBytes(Double(workload.largeSize * workload.dtype.byteWidth))))",
                               originX: Self.labelWidth + Self.panelWidth + Self.gap,
                               marks: rows.map { (Mark($0.large), nil) }, references: largeReferences, failures: rows.map(\.failure))
        out += render(smallPanel, bottom: plotBottom)
        out += render(largePanel, bottom: plotBottom)
        out += legend(y: plotBottom + 62)
        return out + "</svg>\n"
    }

    private struct Panel {
        var title: String
        var originX: Double
        /// Per row: the main mark and an optional wake-up mark.
        var marks: [(Mark?, Mark?)]
        var references: [(name: String, nanoseconds: Double, color: String)]
        var failures: [String?]
    }

    private func render(_ panel: Panel, bottom: Double) -> String {
        let left = panel.originX + 10, right = panel.originX + Self.panelWidth - 10
        var values: [Double] = panel.references.map(\.nanoseconds)
        for (main, wake) in panel.marks {
            for mark in [main, wake].compactMap({ $0 }) {
                values.append(mark.median)
                if let interval = mark.interval { values += [interval.lowerBound, interval.upperBound] }
            }
        }
        values = values.filter { $0 > 0 && $0.isFinite }
        // The axis spans the values with a margin, at least one decade.
        var low = log10((values.min() ?? 1e3) / 1.25), high = log10((values.max() ?? 1e6) * 1.25)
        if high - low < 1 { (low, high) = ((low + high - 1) / 2, (low + high + 1) / 2) }
        let span = high - low
        func x(_ nanoseconds: Double) -> Double { left + (log10(nanoseconds) - low) / span * (right - left) }

        var out = "<g class=\"panel\" data-title=\"\(xmlEscaped(panel.title))\">\n"
        out += "<text x=\"\(f((left + right) / 2))\" y=\"\(f(Self.top - 36))\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">\(xmlEscaped(panel.title))</text>\n"
        // Log grid: every 1, 2, 5 × 10^k in range, labelled with units; the
        // 2s and 5s only when few decades leave them room.
        var exponent = floor(low)
        while exponent <= ceil(high) {
            for step in [1.0, 2, 5] {
                let value = step * pow(10, exponent)
                guard (low...high).contains(log10(value)) else { continue }
                let px = x(value)
                out += "<line x1=\"\(f(px))\" y1=\"\(f(Self.top))\" x2=\"\(f(px))\" y2=\"\(f(bottom))\" stroke=\"\(step == 1 ? "#c8c8c8" : "#ececec")\"/>\n"
                guard step == 1 || span <= 2.2 else { continue }
                out += "<text x=\"\(f(px))\" y=\"\(f(bottom + 18))\" text-anchor=\"middle\" font-size=\"\(step == 1 ? 12 : 10)\" fill=\"\(step == 1 ? "#222" : "#777")\">\(xmlEscaped(tickLabel(value)))</text>\n"
            }
            exponent += 1
        }
        out += "<line x1=\"\(f(left))\" y1=\"\(f(bottom))\" x2=\"\(f(right))\" y2=\"\(f(bottom))\" stroke=\"black\"/>\n"
        out += "<text x=\"\(f((left + right) / 2))\" y=\"\(f(bottom + 40))\" text-anchor=\"middle\">time per job (log scale)</text>\n"
        // Reference lines, named above the plot.
        for (index, reference) in panel.references.enumerated() {
            let px = x(reference.nanoseconds)
            out += "<g class=\"reference\" data-name=\"\(xmlEscaped(reference.name))\">\n"
            out += "<line x1=\"\(f(px))\" y1=\"\(f(Self.top - 6))\" x2=\"\(f(px))\" y2=\"\(f(bottom))\" stroke=\"\(reference.color)\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n"
            let anchor = px > (left + right) / 2 ? "end" : "start"
            let textX = anchor == "end" ? px - 4 : px + 4
            out += "<text x=\"\(f(textX))\" y=\"\(f(Self.top - 8 - Double(index) * 14))\" text-anchor=\"\(anchor)\" font-size=\"11\" fill=\"\(reference.color)\">\(xmlEscaped("\(reference.name) \(formatTime(reference.nanoseconds * 1e-9))"))</text>\n"
            out += "</g>\n"
        }
        for (index, (main, wake)) in panel.marks.enumerated() {
            let y = Self.top + (Double(index) + 0.5) * Self.rowHeight
            guard let main else {
                let reason = panel.failures[index] == nil ? "not measured" : "could not run"
                out += "<text x=\"\(f(left + 6))\" y=\"\(f(y + 4))\" font-size=\"11\" fill=\"#999\">\(reason)</text>\n"
                continue
            }
            out += "<g class=\"marks\">\n"
            if let wake {
                out += "<line x1=\"\(f(x(main.median)))\" y1=\"\(f(y))\" x2=\"\(f(x(wake.median)))\" y2=\"\(f(y))\" stroke=\"#cccccc\" stroke-width=\"1\" stroke-dasharray=\"2 3\"/>\n"
                out += whisker(wake, y: y, color: Self.wakeColor, x: x)
            }
            out += whisker(main, y: y, color: Self.steadyColor, x: x)
            if let wake {
                out += "<circle cx=\"\(f(x(wake.median)))\" cy=\"\(f(y))\" r=\"5.5\" fill=\"white\" stroke=\"\(Self.wakeColor)\" stroke-width=\"2\"/>\n"
            }
            out += "<circle cx=\"\(f(x(main.median)))\" cy=\"\(f(y))\" r=\"5.5\" fill=\"\(Self.steadyColor)\"/>\n"
            // The figures beside the marks and their intervals, on the side with room.
            let text = formatTime(main.median * 1e-9) + (wake.map { " · wake-up \(formatTime($0.median * 1e-9))" } ?? "")
            let marks = [main] + (wake.map { [$0] } ?? [])
            let rightmost = marks.map { max(x($0.median) + 6, $0.interval.map { x($0.upperBound) } ?? 0) }.max()!
            let leftmost = marks.map { min(x($0.median) - 6, $0.interval.map { x($0.lowerBound) } ?? .infinity) }.min()!
            let room = right - rightmost > Double(text.count) * 6.2 + 8
            out += "<text x=\"\(f(room ? rightmost + 6 : leftmost - 6))\" y=\"\(f(y + 4))\" text-anchor=\"\(room ? "start" : "end")\" font-size=\"11\" fill=\"#333\">\(xmlEscaped(text))</text>\n"
            out += "</g>\n"
        }
        return out + "</g>\n"
    }

    /// The 95% interval of a median as a bar with end ticks, behind its dot.
    private func whisker(_ mark: Mark, y: Double, color: String, x: (Double) -> Double) -> String {
        guard let interval = mark.interval, interval.lowerBound > 0 else { return "" }
        let a = x(interval.lowerBound), b = x(interval.upperBound)
        return "<path d=\"M\(f(a)),\(f(y - 5))v10M\(f(a)),\(f(y))H\(f(b))M\(f(b)),\(f(y - 5))v10\" stroke=\"\(color)\" stroke-width=\"2\" fill=\"none\"/>\n"
    }

    /// A round duration as a tick reads it: 1 µs, 20 µs, 500 ms, 1 s.
    private func tickLabel(_ nanoseconds: Double) -> String {
        let (value, unit): (Double, String) = switch nanoseconds {
        case ..<1e3: (nanoseconds, "ns")
        case ..<1e6: (nanoseconds / 1e3, "µs")
        case ..<1e9: (nanoseconds / 1e6, "ms")
        default: (nanoseconds / 1e9, "s")
        }
        return "\(Int(value.rounded())) \(unit)"
    }

    private func legend(y: Double) -> String {
        let x0 = 20.0
        var out = "<g class=\"legend\">\n"
        out += "<circle cx=\"\(f(x0 + 6))\" cy=\"\(f(y))\" r=\"5.5\" fill=\"\(Self.steadyColor)\"/>\n"
        out += "<text x=\"\(f(x0 + 18))\" y=\"\(f(y + 4.5))\">median time per job; at the small size jobs run back to back (steady state)</text>\n"
        out += "<circle cx=\"\(f(x0 + 6))\" cy=\"\(f(y + 22))\" r=\"5.5\" fill=\"white\" stroke=\"\(Self.wakeColor)\" stroke-width=\"2\"/>\n"
        out += "<text x=\"\(f(x0 + 18))\" y=\"\(f(y + 26.5))\">wake-up: one job arriving at workers parked after 1 ms idle</text>\n"
        let x1 = x0 + 560
        out += "<path d=\"M\(f(x1)),\(f(y - 5))v10M\(f(x1)),\(f(y))H\(f(x1 + 16))M\(f(x1 + 16)),\(f(y - 5))v10\" stroke=\"#333\" stroke-width=\"2\" fill=\"none\"/>\n"
        out += "<text x=\"\(f(x1 + 24))\" y=\"\(f(y + 4.5))\">95% interval of the median</text>\n"
        out += "<line x1=\"\(f(x1))\" y1=\"\(f(y + 22))\" x2=\"\(f(x1 + 16))\" y2=\"\(f(y + 22))\" stroke=\"#555\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n"
        out += "<text x=\"\(f(x1 + 24))\" y=\"\(f(y + 26.5))\">references: sequential, bandwidth ceiling</text>\n"
        return out + "</g>\n"
    }

    private func f(_ value: Double) -> String { String(format: "%.1f", value) }
}
#endif
