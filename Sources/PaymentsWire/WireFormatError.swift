/// A record that does not follow the wire contract.
public struct WireFormatError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
