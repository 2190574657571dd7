#if os(Linux)
import Foundation
import UnlockedCore
import UnlockedEngines
import UnlockedMeasurement

extension ContentionChunk {
    /// "1Ki", "per worker".
    public var label: String {
        switch self {
        case .elements(let count): formatCount(Double(count))
        case .perWorker: "per worker"
        }
    }
}

/// What `unlocked contention` prints: per regime (size, workers, chunk) every
/// engine's median time, the fastest and by how much over the runner-up, the
/// lock-free pool's time over the locked pool's, and the two pools' counters.
public struct ContentionReport: Sendable {
    public static let schema = "unlocked-contention/1"
    public var context: RunContext
    public var map: ContentionMap

    public init(context: RunContext, map: ContentionMap) {
        self.context = context
        self.map = map
    }

    package static let headers = ["size", "workers", "chunk"] + ContentionPlan.engines
        + ["fastest", "by", "lock-free ÷ locked", "locked-pool counters per job", "lockfree-pool counters per job"]

    package var rows: [[String]] {
        map.regimes.map { regime in
            let times = ContentionPlan.engines.map { engine in
                regime.results.first { $0.engine == engine }?.result.statistics.map { formatSeconds($0.median * 1e-9) } ?? "-"
            }
            let counters = [EngineKind.lockedPool, .lockfreePool].map { kind in
                regime.results.first { $0.engine == kind.rawValue }.map { Self.pressure($0.result) } ?? ""
            }
            return [formatCount(Double(regime.size)), workersLabel(regime.workers), chunkLabel(regime)] + times
                + [regime.winner ?? "-", regime.margin.map { String(format: "%.2f×", $0) } ?? "-",
                   regime.lockFreeOverLocked.map { String(format: "%.2f", $0) } ?? "-"] + counters
        }
    }

    /// "8 (4×)" for oversubscribed counts.
    private func workersLabel(_ workers: Int) -> String {
        workers > map.plan.allowedCPUs ? "\(workers) (\(workers / max(map.plan.allowedCPUs, 1))×)" : "\(workers)"
    }

    private func chunkLabel(_ regime: ContentionRegime) -> String {
        regime.chunk == .perWorker ? "\(formatCount(Double(regime.chunkElements))) (1/worker)" : regime.chunk.label
    }

    /// What a pool's threads spent waiting, in a few words: lock wait, time
    /// spinning and parked, chunks stolen, context switches (voluntary/involuntary).
    package static func pressure(_ result: CellResult) -> String {
        func time(_ counter: ContentionCounter) -> String? {
            result.contentionMedian(counter).map { formatSeconds($0 * 1e-9) }
        }
        var parts: [String] = []
        if let wait = time(.lockWaitNanoseconds) { parts.append("lock wait \(wait)") }
        if let spin = time(.spinNanoseconds) { parts.append("spin \(spin)") }
        if let parked = time(.parkedNanoseconds) { parts.append("parked \(parked)") }
        if let stolen = result.contentionMedian(.chunksStolen) { parts.append(String(format: "%.0f stolen", stolen)) }
        if let voluntary = result.contentionMedian(.voluntaryContextSwitches),
           let involuntary = result.contentionMedian(.involuntaryContextSwitches) {
            parts.append(String(format: "cs %.0f/%.0f", voluntary, involuntary))
        }
        return parts.joined(separator: ", ")
    }

    public var table: TextTable {
        TextTable(headers: Self.headers, rows: rows, rightAligned: Set(0..<(3 + ContentionPlan.engines.count + 3)))
    }

    public var text: String {
        let plan = map.plan
        let sizes = plan.sizes.map { "\(formatCount(Double($0))) (\(formatBytes(Double($0 * DType.i32.byteWidth))))" }
        return """
        \(context.cpuModel), \(context.topologySummary); allowed CPUs \(context.allowedCPUs)
        absdist.sum over i32 at \(sizes.joined(separator: " and ")); workers \(plan.workerCounts.map(String.init).joined(separator: ", ")) \
        (above \(plan.allowedCPUs) they share CPUs); pin \(ContentionPlan.pin), mem \(ContentionPlan.mem)
        median time per job, jobs back to back; \(repetitionSummary)
        fastest = lowest median, by = runner-up's median ÷ fastest's; lock-free ÷ locked below 1: the lock-free pool wins
        counters: medians per job summed over workers (cs = context switches voluntary/involuntary)
        \(table.text)
        """
    }

    private var repetitionSummary: String {
        switch map.plan.sweep.repetitions {
        case .count(let reps): "\(reps) reps per cell (--quick)"
        case .minTime(let seconds, _, _): "≥ \(seconds) s per cell"
        case .precision(let target):
            "each cell until its median is within ±\(formatPercent(target.relativeHalfWidth)) at 95%, at most \(target.budgetSeconds) s in all"
        }
    }

    public static let csvHeader = ["size_elements", "workers", "oversubscription_ratio", "chunk", "chunk_elements", "engine", "status",
                                   "median_ns", "fastest", "fastest_margin", "lockfree_over_locked"]
        + ContentionCounter.allCases.map { $0.rawValue + "_per_job" }

