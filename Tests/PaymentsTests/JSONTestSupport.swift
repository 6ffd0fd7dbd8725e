import Foundation

/// The top-level keys of a JSON object, to check the wire shape without depending on key order.
func jsonKeys(_ data: Data) throws -> Set<String> {
    let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
    return Set(object?.keys.map { $0 } ?? [])
}

/// One top-level string value of a JSON object.
func jsonString(_ data: Data, _ key: String) throws -> String? {
    (try JSONSerialization.jsonObject(with: data) as? [String: Any])?[key] as? String
}
