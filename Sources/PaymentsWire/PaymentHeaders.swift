/// Names of the Kafka record headers DemoSync reads and writes.
///
/// The original contract carries the correlation id only as the record key; processors written
/// against it keep working because the key is still set and every header is optional. The
/// headers add what a key cannot say.
public enum PaymentHeaders {
    /// The correlation id again, so that tooling and processors need not parse keys or bodies.
    /// A processor echoes it on its reply.
    public static let correlationID = "correlation-id"
    /// The body's media type.
    public static let contentType = "content-type"
    /// When the requester stops waiting, in milliseconds since the Unix epoch. A processor must
    /// not start on a request after its deadline; it answers `expired` instead.
    public static let deadline = "deadline"
    /// The topic to reply on, when it is not the default reply topic.
    public static let replyTopic = "reply-topic"
    /// The partition of the reply topic to reply on, when the requester owns one.
    public static let replyPartition = "reply-partition"
    /// The key that names the capture for idempotency; echoed on the reply.
    public static let idempotencyKey = "idempotency-key"
    /// `error` when the processor failed to handle the request (its body then carries
    /// `error_code` and `error_message`); absent or `ok` otherwise.
    public static let processorStatus = "processor-status"
    /// Which `serve` process produced the request: an id drawn at its start. A replica reading
    /// the request topic back skips its own records (it knows them already) without decoding
    /// them. Processors ignore it.
    public static let senderID = "sender-id"
}
