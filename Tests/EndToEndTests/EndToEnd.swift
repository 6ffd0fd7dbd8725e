import Testing

/// Every end-to-end suite runs inside this one, one test at a time: each starts a broker and
/// several `demosync` processes, and on two cores running them side by side only measures the
/// machine.
@Suite("End to end", .serialized)
struct EndToEnd {}
