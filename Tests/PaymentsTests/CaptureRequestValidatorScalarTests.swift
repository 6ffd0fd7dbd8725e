@testable import Payments
import Testing

/// The validator decides control characters and white space on scalar values, not through
/// Unicode's property tables: these compare the two over every scalar.
@Suite("CaptureRequestValidator's scalar classes")
struct CaptureRequestValidatorScalarTests {
    private static var everyScalar: some Sequence<Unicode.Scalar> { (0...0x10FFFF).lazy.compactMap(Unicode.Scalar.init(_:)) }

    @Test("A scalar is a control character exactly when its general category is Cc")
    func controlMatchesGeneralCategory() {
        let disagreeing = Self.everyScalar.filter { CaptureRequestValidator.isControl($0) != ($0.properties.generalCategory == .control) }
        #expect(Array(disagreeing.prefix(5)).isEmpty)
    }

    @Test("A scalar is white space exactly when Unicode's White_Space property says so")
    func whiteSpaceMatchesProperty() {
        let disagreeing = Self.everyScalar.filter { CaptureRequestValidator.isWhiteSpace($0) != $0.properties.isWhitespace }
        #expect(Array(disagreeing.prefix(5)).isEmpty)
    }

    @Test("Blank is empty or all white space, ASCII or not")
    func blank() {
        #expect(CaptureRequestValidator.isBlank(""))
        #expect(CaptureRequestValidator.isBlank(" \t\n\u{0B}\u{0C}\r"))
        #expect(CaptureRequestValidator.isBlank("\u{A0}\u{2003}\u{3000}"))
        #expect(!CaptureRequestValidator.isBlank(" x "))
        #expect(!CaptureRequestValidator.isBlank("\u{200B}"))  // zero-width space is not White_Space
    }
}
