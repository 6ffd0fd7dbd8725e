/// Names of the Kafka record headers DemoSync reads and writes.
///
/// The original contract carries the correlation id only as the record key; processors written
/// against it keep working because the key is still set. The headers add what a key cannot say.
public enum PaymentHeaders {
    /// The correlation id again, so that tooling and processors need not parse keys or bodies.
    /// A processor echoes it on its reply.
    public static let correlationID = "correlation-id"
    /// The body's media type.
    public static let contentType = "content-type"
}
