import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Loopback ports for test servers.
public enum FreePort {
    /// A port that was free a moment ago, chosen below Linux's ephemeral range (32768 and up)
    /// so that outgoing connections of concurrently running tests cannot take it in between.
    public static func find() throws -> Int {
        for _ in 0..<200 {
            let port = Int.random(in: 20_000..<32_000)
            if canBind(port: port) { return port }
        }
        throw TestSupportError("no free port found in 20000..<32000")
    }

    private static func canBind(port: Int) -> Bool {
        withLoopbackSocket(port: port) { descriptor, address, length in bind(descriptor, address, length) == 0 }
    }

    /// Whether something accepts TCP connections on the loopback port.
    public static func isListening(port: Int) -> Bool {
        withLoopbackSocket(port: port) { descriptor, address, length in connect(descriptor, address, length) == 0 }
    }

    /// Calls `body` with a new TCP socket and the address of `port` on 127.0.0.1, then closes the
    /// socket.
    private static func withLoopbackSocket(
        port: Int, _ body: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Bool
    ) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    public static func waitUntilListening(port: Int, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if isListening(port: port) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestSupportError("nothing listens on 127.0.0.1:\(port) after \(timeout)")
    }
}
