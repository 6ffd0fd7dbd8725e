import JSONText
import Payments

/// The body of a 202: a capture under way whose verdict is not known yet, and where to ask for
/// it.
struct PendingCapture: WireEncodable, Encodable {
    let correlationID: CorrelationID
    let statusURL: String

    init(correlationID: CorrelationID, statusURL: String? = nil) {
        self.correlationID = correlationID
        self.statusURL = statusURL ?? CaptureOutcome.statusPath(correlationID)
    }

    private enum CodingKeys: String, CodingKey {
        case correlationID = "correlation_id", status, statusURL = "status_url"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(correlationID, forKey: .correlationID)
        try container.encode("pending", forKey: .status)
        try container.encode(statusURL, forKey: .statusURL)
    }

    func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.member("correlation_id", correlationID.rawValue)
        writer.member("status", "pending")
        writer.member("status_url", statusURL)
        writer.endObject()
    }
}
