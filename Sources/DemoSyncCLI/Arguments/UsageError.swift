/// A mistake in the command line or in the environment variables that stand for it. The
/// process prints it with a pointer to `--help` and exits with code 2.
public struct UsageError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    /// The command whose help to point at.
    public let command: String?

    public init(_ message: String, command: String? = nil) {
        self.message = message
        self.command = command
    }

    public var description: String { message }
}
