/// A run of mapped pages: what memory placement (`apply`, `adviseHugePages`)
/// and its verification (`pageLocations`) act on. Both the benchmark's
/// private buffers and the engines' job buffers (private or shared) are one,
/// so a run places the very memory its workers read.
public protocol MappedMemory: AnyObject {
    var base: UnsafeMutableRawPointer { get }
    var byteCount: Int { get }
}

extension AlignedBuffer: MappedMemory {}

extension JobBuffer: MappedMemory {}
