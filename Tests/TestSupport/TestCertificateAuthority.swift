import Foundation

/// A certificate authority made with `openssl` in a temporary folder, for tests that speak TLS
/// to a local server, and the server certificates it signs. Keys are EC P-256: quick to make.
public struct TestCertificateAuthority: Sendable {
    public let folder: URL
    public let name: String
    /// The authority's certificate, in PEM: what a client trusts (`ssl.ca.location`).
    public var certificate: String { folder.appending(path: "\(name).pem").path }
    private var key: String { folder.appending(path: "\(name).key").path }

    /// A server's certificate (PEM, signed by the authority) and its private key.
    public struct ServerCertificate: Sendable {
        public let certificate: String
        public let key: String
    }

    /// Makes a new authority (its own key and self-signed certificate) named `name` in `folder`,
    /// a new temporary folder by default.
    public static func make(name: String = "ca", in folder: URL? = nil) async throws -> TestCertificateAuthority {
        let folder = folder ?? FileManager.default.temporaryDirectory.appending(path: "demosync-tls-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let authority = TestCertificateAuthority(folder: folder, name: name)
        try await openssl(
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
             "-subj", "/CN=DemoSync test CA \(name)", "-keyout", authority.key, "-out", authority.certificate])
        return authority
    }

    /// Signs a server certificate for `127.0.0.1` and `localhost` (both in its subjectAltName, so
    /// that host name verification passes whichever a client dials).
    public func issueServerCertificate(name: String = "server") async throws -> ServerCertificate {
        let stem = folder.appending(path: name).path
        let issued = ServerCertificate(certificate: "\(stem).pem", key: "\(stem).key")
        try await Self.openssl(
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
             "-keyout", issued.key, "-out", "\(stem).csr"])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            .write(toFile: "\(stem).ext", atomically: true, encoding: .utf8)
        try await Self.openssl(
            ["x509", "-req", "-in", "\(stem).csr", "-CA", certificate, "-CAkey", key, "-set_serial", "\(UInt32.random(in: 1...UInt32.max))",
             "-days", "2", "-extfile", "\(stem).ext", "-out", issued.certificate])
        return issued
    }

    private static func openssl(_ arguments: [String]) async throws {
        let process = try ManagedProcess.launch(executable: try Executables.find("openssl"), arguments: arguments, name: "openssl")
        guard let status = await process.waitForExit(timeout: .seconds(30)) else {
            await process.terminate()
            throw TestSupportError("openssl \(arguments.first ?? "") did not finish")
        }
        guard status == 0 else { throw TestSupportError("openssl \(arguments.joined(separator: " ")) failed: \(process.output)") }
    }
}

/// Programs found on `PATH`.
public enum Executables {
    /// The first of `names` found on `PATH` (or in the usual system folders), as an absolute path.
    public static func find(_ names: String...) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let folders = path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/sbin", "/bin", "/usr/local/bin"]
        for name in names {
            for folder in folders where !folder.isEmpty {
                let candidate = "\(folder)/\(name)"
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            }
        }
        throw TestSupportError("none of \(names.joined(separator: ", ")) is installed: run `make deps`")
    }
}
