import Foundation
import Payments
import Testing

@Suite("CurrencyCode")
struct CurrencyCodeTests {
    @Test(
        "Minor units follow ISO 4217",
        arguments: [
            ("BRL", 2), ("USD", 2), ("EUR", 2), ("XYZ", 2),
            ("BIF", 0), ("CLP", 0), ("DJF", 0), ("GNF", 0), ("ISK", 0), ("JPY", 0), ("KMF", 0), ("KRW", 0),
            ("PYG", 0), ("RWF", 0), ("UGX", 0), ("UYI", 0), ("VND", 0), ("VUV", 0), ("XAF", 0), ("XOF", 0),
            ("XPF", 0),
            ("BHD", 3), ("IQD", 3), ("JOD", 3), ("KWD", 3), ("LYD", 3), ("OMR", 3), ("TND", 3),
            ("CLF", 4), ("UYW", 4),
        ])
    func minorUnits(code: String, units: Int) throws {
        #expect(try #require(CurrencyCode(code)).minorUnits == units)
    }

    @Test("Only three ASCII upper-case letters are a code", arguments: ["brl", "BR", "BRLX", "R$", "", " BRL", "Brl", "ÄBC", "B1L"])
    func rejectsMalformed(text: String) {
        #expect(CurrencyCode(text) == nil)
    }

    @Test("Codes encode and decode as plain strings")
    func codable() throws {
        let brl = try #require(CurrencyCode("BRL"))
        #expect(brl.code == "BRL")
        #expect(brl.description == "BRL")
        #expect(String(decoding: try JSONEncoder().encode([brl]), as: UTF8.self) == #"["BRL"]"#)
        #expect(try JSONDecoder().decode([CurrencyCode].self, from: Data(#"["BRL"]"#.utf8)) == [brl])
    }

    @Test("Decoding an invalid code fails instead of building one")
    func decodingInvalidFails() {
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([CurrencyCode].self, from: Data(#"["brl"]"#.utf8))
        }
    }
}
