// demosync-bench: the baselines `make bench` measures DemoSync against. Not part of the product.
//
//   demosync-bench kafka-roundtrip --bootstrap-servers HOST:PORT [--count N] [--warmup N]
//                                  [--concurrency C] [--partitions N (all topics; default: serve's layout)] [--journal] [--no-journal-follower] [--request-reader]
//                                  [--kafka-profile local|standard] [--kafka-property K=V ...]
//                                  [--samples-file PATH] [--timeout-seconds S] [--turnaround-us N]
//       The raw Kafka request-reply round trip through our wrapper, with the same client settings
//       and hops as `serve` (requester) and `simulate` (responder), and no HTTP: the ceiling of a
//       capture. Prints one JSON object.
//
//   demosync-bench http-echo [--host ADDRESS] [--port P]
//       A Hummingbird server whose POST /echo decodes and re-encodes capture-shaped JSON: the HTTP
//       ceiling of this machine. Prints `listening PORT` once it accepts connections.

import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
let usage = """
    usage: demosync-bench kafka-roundtrip --bootstrap-servers HOST:PORT [--count N] [--warmup N] [--concurrency C]
                                          [--partitions N] [--journal] [--no-journal-follower] [--request-reader] [--kafka-profile local|standard]
                                          [--kafka-property KEY=VALUE ...] [--samples-file PATH] [--timeout-seconds S] [--turnaround-us N]
           demosync-bench http-echo [--host ADDRESS] [--port P]
    """

guard let command = arguments.first else {
    FileHandle.standardError.write(Data((usage + "\n").utf8))
    exit(2)
}

do {
    var options = try BenchArguments(Array(arguments.dropFirst()))
    switch command {
    case "kafka-roundtrip":
        let configuration = try KafkaRoundTrip.Options(&options)
        try options.rejectUnused()
        let result = try await KafkaRoundTrip.run(configuration)
        print(result.json)
    case "http-echo":
        let host = options.string("host") ?? "127.0.0.1"
        let port = try options.integer("port") ?? 8089
        try options.rejectUnused()
        try await HTTPEcho.run(host: host, port: port)
    case "-h", "--help", "help":
        print(usage)
    default:
        throw BenchUsageError("unknown command \(command)")
    }
} catch let error as BenchUsageError {
    FileHandle.standardError.write(Data("demosync-bench: \(error.message)\n\(usage)\n".utf8))
    exit(2)
} catch {
    FileHandle.standardError.write(Data("demosync-bench: \(error)\n".utf8))
    exit(1)
}
