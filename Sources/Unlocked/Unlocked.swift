// The library product embedders import: one module that re-exports every
// layer's public API, as swift-nio's `NIO` re-exports NIOCore and NIOPosix.
// The layers are separate targets so a wrong-way import does not compile;
// see README.md, "Architecture".
@_exported import UnlockedCore
@_exported import UnlockedTopology
@_exported import UnlockedKernels
@_exported import UnlockedEngines
@_exported import UnlockedMeasurement
@_exported import UnlockedReports
