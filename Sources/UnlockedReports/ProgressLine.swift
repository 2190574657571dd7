import Foundation
import UnlockedMeasurement

/// The one-line progress bar `bench` and `compare` redraw on a terminal:
/// `[##########----------]  50%  ETA 12 s`, or under a time budget
/// `[######--------------]  30%  9 s of at most 30 s, 14/21 cells done`.
///
/// The estimate assumes the remaining repetitions cost what the finished ones
/// did on average; it is shown once a few percent are done, not before. A
/// sweep repeating for precision cannot know how many it needs: it shows
/// the time spent against its budget instead.
public func progressLine(_ progress: SweepProgress, elapsedSeconds: Double, label: String, width: Int = 30) -> String {
    let fraction = progress.fraction
    let filled = Int((fraction * Double(width)).rounded(.down))
    let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
    var line = "\(label) [\(bar)] \(String(format: "%3d", Int(fraction * 100)))%"
    if let budget = progress.budgetSeconds {
        line += "  \(Int(elapsedSeconds)) s of at most \(Int(budget.rounded(.up))) s, \(progress.cellsDone)/\(progress.cells) cells done"
    } else if fraction >= 0.02 && fraction < 1 {
        let remaining = elapsedSeconds * (1 - fraction) / fraction
        line += remaining < 60 ? "  ETA \(Int(remaining.rounded(.up))) s" : "  ETA \(Int(remaining / 60)) min \(Int(remaining) % 60) s"
    }
    return line
}
