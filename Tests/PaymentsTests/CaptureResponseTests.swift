import Foundation
import Payments
import PaymentsWire
import Testing

@Suite("CaptureResponse")
struct CaptureResponseTests {
    private let id = CorrelationID(validating: "550e8400-e29b-41d4-a716-446655440000")!

    @Test("An approval encodes exactly the README's keys, without error fields")
    func approvedShape() throws {
        let response = CaptureResponse.approved(correlationID: id, transactionID: "tx_123456", authorizationCode: "123456")
        let data = try JSONEncoder().encode(response)
        #expect(try jsonKeys(data) == ["correlation_id", "transaction_id", "status", "authorization_code"])
        #expect(try jsonString(data, "status") == "approved")
        #expect(try jsonString(data, "authorization_code") == "123456")
        #expect(try jsonString(data, "correlation_id") == id.rawValue)
        #expect(!String(decoding: data, as: UTF8.self).contains("null"))
    }

    @Test("A decline encodes exactly the README's keys with the original default texts")
    func declinedShape() throws {
        let response = CaptureResponse.declined(correlationID: id, transactionID: "tx_123456")
        let data = try JSONEncoder().encode(response)
        #expect(try jsonKeys(data) == ["correlation_id", "transaction_id", "status", "error_code", "error_message"])
        #expect(try jsonString(data, "status") == "declined")
        #expect(try jsonString(data, "error_code") == "payment_declined")
        #expect(try jsonString(data, "error_message") == "Pagamento recusado pela operadora")
    }

    @Test("The README's response bodies decode")
    func decodesReadmeBodies() throws {
        let approved = #"{"correlation_id": "550e8400-e29b-41d4-a716-446655440000", "transaction_id": "tx_123456", "status": "approved", "authorization_code": "123456"}"#
        let declined = #"{"correlation_id": "550e8400-e29b-41d4-a716-446655440000", "transaction_id": "tx_123456", "status": "declined", "error_code": "payment_declined", "error_message": "Pagamento recusado pela operadora"}"#
        #expect(
            try JSONDecoder().decode(CaptureResponse.self, from: Data(approved.utf8))
                == .approved(correlationID: id, transactionID: "tx_123456", authorizationCode: "123456"))
        #expect(
            try JSONDecoder().decode(CaptureResponse.self, from: Data(declined.utf8))
                == .declined(correlationID: id, transactionID: "tx_123456"))
    }

    @Test("An unknown status decodes as .other and encodes back unchanged")
    func unknownStatus() throws {
        let body = #"{"correlation_id": "abc-1", "transaction_id": "tx_1", "status": "error", "error_code": "boom"}"#
        let response = try JSONDecoder().decode(CaptureResponse.self, from: Data(body.utf8))
        #expect(response.status == .other("error"))
        #expect(response.errorCode == "boom")
        #expect(response.authorizationCode == nil)
        let data = try JSONEncoder().encode(response)
        #expect(try jsonString(data, "status") == "error")
        #expect(try jsonKeys(data) == ["correlation_id", "transaction_id", "status", "error_code"])
    }

    @Test("A status is identified by its text however it was built")
    func statusText() {
        #expect(CaptureStatus("approved") == .approved)
        #expect(CaptureStatus("declined") == .declined)
        #expect(CaptureStatus("pending") == .other("pending"))
        #expect(CaptureStatus.other("approved") == .approved)
        #expect(Set([CaptureStatus.other("declined")]).contains(.declined))
        #expect(CaptureStatus.approved != .declined)
        #expect(CaptureStatus.other("x").text == "x")
    }

    @Test("A reply with an invalid correlation id is refused")
    func invalidCorrelationID() {
        let body = #"{"correlation_id": "", "transaction_id": "tx_1", "status": "approved"}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(CaptureResponse.self, from: Data(body.utf8)) }
    }
}

@Suite("Hand-written wire JSON")
struct WireEncodingTests {
    private func encoderJSON(_ value: some Encodable) throws -> String {
        String(decoding: try WireJSON.encode(value), as: UTF8.self)
    }

    @Test("a capture answer is written exactly as JSONEncoder with sorted keys writes it")
    func responses() throws {
        let id = CorrelationID.random()
        let responses: [CaptureResponse] = [
            .approved(correlationID: id, transactionID: "tx_1", authorizationCode: "123456"),
            .declined(correlationID: id, transactionID: "tx \"quoted\" \\ back/slash\n\ttab ção 😀"),
            .expired(correlationID: id, transactionID: "tx_\u{01}control"),
        ]
        for response in responses {
            #expect(String(decoding: response.jsonBytes, as: UTF8.self) == (try encoderJSON(response)))
            #expect(try JSONDecoder().decode(CaptureResponse.self, from: Data(response.jsonBytes)) == response)
        }
    }

    @Test("a request record's value decodes back to the same request, amount exact")
    func requests() throws {
        let request = CaptureRequest(
            transactionID: "tx_2", amount: Amount(exactly: "100.50")!, currency: CurrencyCode("BRL")!,
            metadata: ["b": "2", "a": "1 \"x\"", "ç": "é"])
        let message = PaymentRequestMessage(correlationID: .random(), request: request)
        #expect(String(decoding: message.jsonBytes, as: UTF8.self) == (try encoderJSON(message)))
        let decoded = try JSONDecoder().decode(PaymentRequestMessage.self, from: Data(message.jsonBytes))
        #expect(decoded == message)
        #expect(decoded.amount == Amount(exactly: "100.5"))
    }
}
