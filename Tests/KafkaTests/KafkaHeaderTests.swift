import Kafka
import Testing

@Suite("KafkaHeader")
struct KafkaHeaderTests {
    @Test("a header given as text equals, and hashes as, the same header given as bytes")
    func textAndBytesAgree() {
        let text = KafkaHeader(name: "correlation-id", value: "6ac0f636-35be-5fb4-9280-ed3321a279a7 é")
        let bytes = KafkaHeader(name: "correlation-id", value: Array("6ac0f636-35be-5fb4-9280-ed3321a279a7 é".utf8))
        #expect(text == bytes)
        #expect(Set([text, bytes]).count == 1)
        #expect(text.value == bytes.value)
        #expect(text.stringValue == bytes.stringValue)
        #expect(text != KafkaHeader(name: "correlation-id", value: "other"))
        #expect(text != KafkaHeader(name: "other-name", value: text.value))
    }

    @Test("binary values survive, and a value set as bytes replaces the text")
    func binaryValues() {
        var header = KafkaHeader(name: "n", value: "text")
        header.value = [0, 255]
        #expect(header.value == [0, 255])
        #expect(header.stringValue == nil)
        #expect(header.withValueBytes { Array($0) } == [0, 255])
    }
}
