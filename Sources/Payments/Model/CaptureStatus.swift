/// The outcome a processor reported for a capture.
///
/// Processors may add statuses we have never seen; `other` carries them through unchanged
/// instead of failing to decode the whole reply and leaving the caller waiting for a timeout.
public enum CaptureStatus: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The capture went through.
    case approved
    /// The processor refused the capture.
    case declined
    /// The request's deadline had passed before the processor got to it, so it was not
    /// processed at all: nothing was captured.
    case expired
    /// The processor failed to handle the request (its own fault, not a refusal).
    case error
    /// Any other status text, kept verbatim.
    case other(String)

    /// Maps the wire text to a case, so `"approved"` never ends up as `.other("approved")`.
    public init(_ text: String) {
        switch text {
        case "approved": self = .approved
        case "declined": self = .declined
        case "expired": self = .expired
        case "error": self = .error
        default: self = .other(text)
        }
    }

    /// The wire text, e.g. `approved`.
    public var text: String {
        switch self {
        case .approved: "approved"
        case .declined: "declined"
        case .expired: "expired"
        case .error: "error"
        case .other(let text): text
        }
    }

    /// The wire text.
    public var description: String { text }

    /// Whether this is a verdict on the payment (approved or declined), as opposed to a
    /// statement that it was not processed or could not be.
    public var isVerdict: Bool { self == .approved || self == .declined }

    /// Compares wire text, so a hand-built `.other("approved")` still equals `.approved`.
    public static func == (lhs: CaptureStatus, rhs: CaptureStatus) -> Bool {
        lhs.text == rhs.text
    }

    /// Hashes the wire text, consistent with `==`.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(text)
    }

    /// Decodes from a JSON string; unknown text becomes `.other`.
    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    /// Encodes as the wire text.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}
