import Foundation
import Payments
import Testing

@Suite("CorrelationID")
struct CorrelationIDTests {
    @Test("random() gives a lowercase version 4 UUID string")
    func randomFormat() {
        let text = CorrelationID.random().rawValue
        let characters = Array(text)
        #expect(characters.count == 36)
        for (index, character) in characters.enumerated() {
            if [8, 13, 18, 23].contains(index) {
                #expect(character == "-", "position \(index) of \(text)")
            } else {
                #expect("0123456789abcdef".contains(character), "position \(index) of \(text)")
            }
        }
        #expect(characters[14] == "4", "version nibble of \(text)")
        #expect("89ab".contains(characters[19]), "variant nibble of \(text)")
        #expect(CorrelationID(validating: text) != nil)
    }

    @Test("attempt ids stay the version 5 UUIDs they have always been (replicas of different versions must agree)")
    func attemptIDsArePinned() {
        // Computed independently (Python's hashlib: SHA-1 of the namespace and the joined name).
        let first = CorrelationID.attempt(key: "k", fingerprint: "f", after: nil)
        #expect(first.rawValue == "6ac0f636-35be-5fb4-9280-ed3321a279a7")
        #expect(CorrelationID.attempt(key: "k", fingerprint: "f", after: first).rawValue == "24a7c3b1-0873-540a-bac1-5dfb9e5e210d")
        // The length prefix counts UTF-8 bytes, not characters.
        #expect(CorrelationID.attempt(key: "order-42-café", fingerprint: "fp", after: nil).rawValue == "0db4aef4-4da7-57fd-aa5e-d96c6a765c6d")
    }

    @Test("random() does not repeat over 1000 ids")
    func randomIsUnique() {
        let ids = Set((0..<1000).map { _ in CorrelationID.random() })
        #expect(ids.count == 1000)
    }

    @Test(
        "Printable ASCII without spaces, 1 to 128 bytes, is accepted",
        arguments: ["a", "550e8400-e29b-41d4-a716-446655440000", "ABC_123~!", String(repeating: "x", count: 128)])
    func acceptsValid(text: String) {
        #expect(CorrelationID(validating: text)?.rawValue == text)
        #expect(CorrelationID(rawValue: text)?.description == text)
    }

    @Test(
        "Empty, oversized, spaced, control or non-ASCII text is refused",
        arguments: ["", String(repeating: "x", count: 129), "a b", "a\nb", "a\tb", "ação", "\u{7F}"])
    func rejectsInvalid(text: String) {
        #expect(CorrelationID(validating: text) == nil)
        #expect(CorrelationID(rawValue: text) == nil)
    }

    @Test("Encodes as a plain JSON string and refuses invalid ids when decoding")
    func codable() throws {
        let id = try #require(CorrelationID(validating: "550e8400-e29b-41d4-a716-446655440000"))
        let encoded = try JSONEncoder().encode([id])
        #expect(String(decoding: encoded, as: UTF8.self) == #"["550e8400-e29b-41d4-a716-446655440000"]"#)
        #expect(try JSONDecoder().decode([CorrelationID].self, from: encoded) == [id])
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([CorrelationID].self, from: Data(#"["has space"]"#.utf8))
        }
    }
}