    /// One line per regime and engine.
    public var csv: String {
        var lines = [Self.csvHeader]
        for regime in map.regimes {
            for (engine, result) in regime.results {
                let head = ["\(regime.size)", "\(regime.workers)", "\(oversubscription(regime))", regime.chunk.label,
                            "\(regime.chunkElements)", engine, result.status == .ok ? "ok" : "failed"]
                let tail = [number(result.statistics?.median), regime.winner ?? "", number(regime.margin),
                            number(regime.lockFreeOverLocked)]
                lines.append(head + tail + ContentionCounter.allCases.map { number(result.contentionMedian($0)) })
            }
        }
        return lines.map(csvLine).joined(separator: "\n") + "\n"
    }

    private func oversubscription(_ regime: ContentionRegime) -> Double {
        Double(regime.workers) / Double(max(map.plan.allowedCPUs, 1))
    }

    public var jsonObject: [String: Any] {
        let plan = map.plan
        var parameters: [String: Any] = [
            "kernel": "absdist.sum", "dtype": "i32", "engines": ContentionPlan.engines, "sizes_elements": plan.sizes,
            "workers": plan.workerCounts, "chunks": ContentionPlan.chunks.map(\.label), "pin": ContentionPlan.pin,
            "mem": ContentionPlan.mem, "seed": plan.sweep.seed, "warmup_reps": plan.sweep.warmup,
            "batch_target_ns": plan.sweep.visits.batchNanoseconds,
        ]
        switch plan.sweep.repetitions {
        case .count(let reps): parameters["reps"] = reps
        case .minTime(let seconds, _, _): parameters["min_time_s"] = seconds
        case .precision(let target):
            parameters["precision_target_half_width_over_median"] = target.relativeHalfWidth
            parameters["max_time_s"] = target.budgetSeconds
        }
        return [
            "schema": Self.schema,
            "tool": ["name": "unlocked", "version": BuildInfo.version, "git_commit": BuildInfo.gitCommit],
            "context": context.jsonObject,
            "parameters": parameters,
            "regimes": map.regimes.map { regime -> [String: Any] in
                var object: [String: Any] = [
                    "size_elements": regime.size, "workers": regime.workers, "oversubscription_ratio": oversubscription(regime),
                    "chunk": regime.chunk.label, "chunk_elements": regime.chunkElements,
                    "fastest": regime.winner.map { $0 as Any } ?? NSNull(),
                    "fastest_margin": regime.margin.map { $0 as Any } ?? NSNull(),
                    "lockfree_over_locked": regime.lockFreeOverLocked.map { $0 as Any } ?? NSNull(),
                ]
                object["engines"] = Dictionary(uniqueKeysWithValues: regime.results.map { engine, result -> (String, Any) in
                    var cell: [String: Any] = ["status": result.status == .ok ? "ok" : "failed", "contention_per_job": result.contentionObject]
                    if case .failed(let reason) = result.status { cell["error"] = reason }
                    if let statistics = result.statistics { cell["statistics"] = statistics.jsonObject }
                    if let value = result.value { cell["result"] = "\(value)" }
                    return (engine, cell)
                })
                return object
            },
        ]
    }
}

/// `unlocked contention --plot`: one heatmap per size, chunk size across and
/// workers up, each square coloured by the lock-free pool's median time over
/// the locked pool's on a log scale (blue: lock-free faster, red: locked
/// faster, white: even), with the ratio written in it and a colour legend.
public struct ContentionPlot: Sendable {
    public var map: ContentionMap

    public init(map: ContentionMap) { self.map = map }

    private static let square = 86.0, panelGap = 70.0, left = 110.0, top = 106.0
    /// The colour scale spans 1/16× to 16× (clamped beyond).
    private static let extent = 4.0  // log2

    /// The colour of `ratio`: white at 1, saturating to blue below and red above.
    package static func color(_ ratio: Double) -> String {
        let t = max(-1, min(1, log2(ratio) / extent))
        let (r, g, b) = t < 0 ? (1 + t * 0.85, 1 + t * 0.55, 1.0) : (1.0, 1 - t * 0.75, 1 - t * 0.8)
        return String(format: "#%02x%02x%02x", Int(r * 255), Int(g * 255), Int(b * 255))
    }

