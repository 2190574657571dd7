import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Unlocked

/// Collects panels and the series names inside each from an SVG document,
/// the engine names of the table's picture and its reference lines.
final class SVGSeriesCollector: NSObject, XMLParserDelegate {
    var panels: [(title: String, series: [String])] = []
    var polylinePoints: [String] = []
    var engines: [String] = []
    var references: [String] = []
    private var inEngine = false

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if name == "g", attributes["class"] == "panel" { panels.append((attributes["data-title"] ?? "", [])) }
        if name == "g", attributes["class"] == "series", let series = attributes["data-name"] { panels[panels.count - 1].series.append(series) }
        if name == "g", attributes["class"] == "reference", let reference = attributes["data-name"] { references.append(reference) }
        if name == "polyline", let points = attributes["points"] { polylinePoints.append(points) }
        if name == "text", attributes["class"] == "engine" {
            inEngine = true
            engines.append("")
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if inEngine { engines[engines.count - 1] += string }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text" { inEngine = false }
    }
}

/// Renders SVG to PNG with librsvg's `rsvg-convert` (Debian `librsvg2-bin`,
/// installed by `make test-deps`), as a browser would draw it.
enum SVGRenderer {
    static func render(_ svg: String, to png: String) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["rsvg-convert", "--format", "png", "--output", png, svg]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: message, as: UTF8.self))
    }
}

func parseSVG(_ svg: String) throws -> SVGSeriesCollector {
    let parser = XMLParser(data: Data(svg.utf8))
    let collector = SVGSeriesCollector()
    parser.delegate = collector
    #expect(parser.parse(), "SVG is not well-formed XML: \(String(describing: parser.parserError))")
    return collector
}

@Suite struct PlotTests {
    @Test func plotHasSpeedupAndThroughputSeries() throws {
        let runner = ScriptedRunner()
        runner.wallNanoseconds = ["a": 2000, "b": 3000, "sequential": 1000]
        let p = plan(["sequential", "a", "b"], workers: [1, 2], sizes: [1000, 100_000], kernels: ["absdist.sum", "stream.sum"])
        let results = try BenchSweep(plan: p, runner: runner).run()
        let plot = BenchPlot(results: results)
        let svg = try parseSVG(plot.svg)
        #expect(svg.panels.count == 2)
        #expect(svg.panels[0].series == ["sequential", "a", "b", "ideal"])
        #expect(svg.panels[1].series == ["sequential (1 workers)", "a (2 workers)", "b (2 workers)", "bandwidth ceiling (stream.sum)"])
        // Speedup over sequential at the largest size: a takes 2000/w ns, sequential 1000.
        let a = try #require(plot.panels[0].series.first { $0.name == "a" })
        #expect(a.points.map(\.x) == [1, 2] && a.points.map(\.y) == [0.5, 1])
        // The ceiling is stream.sum's best throughput at each size.
        let ceiling = try #require(plot.panels[1].series.last)
        #expect(ceiling.dashed && ceiling.points.count == 2)
        #expect(svg.polylinePoints.allSatisfy { !$0.contains("nan") && !$0.contains("inf") })
    }

    @Test func namesAreEscaped() throws {
        let panel = PlotPanel(title: "a < b & \"c\"", xLabel: "x", yLabel: "y", logX: true,
                              series: [PlotSeries(name: "<engine>", points: [(x: 10, y: 1), (x: 1000, y: 2)])])
        let svg = try parseSVG(BenchPlot(panels: [panel]).svg)
        #expect(svg.panels.first?.title == "a < b & \"c\"" && svg.panels.first?.series == ["<engine>"])
    }

    @Test func emptyResultsStillGiveAValidDocument() throws {
        let svg = try parseSVG(BenchPlot(results: []).svg)
        #expect(svg.panels.isEmpty)
    }

    @Test func niceTicksCoverTheMaximum() {
        #expect(niceTicks(upTo: 7.3) == [0, 2, 4, 6, 8])
        #expect(niceTicks(upTo: 1) == [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1])
        #expect(formatCount(100_000) == "100k" && formatCount(Double(64 << 20)) == "64Mi")
    }

    @Test func benchWritesThePlotFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("plot-\(UUID().uuidString).svg").path
        defer { unlink(path) }
        let outcome = try CommandLineTool.run(["bench", "--sizes", "1000,8Ki", "--reps", "3", "--plot", path])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let svg = try parseSVG(try String(contentsOfFile: path, encoding: .utf8))
        #expect(svg.panels.count == 2 && svg.panels[1].series.contains("bandwidth ceiling (stream.sum)"))
    }
}
