import Testing
@testable import Unlocked

/// Expects `body` to throw an `UnlockedError` of `kind` whose one-line message
/// contains `fragment`: the kind decides the exit code, the message is what the
/// user reads, so both are checked, not only that something threw.
func expectError<Result>(_ kind: UnlockedError.Kind, containing fragment: String,
                         sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Result) {
    let error = #expect(throws: UnlockedError.self, sourceLocation: sourceLocation) { _ = try body() }
    guard let error else { return }
    #expect(error.kind == kind, "\(error.message)", sourceLocation: sourceLocation)
    #expect(error.message.contains(fragment), "message: \(error.message)", sourceLocation: sourceLocation)
    #expect(!error.message.contains("\n"), "one line: \(error.message)", sourceLocation: sourceLocation)
}
