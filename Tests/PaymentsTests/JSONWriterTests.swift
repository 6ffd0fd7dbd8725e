import Foundation
import JSONText
import Testing

@Suite("JSONWriter's strings")
struct JSONWriterTests {
    @Test("Text without escapes is copied as it is", arguments: ["", "tx-123", "BRL", "naïve ☕️ 日本", "0d5f3c1e-8a2b-5c4d-9e6f-1a2b3c4d5e6f"])
    func plain(text: String) {
        #expect(JSONWriter.quoted(text) == "\"\(text)\"")
    }

    @Test("Quotes, backslashes and control characters are escaped")
    func escaped() {
        #expect(JSONWriter.quoted("a\"b\\c") == #""a\"b\\c""#)
        #expect(JSONWriter.quoted("line\nnext\r\ttab") == #""line\nnext\r\ttab""#)
        #expect(JSONWriter.quoted("\u{01}x\u{1F}") == #""\u0001x\u001f""#)
        #expect(JSONWriter.quoted("\u{7F}é") == "\"\u{7F}é\"")  // DEL and non-ASCII need no escape in JSON
    }

    @Test("Every string reads back as itself through Foundation's parser")
    func roundTrip() throws {
        let samples = ["plain", "\"", "\\", "mixed \"quote\" and \\ slash\n", String((0..<0x20).map { Character(Unicode.Scalar($0)!) }), "€ \u{10FFFF}"]
        for sample in samples {
            var writer = JSONWriter()
            writer.beginObject()
            writer.member("value", sample)
            writer.endObject()
            let object = try JSONSerialization.jsonObject(with: Data(writer.bytes)) as? [String: String]
            #expect(object == ["value": sample])
        }
    }
}