    public var svg: String {
        let plan = map.plan
        let columns = ContentionPlan.chunks.count, rows = plan.workerCounts.count
        let panelWidth = Double(columns) * Self.square
        let width = Self.left + Double(plan.sizes.count) * (panelWidth + Self.panelGap) + 40
        let gridBottom = Self.top + Double(rows) * Self.square
        let height = gridBottom + 150
        var out = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="20" y="28" font-size="16" font-weight="bold">\(xmlEscaped("Lock-free ÷ locked pool: median time per job, absdist.sum over i32"))</text>
        <text x="20" y="48" fill="#444444">\(xmlEscaped("lockfree-pool time ÷ locked-pool time: below 1 (blue) the lock-free pool is faster. \(plan.allowedCPUs) allowed CPUs."))</text>
        <text x="20" y="64" fill="#444444">\(xmlEscaped("Each square names the fastest of \(ContentionPlan.engines.joined(separator: ", "))."))</text>

        """
        for (index, size) in plan.sizes.enumerated() {
            let originX = Self.left + Double(index) * (panelWidth + Self.panelGap)
            let title = "\(formatCount(Double(size))) elements (\(formatBytes(Double(size * DType.i32.byteWidth))))"
            out += "<g class=\"panel\" data-title=\"\(xmlEscaped(title))\">\n"
            out += "<text x=\"\(f(originX + panelWidth / 2))\" y=\"\(f(Self.top - 14))\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">\(xmlEscaped(title))</text>\n"
            for (row, workers) in plan.workerCounts.enumerated() {
                // Most workers at the top.
                let y = Self.top + Double(rows - 1 - row) * Self.square
                if index == 0 {
                    let label = workers > plan.allowedCPUs ? "\(workers) (\(workers / max(plan.allowedCPUs, 1))×)" : "\(workers)"
                    out += "<text x=\"\(f(originX - 10))\" y=\"\(f(y + Self.square / 2 + 4))\" text-anchor=\"end\">\(xmlEscaped(label))</text>\n"
                }
                for (column, chunk) in ContentionPlan.chunks.enumerated() {
                    let x = originX + Double(column) * Self.square
                    let regime = map.regimes.first { $0.size == size && $0.workers == workers && $0.chunk == chunk }
                    let ratio = regime?.lockFreeOverLocked
                    let fill = ratio.map(Self.color) ?? "#dddddd"
                    out += "<rect class=\"cell\" x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(Self.square))\" height=\"\(f(Self.square))\" fill=\"\(fill)\" stroke=\"white\" stroke-width=\"2\"/>\n"
                    out += "<text x=\"\(f(x + Self.square / 2))\" y=\"\(f(y + Self.square / 2 - 2))\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">\(ratio.map { String(format: "%.2f", $0) } ?? "–")</text>\n"
                    if let winner = regime?.winner {
                        out += "<text x=\"\(f(x + Self.square / 2))\" y=\"\(f(y + Self.square / 2 + 16))\" text-anchor=\"middle\" font-size=\"10\" fill=\"#333333\">\(xmlEscaped(winner))</text>\n"
                    }
                }
            }
            for (column, chunk) in ContentionPlan.chunks.enumerated() {
                out += "<text x=\"\(f(originX + (Double(column) + 0.5) * Self.square))\" y=\"\(f(gridBottom + 18))\" text-anchor=\"middle\">\(xmlEscaped(chunk.label))</text>\n"
            }
            out += "<text x=\"\(f(originX + panelWidth / 2))\" y=\"\(f(gridBottom + 38))\" text-anchor=\"middle\">elements per chunk</text>\n"
            out += "</g>\n"
        }
        out += "<text transform=\"translate(24,\(f((Self.top + gridBottom) / 2))) rotate(-90)\" text-anchor=\"middle\">workers (× allowed CPUs)</text>\n"
        out += legend(x: Self.left, y: gridBottom + 70)
        return out + "</svg>\n"
    }

    /// The colour scale as a strip of steps from 1/16 to 16 with ticks at the powers of 4.
    private func legend(x: Double, y: Double) -> String {
        let width = 420.0, steps = 32
        var out = "<g class=\"legend\">\n"
        out += "<text x=\"\(f(x))\" y=\"\(f(y - 8))\">lock-free time ÷ locked time (log scale; clamped beyond 1/16 and 16)</text>\n"
        for step in 0..<steps {
            let ratio = pow(2, -Self.extent + 2 * Self.extent * (Double(step) + 0.5) / Double(steps))
            out += "<rect x=\"\(f(x + Double(step) * width / Double(steps)))\" y=\"\(f(y))\" width=\"\(f(width / Double(steps) + 0.5))\" height=\"16\" fill=\"\(Self.color(ratio))\"/>\n"
        }
        out += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(width))\" height=\"16\" fill=\"none\" stroke=\"#888888\"/>\n"
        for (exponent, label) in [(-4.0, "1/16"), (-2, "1/4"), (0, "1"), (2, "4"), (4, "16")] {
            let tickX = x + (exponent + Self.extent) / (2 * Self.extent) * width
            out += "<line x1=\"\(f(tickX))\" y1=\"\(f(y + 16))\" x2=\"\(f(tickX))\" y2=\"\(f(y + 21))\" stroke=\"black\"/>\n"
            out += "<text x=\"\(f(tickX))\" y=\"\(f(y + 34))\" text-anchor=\"middle\">\(label)×</text>\n"
        }
        out += "<text x=\"\(f(x))\" y=\"\(f(y + 52))\" fill=\"#1f4fa8\">◀ lock-free faster</text>\n"
        out += "<text x=\"\(f(x + width))\" y=\"\(f(y + 52))\" text-anchor=\"end\" fill=\"#b03a2e\">locked faster ▶</text>\n"
        return out + "</g>\n"
    }

    private func f(_ value: Double) -> String { svgNumber(value) }
}
#endif
