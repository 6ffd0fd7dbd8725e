import Operations
import Payments

/// What the HTTP layer needs from whatever carries captures to the processor and back: the
/// correlation registry captures go through, and whether they can be accepted now.
///
/// The Kafka gateway is the real one; unit tests of the HTTP layer give a registry a transport
/// of their own.
public protocol PaymentGateway: Sendable {
    var registry: CorrelationRegistry { get }

    /// Whether captures can be accepted now, and if not, why.
    var readiness: Readiness { get }
}
