import Foundation
import Payments
import Testing

@Suite("CaptureRequest coding")
struct CaptureRequestCodingTests {
    private let readmeBody = #"{"transaction_id": "tx_123456", "amount": 100.50, "currency": "BRL", "metadata": {"order_id": "order_12345", "customer_id": "cust_6789"}}"#

    @Test("Encoding uses the wire field names and omits nil metadata")
    func encodingShape() throws {
        var request = CaptureRequest(
            transactionID: "tx_1", amount: Amount(exactly: "100.50")!, currency: CurrencyCode("BRL")!)
        var data = try JSONEncoder().encode(request)
        #expect(try jsonKeys(data) == ["transaction_id", "amount", "currency"])
        #expect(String(decoding: data, as: UTF8.self).contains(#""amount":100.5"#))

        request.metadata = ["order_id": "o1"]
        data = try JSONEncoder().encode(request)
        #expect(try jsonKeys(data) == ["transaction_id", "amount", "currency", "metadata"])
    }

    @Test("The README body decodes with JSONDecoder and survives a round trip")
    func readmeRoundTrip() throws {
        let request = try JSONDecoder().decode(CaptureRequest.self, from: Data(readmeBody.utf8))
        #expect(request.transactionID == "tx_123456")
        #expect(request.amount == Amount(exactly: "100.50"))
        #expect(request.currency.code == "BRL")
        #expect(request.metadata == ["order_id": "order_12345", "customer_id": "cust_6789"])
        let again = try JSONDecoder().decode(CaptureRequest.self, from: JSONEncoder().encode(request))
        #expect(again == request)
    }
}
