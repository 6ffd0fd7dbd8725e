import Foundation
import Payments
import Testing

@Suite("CaptureRequestDecoder accepts valid bodies")
struct CaptureRequestDecoderTests {
    @Test("The README example decodes exactly")
    func readmeExample() throws {
        let body = #"{"transaction_id": "tx_123456", "amount": 100.50, "currency": "BRL", "metadata": {"order_id": "order_12345", "customer_id": "cust_6789"}}"#
        let request = try CaptureRequestDecoder.decode(Data(body.utf8))
        #expect(request.transactionID == "tx_123456")
        #expect(request.amount == Amount(exactly: "100.50"))
        #expect(request.amount.description == "100.5")
        #expect(request.currency == CurrencyCode("BRL"))
        #expect(request.metadata == ["order_id": "order_12345", "customer_id": "cust_6789"])
    }

    @Test("Metadata is optional and null means absent")
    func metadataOptional() throws {
        #expect(try CaptureRequestDecoder.decode(Array(requestBody().utf8)).metadata == nil)
        #expect(try CaptureRequestDecoder.decode(Array(requestBody(metadata: "null").utf8)).metadata == nil)
        #expect(try CaptureRequestDecoder.decode(Array(requestBody(metadata: "{}").utf8)).metadata == [:])
    }

    @Test("Unknown fields are ignored, even ones JSONDecoder could not read")
    func unknownFieldsIgnored() throws {
        let body = requestBody(extra: #""channel": "web", "nested": {"a": [1, 2.5, true, null]}, "huge": 1e400"#)
        let request = try CaptureRequestDecoder.decode(Array(body.utf8))
        #expect(request.transactionID == "tx_123456")
    }

    @Test(
        "Amounts are read from their exact digits",
        arguments: [
            ("100.50", "BRL", "100.5"), ("0.1", "BRL", "0.1"), ("12345678901.99", "BRL", "12345678901.99"),
            ("999999999999.99", "BRL", "999999999999.99"), ("1500", "JPY", "1500"), ("1.234", "BHD", "1.234"),
            ("1.2345", "CLF", "1.2345"), ("1.005e2", "BRL", "100.5"), ("1E+3", "JPY", "1000"),
            ("150.00", "JPY", "150"), ("0.01", "BRL", "0.01"),
        ])
    func exactAmounts(json: String, currency: String, expected: String) throws {
        let request = try CaptureRequestDecoder.decode(Array(requestBody(amount: json, currency: quoted(currency)).utf8))
        #expect(request.amount.description == expected)
        #expect(request.amount == Amount(exactly: expected))
    }

    @Test("Limits are inclusive")
    func boundaries() throws {
        let longKey = String(repeating: "k", count: 64)
        let longValue = String(repeating: "v", count: 512)
        let body = requestBody(
            transactionID: quoted(String(repeating: "t", count: 128)),
            metadata: "{\"\(longKey)\": \"\(longValue)\"}")
        let request = try CaptureRequestDecoder.decode(Array(body.utf8))
        #expect(request.transactionID.count == 128)
        #expect(request.metadata?[longKey] == longValue)
        #expect(try CaptureRequestDecoder.decode(Array(requestBody(metadata: metadataObject(count: 50)).utf8)).metadata?.count == 50)
    }

    @Test("String escapes, including surrogate pairs, decode to the same text as JSONDecoder")
    func escapes() throws {
        let body = requestBody(transactionID: #""tx_\u00e7\ud83d\ude00\/\"q\"""#, metadata: #"{"n\u00e3o": "a\\b"}"#)
        let request = try CaptureRequestDecoder.decode(Array(body.utf8))
        #expect(request.transactionID == "tx_ç😀/\"q\"")
        #expect(request.metadata == ["não": "a\\b"])
        #expect(try JSONDecoder().decode(CaptureRequest.self, from: Data(body.utf8)) == request)
    }

    @Test("A repeated key is refused as duplicate_field, at any level: which value counts would be ambiguous")
    func duplicateKeys() throws {
        for body in [
            #"{"transaction_id": "t", "amount": 1, "currency": "BRL", "amount": 1000}"#,
            #"{"transaction_id": "t", "amount": 1, "currency": "BRL", "metadata": {"k": "1", "k": "2"}}"#,
        ] {
            #expect(throws: CaptureValidationError.self) { try CaptureRequestDecoder.decode(Array(body.utf8)) }
            do {
                _ = try CaptureRequestDecoder.decode(Array(body.utf8))
            } catch {
                #expect(error.code == "duplicate_field")
                #expect(error.field == "amount" || error.field == "k")
            }
        }
    }

    @Test("A repeated key is found in large objects too, past the members the parser scans in place", arguments: [3, 16, 17, 40])
    func duplicateKeyInLargeObject(position: Int) throws {
        let keys = (0..<45).map { "key\($0)" }
        var entries = keys.map { #""\#($0)": "v""# }
        entries.insert(#""\#(keys[position])": "again""#, at: position + 1 + (position % 3))
        let body = #"{"transaction_id": "t", "amount": 1, "currency": "BRL", "metadata": {\#(entries.joined(separator: ", "))}}"#
        do {
            _ = try CaptureRequestDecoder.decode(Array(body.utf8))
            Issue.record("a repeated metadata key was accepted")
        } catch {
            #expect(error.code == "duplicate_field")
            #expect(error.field == keys[position])
        }
        let unique = #"{"transaction_id": "t", "amount": 1, "currency": "BRL", "metadata": {\#(keys.map { #""\#($0)": "v""# }.joined(separator: ", "))}}"#
        #expect(try CaptureRequestDecoder.decode(Array(unique.utf8)).metadata?.count == 45)
    }

    @Test("Surrounding whitespace and a UTF-8 byte order mark are tolerated")
    func whitespaceAndBOM() throws {
        let body = " \n\t" + requestBody() + "\r\n "
        #expect(try CaptureRequestDecoder.decode(Array(body.utf8)).transactionID == "tx_123456")
        #expect(try CaptureRequestDecoder.decode([0xEF, 0xBB, 0xBF] + Array(requestBody().utf8)).currency.code == "BRL")
    }
}
