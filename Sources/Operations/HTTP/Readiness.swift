/// Whether a component can do its work now, and if not, why (for operators: health endpoint,
/// logs).
public enum Readiness: Sendable, Hashable {
    case ready
    case notReady(reason: String)

    public var isReady: Bool { self == .ready }
}
