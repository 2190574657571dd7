#if os(Linux)
import Foundation
import UnlockedMeasurement

/// One line of a chart.
public struct PlotSeries: Sendable, Equatable {
    public var name: String
    public var points: [(x: Double, y: Double)]
    public var dashed: Bool

    public init(name: String, points: [(x: Double, y: Double)], dashed: Bool = false) {
        self.name = name
        self.points = points.sorted { $0.x < $1.x }
        self.dashed = dashed
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.name == b.name && a.dashed == b.dashed && a.points.elementsEqual(b.points) { $0.x == $1.x && $0.y == $1.y }
    }
}

/// One chart: axes, ticks, series and a legend.
public struct PlotPanel: Sendable, Equatable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    /// Log-scale x (sizes span decades); linear otherwise.
    public var logX: Bool
    public var series: [PlotSeries]
    /// Formats an x tick.
    public var xTick: @Sendable (Double) -> String

    public init(title: String, xLabel: String, yLabel: String, logX: Bool, series: [PlotSeries],
                xTick: @escaping @Sendable (Double) -> String = { String(format: "%g", $0) }) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.logX = logX
        self.series = series
        self.xTick = xTick
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.title == b.title && a.xLabel == b.xLabel && a.yLabel == b.yLabel && a.logX == b.logX && a.series == b.series
    }
}

/// The `--plot` figure of a bench report: speedup against workers per engine,
/// and throughput against size with the bandwidth ceiling (`stream.sum`) dashed.
public struct BenchPlot: Sendable {
    public var panels: [PlotPanel]

    public init(panels: [PlotPanel]) { self.panels = panels }

    /// Builds both panels from `results`. Speedup is over `sequential` with the
    /// same kernel, type and size when it was measured, else over the engine's
    /// own smallest worker count; it uses the largest size and the first
    /// kernel that is not `stream.sum`. Throughput uses each engine's largest
    /// worker count; the ceiling is the best `stream.sum` at each size.
    public init(results: [CellResult]) {
        let ok = results.filter { $0.statistics != nil }
        let workload = ok.first { $0.cell.kernel != "stream.sum" } ?? ok.first
        // One series per engine, or per engine and chunk when the sweep has several chunk values.
        let chunked = Set(ok.map(\.cell.chunk)).count > 1
        var engines: [(engine: String, chunk: Int?)] = []
        for result in ok where !engines.contains(where: { $0 == (result.cell.engine, result.cell.chunk) }) {
            engines.append((result.cell.engine, result.cell.chunk))
        }

        var speedups: [PlotSeries] = []
        var throughputs: [PlotSeries] = []
        if let workload {
            let kernel = workload.cell.kernel, dtype = workload.cell.dtype
            let same = ok.filter { $0.cell.kernel == kernel && $0.cell.dtype == dtype }
            let largest = same.map(\.cell.size).max()!
            let atLargest = same.filter { $0.cell.size == largest }
            let sequential = atLargest.first { $0.cell.engine == "sequential" }?.statistics?.median
            for (engine, chunk) in engines {
                let name = chunked ? "\(engine), chunk \(chunk.map(String.init) ?? "auto")" : engine
                let mine = same.filter { $0.cell.engine == engine && $0.cell.chunk == chunk }
                let cells = mine.filter { $0.cell.size == largest }.sorted { $0.cell.workers < $1.cell.workers }
                guard let base = sequential ?? cells.first?.statistics?.median else { continue }
                let points = cells.map { (x: Double($0.cell.workers), y: base / $0.statistics!.median) }
                if !points.isEmpty { speedups.append(PlotSeries(name: name, points: points)) }

                guard let most = mine.map(\.cell.workers).max() else { continue }
                let rates = mine.filter { $0.cell.workers == most }.compactMap { result in
                    result.bytesPerSecond.map { (x: Double(result.cell.size), y: $0 / 1e9) }
                }
                throughputs.append(PlotSeries(name: "\(name) (\(most) workers)", points: rates))
            }
            if let maxWorkers = speedups.flatMap({ $0.points.map(\.x) }).max(), maxWorkers > 1 {
                speedups.append(PlotSeries(name: "ideal", points: [(x: 1, y: 1), (x: maxWorkers, y: maxWorkers)], dashed: true))
            }
            let ceilings = Dictionary(grouping: ok.filter { $0.cell.kernel == "stream.sum" && $0.cell.dtype == dtype }) { $0.cell.size }
                .compactMap { size, cells in cells.compactMap(\.bytesPerSecond).max().map { (x: Double(size), y: $0 / 1e9) } }
            if !ceilings.isEmpty {
                throughputs.append(PlotSeries(name: "bandwidth ceiling (stream.sum)", points: ceilings, dashed: true))
            }
            panels = [
                PlotPanel(title: "Speedup vs workers — \(kernel) \(dtype.rawValue), \(formatCount(Double(largest))) elements",
                          xLabel: "workers", yLabel: "speedup over \(sequential != nil ? "sequential" : "fewest workers")",
                          logX: false, series: speedups),
                PlotPanel(title: "Throughput vs size — \(kernel) \(dtype.rawValue)", xLabel: "elements",
                          yLabel: "GB/s", logX: true, series: throughputs, xTick: { formatCount($0) }),
            ]
        } else {
            panels = []
        }
    }

