import Foundation
import Payments
import Testing

@Suite("Amount")
struct AmountTests {
    private func decodeAmounts(_ json: String) throws -> [Amount] {
        try JSONDecoder().decode([Amount].self, from: Data(json.utf8))
    }

    @Test("JSON numbers decode exactly, and survive encode then decode unchanged")
    func jsonRoundTripIsExact() throws {
        let decoded = try decodeAmounts("[100.50, 0.1, 12345678901.99]")
        #expect(decoded.map(\.description) == ["100.5", "0.1", "12345678901.99"])
        #expect(decoded == ["100.50", "0.1", "12345678901.99"].map { Amount(exactly: $0)! })

        let encoded = try JSONEncoder().encode(decoded)
        #expect(String(decoding: encoded, as: UTF8.self) == "[100.5,0.1,12345678901.99]")
        #expect(try JSONDecoder().decode([Amount].self, from: encoded) == decoded)
    }

    @Test("Decimal arithmetic has no binary floating point error")
    func noFloatingPointError() throws {
        let parts = try decodeAmounts("[0.1, 0.2, 0.3]")
        #expect(parts[0].decimalValue + parts[1].decimalValue == parts[2].decimalValue)
        // The failure this type exists to prevent: the same sum in Double is off.
        #expect(0.1 + 0.2 != 0.3 as Double)
    }

    @Test("Parsing text equals decoding the same JSON number")
    func exactTextMatchesJSON() throws {
        let decoded = try decodeAmounts("[100.50]")[0]
        #expect(Amount(exactly: "100.50") == decoded)
        #expect(Amount(exactly: "100.50")?.decimalValue == Decimal(string: "100.5"))
    }

    @Test("Strict text parsing accepts plain decimals, including negatives for validation to refuse")
    func exactAcceptsPlainDecimals() {
        #expect(Amount(exactly: "100")?.description == "100")
        #expect(Amount(exactly: "007.50")?.description == "7.5")
        #expect(Amount(exactly: "-3")?.description == "-3")
        #expect(Amount(exactly: "-3")?.isPositive == false)
        #expect(Amount(exactly: String(repeating: "9", count: 38)) != nil)
    }

    @Test(
        "Strict text parsing rejects anything but -?digits(.digits)?",
        arguments: ["", "abc", "1.", ".5", "1e5", "+1", " 1", "1 ", "1,5", "12abc", "1.2.3", "--1", "-", "0x10", "１２"])
    func exactRejectsOtherText(text: String) {
        #expect(Amount(exactly: text) == nil)
    }

    @Test("Strict text parsing refuses values Decimal could only hold by rounding")
    func exactRejectsUnrepresentable() {
        #expect(Amount(exactly: "1." + String(repeating: "0", count: 40) + "1") == nil)
        #expect(Amount(exactly: String(repeating: "9", count: 39)) == nil)
    }

    @Test("Description is plain decimal text without exponent or trailing zeros")
    func descriptionIsPlain() throws {
        #expect(Amount(Decimal(string: "1e5")!)?.description == "100000")
        #expect(Amount(exactly: "0.000001")?.description == "0.000001")
        #expect(Amount(exactly: "-12.345")?.description == "-12.345")
        #expect(Amount(exactly: "100.00")?.description == "100")
        #expect(Amount(exactly: "0")?.description == "0")
        #expect(Amount(Decimal(sign: .plus, exponent: -2, significand: 10050))?.description == "100.5")
    }

    @Test(
        "decimalPlaces counts digits after the point of the normalised value",
        arguments: [("100.50", 1), ("100.505", 3), ("100", 0), ("100.00", 0), ("0.000001", 6), ("1200", 0)])
    func decimalPlaces(text: String, places: Int) {
        #expect(Amount(exactly: text)?.decimalPlaces == places)
    }

    @Test("isPositive is true only above zero")
    func isPositive() {
        #expect(Amount(exactly: "0.01")?.isPositive == true)
        #expect(Amount(exactly: "0")?.isPositive == false)
        #expect(Amount(exactly: "-0")?.isPositive == false)
        #expect(Amount(exactly: "-1")?.isPositive == false)
    }

    @Test("Equality, hashing and ordering follow value, not spelling")
    func valueSemantics() throws {
        let short = try #require(Amount(exactly: "100.5"))
        let long = try #require(Amount(exactly: "100.50"))
        #expect(short == long)
        #expect(Set([short]).contains(long))
        #expect(try #require(Amount(exactly: "99.99")) < short)
        #expect(try #require(Amount(exactly: "-1")) < Amount(exactly: "0")!)
    }

    @Test("NaN is not an amount")
    func nanIsRejected() {
        #expect(Amount(Decimal.nan) == nil)
    }

    @Test("A JSON string is not an amount")
    func stringDoesNotDecode() {
        #expect(throws: DecodingError.self) { try decodeAmounts(#"["100.50"]"#) }
    }
}
