import Payments
import Testing

@Suite("CaptureRequestValidator on typed requests")
struct CaptureRequestValidatorTests {
    private func request(
        transactionID: String = "tx_1", amount: String = "100.50", currency: String = "BRL", metadata: [String: String]? = nil
    ) -> CaptureRequest {
        CaptureRequest(
            transactionID: transactionID, amount: Amount(exactly: amount)!, currency: CurrencyCode(currency)!,
            metadata: metadata)
    }

    private func validationError(_ request: CaptureRequest) -> CaptureValidationError? {
        do {
            try CaptureRequestValidator.validate(request)
            return nil
        } catch {
            return error
        }
    }

    @Test("A valid request passes")
    func validPasses() {
        #expect(validationError(request(metadata: ["order_id": "o1"])) == nil)
        #expect(validationError(request(amount: "999999999999.99")) == nil)
    }

    @Test("Typed requests get the same codes as JSON bodies")
    func sameRulesAsDecoder() {
        typealias Code = CaptureValidationError.Code
        #expect(validationError(request(transactionID: " "))?.code == Code.emptyField)
        #expect(validationError(request(transactionID: "a\u{7}"))?.code == Code.invalidTransactionID)
        #expect(validationError(request(amount: "-3"))?.code == Code.invalidAmount)
        #expect(validationError(request(amount: "0"))?.code == Code.invalidAmount)
        #expect(validationError(request(amount: "1000000000000"))?.code == Code.amountTooLarge)
        #expect(validationError(request(amount: "100.505"))?.code == Code.amountTooPrecise)
        #expect(validationError(request(amount: "1.5", currency: "JPY"))?.code == Code.amountTooPrecise)
        #expect(validationError(request(metadata: ["": "x"]))?.code == Code.invalidMetadata)
        let tooMany = Dictionary(uniqueKeysWithValues: (0..<51).map { ("k\($0)", "v") })
        #expect(validationError(request(metadata: tooMany))?.code == Code.invalidMetadata)
        let longValue = validationError(request(metadata: ["note": String(repeating: "v", count: 513)]))
        #expect(longValue?.code == Code.invalidMetadata)
        #expect(longValue?.field == "metadata.note")
    }

    @Test("The published maximum is 10^12 - 0.01")
    func maximum() {
        #expect(CaptureRequestValidator.maximumAmount == Amount(exactly: "999999999999.99"))
    }
}
