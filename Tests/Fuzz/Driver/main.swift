// The libFuzzer entry point of `make fuzz`. The target exists only when
// UNLOCKED_FUZZ is set and links only with -sanitize=fuzzer, which supplies
// main(). UNLOCKED_FUZZ_HARNESS names the harness this process fuzzes.
import Foundation
import UnlockedFuzzHarnesses

let harness: FuzzHarness = {
    let name = getenv("UNLOCKED_FUZZ_HARNESS").map { String(cString: $0) } ?? ""
    guard let harness = FuzzHarness(rawValue: name) else {
        let accepted = FuzzHarness.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("unlocked-fuzz: UNLOCKED_FUZZ_HARNESS='\(name)' is not a harness (accepted: \(accepted))\n".utf8))
        exit(64)
    }
    return harness
}()

/// A broken promise becomes a crash, so libFuzzer saves the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    do { try harness.run(UnsafeRawBufferPointer(start: data, count: size)) } catch { fatalError("\(harness.rawValue): \(error)") }
    return 0
}
