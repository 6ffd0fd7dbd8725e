import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 GET over a raw loopback socket, for health probes and for tests that need
/// to control the connection itself (closing it mid-request, say).
public enum HTTPProbe {
    /// The status code of `GET path`, or `nil` when nothing answers.
    public static func status(port: Int, path: String) async -> Int? {
        await Task.detached {
            guard let socket = RawSocket(port: port) else { return nil }
            defer { socket.close() }
            socket.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            let response = socket.receiveAll()
            guard let statusLine = response.split(separator: "\r\n").first else { return nil }
            let parts = statusLine.split(separator: " ")
            return parts.count >= 2 ? Int(parts[1]) : nil
        }.value
    }
}

/// A blocking TCP client socket on loopback.
public final class RawSocket: Sendable {
    private let descriptor: Int32

    public init?(port: Int) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else {
            Glibc.close(descriptor)
            return nil
        }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        self.descriptor = descriptor
    }

    public func send(_ text: String) {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let result = bytes[sent...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if result <= 0 { return }
            sent += result
        }
    }

    /// Reads until the peer closes (or the 30 s receive timeout).
    public func receiveAll() -> String {
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            data += buffer[0..<count]
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads until the peer closes the connection (true) or nothing more arrives for `seconds`
    /// (false), with what was received.
    public func waitForClose(seconds: Int) -> (closed: Bool, received: String) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count == 0 { return (true, String(decoding: data, as: UTF8.self)) }
            if count < 0 { return (errno == ECONNRESET, String(decoding: data, as: UTF8.self)) }
            data += buffer[0..<count]
        }
    }

    /// Sends `text`; false when the connection is gone.
    public func trySend(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    public func close() {
        Glibc.close(descriptor)
    }
}
