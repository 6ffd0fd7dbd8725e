import Foundation
import HTTPTypes

/// The RFC 7240 preferences DemoSync honours, read from every `Prefer` field of a request.
/// Unknown preferences and malformed values are ignored, as the RFC asks.
struct Preferences: Sendable, Hashable {
    /// `respond-async`: answer 202 at once instead of waiting for the processor.
    var respondAsync = false
    /// `wait=N`: how many seconds the client is willing to wait for an answer.
    var waitSeconds: Int?

    init(_ fields: HTTPFields) {
        for field in fields[values: .prefer] {
            for preference in field.split(separator: ",") {
                // A preference is `token [= value] *( ";" parameter )`; parameters are ignored.
                let head = preference.split(separator: ";", maxSplits: 1).first ?? ""
                let parts = head.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard let name = parts.first?.lowercased() else { continue }
                let value = parts.count > 1 ? parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) : nil
                switch name {
                case "respond-async":
                    respondAsync = true
                case "wait":
                    if waitSeconds == nil, let value, let seconds = Int(value), seconds >= 0 { waitSeconds = seconds }
                default:
                    continue
                }
            }
        }
    }
}
