import CKernels

/// The tool's identity, recorded in every JSON report.
public enum BuildInfo {
    public static let version = "0.1.0"
    /// The commit the binary was built from, embedded by `make` at build
    /// time; "unknown" for a plain `swift build`. Asking `git` at run time
    /// would describe whatever directory the user stands in, not the binary.
    public static let gitCommit = String(cString: uk_build_commit())
}
