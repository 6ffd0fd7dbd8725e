/// Hand-parsed `--name value`, `--name=value` and `--flag` arguments (the bench has no
/// dependency on the product's argument parser).
struct BenchArguments {
    private var values: [String: [String]] = [:]
    private var flags: Set<String> = []
    private var used: Set<String> = []

    /// Flags that take no value.
    static let switches: Set<String> = ["journal", "no-journal-follower", "request-reader"]

    init(_ arguments: [String]) throws(BenchUsageError) {
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            guard argument.hasPrefix("--"), argument.count > 2 else { throw BenchUsageError("unexpected argument \(argument)") }
            let body = argument.dropFirst(2)
            if let equals = body.firstIndex(of: "=") {
                values[String(body[..<equals]), default: []].append(String(body[body.index(after: equals)...]))
            } else if Self.switches.contains(String(body)) {
                flags.insert(String(body))
            } else {
                guard index + 1 < arguments.count else { throw BenchUsageError("--\(body) needs a value") }
                values[String(body), default: []].append(arguments[index + 1])
                index += 1
            }
            index += 1
        }
    }

    /// The last value given for `--name`.
    mutating func string(_ name: String) -> String? {
        used.insert(name)
        return values[name]?.last
    }

    /// Every value given for a repeatable `--name`.
    mutating func strings(_ name: String) -> [String] {
        used.insert(name)
        return values[name] ?? []
    }

    mutating func integer(_ name: String, in range: ClosedRange<Int> = 0...Int.max) throws(BenchUsageError) -> Int? {
        guard let text = string(name) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw BenchUsageError("--\(name) must be an integer in \(range.lowerBound)...\(range.upperBound), not \(text)")
        }
        return value
    }

    mutating func flag(_ name: String) -> Bool {
        used.insert(name)
        return flags.contains(name)
    }

    /// Fails on any option no command asked for (a typo, say).
    func rejectUnused() throws(BenchUsageError) {
        if let unknown = (Set(values.keys).union(flags)).subtracting(used).sorted().first {
            throw BenchUsageError("unknown option --\(unknown)")
        }
    }
}

/// A bad command line: printed with the usage, exit code 2.
struct BenchUsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
