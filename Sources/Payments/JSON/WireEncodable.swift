import JSONText

/// A document DemoSync writes on every capture, encoded by hand: the same JSON as
/// `JSONEncoder` with sorted keys would write (a test holds them to it), at a fraction of the
/// cost.
public protocol WireEncodable {
    func write(to writer: inout JSONWriter)
}

extension WireEncodable {
    /// The JSON bytes.
    public var jsonBytes: [UInt8] {
        var writer = JSONWriter()
        write(to: &writer)
        return writer.bytes
    }
}

extension CaptureResponse: WireEncodable {
    public func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.member("authorization_code", authorizationCode)
        writer.member("correlation_id", correlationID.rawValue)
        writer.member("error_code", errorCode)
        writer.member("error_message", errorMessage)
        writer.member("status", status.text)
        writer.member("transaction_id", transactionID)
        writer.endObject()
    }
}

extension APIErrorBody: WireEncodable {
    public func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.member("correlation_id", correlationID)
        writer.member("error_code", errorCode)
        writer.member("error_message", errorMessage)
        writer.member("field", field)
        writer.member("status_url", statusURL)
        writer.endObject()
    }
}