    package static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]

    /// A standalone SVG document, panels side by side.
    public var svg: String {
        let panelWidth = 560.0, height = 420.0
        let width = panelWidth * Double(max(panels.count, 1))
        var out = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>

        """
        if panels.isEmpty {
            out += "<text x=\"20\" y=\"40\">no successful cells to plot</text>\n"
        }
        for (index, panel) in panels.enumerated() {
            out += render(panel, originX: Double(index) * panelWidth, width: panelWidth, height: height)
        }
        return out + "</svg>\n"
    }

    package func render(_ panel: PlotPanel, originX: Double, width: Double, height: Double) -> String {
        let left = originX + 80, right = originX + width - 30, top = 40.0, bottom = height - 60
        let points = panel.series.flatMap(\.points)
        let xs = points.map(\.x).filter { !panel.logX || $0 > 0 }
        var xMin = xs.min() ?? 1, xMax = xs.max() ?? 2
        if xMin == xMax { xMin = panel.logX ? xMin / 10 : xMin - 1; xMax = panel.logX ? xMax * 10 : xMax + 1 }
        let yTicks = niceTicks(upTo: max(points.map(\.y).filter(\.isFinite).max() ?? 1, 1e-9))
        let yMax = yTicks.last!
        func px(_ x: Double) -> Double {
            let t = panel.logX ? (log10(x) - log10(xMin)) / (log10(xMax) - log10(xMin)) : (x - xMin) / (xMax - xMin)
            return left + 12 + t * (right - left - 24)  // inset so end points clear the axes
        }
        func py(_ y: Double) -> Double { bottom - y / yMax * (bottom - top) }
        let f = svgNumber

        var out = "<g class=\"panel\" data-title=\"\(xmlEscaped(panel.title))\">\n"
        out += "<text x=\"\(f((left + right) / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">\(xmlEscaped(panel.title))</text>\n"
        // Grid and y ticks.
        for tick in yTicks {
            out += "<line x1=\"\(f(left))\" y1=\"\(f(py(tick)))\" x2=\"\(f(right))\" y2=\"\(f(py(tick)))\" stroke=\"#e0e0e0\"/>\n"
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(py(tick) + 4))\" text-anchor=\"end\">\(String(format: "%g", tick))</text>\n"
        }
        // X ticks at the measured values: the sizes and worker counts the user chose.
        let xTicks = Array(Set(xs)).sorted()
        for tick in xTicks {
            out += "<line x1=\"\(f(px(tick)))\" y1=\"\(f(bottom))\" x2=\"\(f(px(tick)))\" y2=\"\(f(bottom + 5))\" stroke=\"black\"/>\n"
            out += "<text x=\"\(f(px(tick)))\" y=\"\(f(bottom + 18))\" text-anchor=\"middle\">\(xmlEscaped(panel.xTick(tick)))</text>\n"
        }
        out += "<line x1=\"\(f(left))\" y1=\"\(f(bottom))\" x2=\"\(f(right))\" y2=\"\(f(bottom))\" stroke=\"black\"/>\n"
        out += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(bottom))\" stroke=\"black\"/>\n"
        out += "<text x=\"\(f((left + right) / 2))\" y=\"\(f(height - 22))\" text-anchor=\"middle\">\(xmlEscaped(panel.xLabel))</text>\n"
        out += "<text transform=\"translate(\(f(originX + 16)),\(f((top + bottom) / 2))) rotate(-90)\" text-anchor=\"middle\">\(xmlEscaped(panel.yLabel))</text>\n"
        // Series, then the legend on top of them.
        for (index, series) in panel.series.enumerated() {
            let color = series.dashed ? "#555555" : Self.colors[index % Self.colors.count]
            let dash = series.dashed ? " stroke-dasharray=\"6 4\"" : ""
            let drawn = series.points.filter { $0.y.isFinite && (!panel.logX || $0.x > 0) }
            out += "<g class=\"series\" data-name=\"\(xmlEscaped(series.name))\">\n"
            out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(dash) points=\"\(drawn.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " "))\"/>\n"
            if !series.dashed {
                for point in drawn {
                    out += "<circle cx=\"\(f(px(point.x)))\" cy=\"\(f(py(point.y)))\" r=\"3.5\" fill=\"\(color)\"/>\n"
                }
            }
            out += "</g>\n"
        }
        let legendTop = top + 8
        out += "<g class=\"legend\">\n"
        out += "<rect x=\"\(f(left + 8))\" y=\"\(f(legendTop - 4))\" width=\"230\" height=\"\(f(Double(panel.series.count) * 16 + 8))\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#cccccc\"/>\n"
        for (index, series) in panel.series.enumerated() {
            let color = series.dashed ? "#555555" : Self.colors[index % Self.colors.count]
            let y = legendTop + 8 + Double(index) * 16
            let dash = series.dashed ? " stroke-dasharray=\"6 4\"" : ""
            out += "<line x1=\"\(f(left + 14))\" y1=\"\(f(y))\" x2=\"\(f(left + 38))\" y2=\"\(f(y))\" stroke=\"\(color)\" stroke-width=\"2\"\(dash)/>\n"
            out += "<text x=\"\(f(left + 44))\" y=\"\(f(y + 4))\">\(xmlEscaped(series.name))</text>\n"
        }
        return out + "</g>\n</g>\n"
    }
}

/// 4-6 round tick values from 0 to at least `maximum`.
package func niceTicks(upTo maximum: Double) -> [Double] {
    let rough = maximum / 5
    let magnitude = pow(10, floor(log10(rough)))
    let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= rough }!
    let count = Int(ceil(maximum / step - 1e-9))
    return (0...max(count, 1)).map { Double($0) * step }
}

/// Element counts as sizes are typed: 1e5 → "100k", 2^26 → "64Mi".
package func formatCount(_ value: Double) -> String {
    let int = Int(value)
    for (suffix, unit) in [("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] where int >= unit && int % unit == 0 {
        return "\(int / unit)\(suffix)"
    }
    for (suffix, unit) in [("G", 1_000_000_000), ("M", 1_000_000), ("k", 1_000)] where int >= unit && int % unit == 0 {
        return "\(int / unit)\(suffix)"
    }
    return "\(int)"
}

/// A coordinate or length in SVG text: one decimal.
package func svgNumber(_ value: Double) -> String { String(format: "%.1f", value) }

/// Escapes text for XML content and attributes.
package func xmlEscaped(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
#endif
