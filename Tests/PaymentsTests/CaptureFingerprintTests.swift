import Payments
import Testing

@Suite("CaptureFingerprint")
struct CaptureFingerprintTests {
    private func request(transactionID: String = "tx_1", amount: String = "100.50", currency: String = "BRL", metadata: [String: String]? = nil) -> CaptureRequest {
        CaptureRequest(transactionID: transactionID, amount: Amount(exactly: amount)!, currency: CurrencyCode(currency)!, metadata: metadata)
    }

    @Test("Each part is prefixed by its UTF-8 length, metadata in key order")
    func format() {
        #expect(CaptureFingerprint.of(request()) == "4:tx_15:100.53:BRL")
        #expect(CaptureFingerprint.of(request(metadata: ["b": "2", "a": "1"])) == "4:tx_15:100.53:BRL3:a=13:b=2")
        #expect(CaptureFingerprint.of(request(transactionID: "pão", metadata: ["café": "☕️"])) == "4:pão5:100.53:BRL12:café=☕️")
    }

    @Test("The same request is the same fingerprint whatever the amount's spelling, and a different one is not")
    func sameAndDifferent() {
        #expect(CaptureFingerprint.of(request(amount: "100.5")) == CaptureFingerprint.of(request(amount: "100.50")))
        #expect(CaptureFingerprint.of(request(amount: "100.51")) != CaptureFingerprint.of(request()))
        #expect(CaptureFingerprint.of(request(metadata: ["a": "1"])) != CaptureFingerprint.of(request(metadata: ["a": "2"])))
        #expect(CaptureFingerprint.of(request(metadata: ["a": "1"])) != CaptureFingerprint.of(request(metadata: ["b": "1"])))
    }

    @Test("A key holding '=' cannot make two entries read alike")
    func equalsInKey() {
        // As one `key=value` part each, these two were both `5:a=b=c`.
        let valueHolds = CaptureFingerprint.of(request(metadata: ["a": "b=c"]))
        let keyHolds = CaptureFingerprint.of(request(metadata: ["a=b": "c"]))
        #expect(valueHolds != keyHolds)
        #expect(valueHolds == "4:tx_15:100.53:BRL5:a=b=c", "a key without '=' keeps the fingerprint it always had")
        #expect(keyHolds == "4:tx_15:100.53:BRL=3:a=b1:c")
        #expect(CaptureFingerprint.of(request(metadata: ["a=": "b"])) != CaptureFingerprint.of(request(metadata: ["a": "=b"])))
    }
}
