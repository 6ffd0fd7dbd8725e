import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Payments
@testable import PaymentsAPI
import Testing
import TestSupport

@Suite("Idempotency and outcome lookup (router, scripted transport)")
struct IdempotencyRouteTests {
    static let body = #"{"transaction_id": "tx_idem", "amount": 10.00, "currency": "BRL"}"#

    private func withClient(_ gateway: FakeGateway, _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let application = Application(router: PaymentsRouter.build(gateway: gateway), logger: TestLogger.make("router-tests"))
        try await application.test(.router, body)
    }

    private func post(_ client: any TestClientProtocol, _ body: String = Self.body, key: String? = nil) async throws -> (HTTPResponse.Status, [String: String], HTTPFields) {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[.idempotencyKey] = key }
        return try await client.execute(uri: "/api/v1/payments/capture", method: .post, headers: headers, body: ByteBuffer(string: body)) {
            response in
            let object = (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]) ?? [:]
            let json = object.compactMapValues { $0 as? String }
            return (response.status, json, response.headers)
        }
    }

    @Test("ten concurrent identical captures reach the gateway once and get ten identical answers")
    func concurrentDuplicates() async throws {
        let gateway = FakeGateway(.approveWhenReleased)
        try await withClient(gateway) { client in
            let results = try await withThrowingTaskGroup(of: (HTTPResponse.Status, [String: String], HTTPFields).self) { group in
                for _ in 0..<10 { group.addTask { try await post(client) } }
                await gateway.waitForWaiters(10)  // the first sent, nine joined
                await gateway.release()
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.allSatisfy { $0.0 == .ok })
            let correlationIDs = Set(results.compactMap { $0.1["correlation_id"] })
            #expect(correlationIDs.count == 1, "one capture, one correlation id, shared by all ten")
            #expect(results.filter { $0.2[.idempotentReplayed] == "true" }.count == 9)
        }
        #expect(gateway.requests.count == 1)
        #expect(gateway.idempotencyKeys == ["tx_idem"], "without a header the transaction id is the key")
    }

    @Test("after completion the same capture is replayed, marked as such, without reaching the gateway")
    func replayAfterCompletion() async throws {
        let gateway = FakeGateway(.approve(code: "424242"))
        try await withClient(gateway) { client in
            let first = try await post(client)
            let second = try await post(client)
            #expect(first.0 == .ok && second.0 == .ok)
            #expect(first.2[.idempotentReplayed] == nil)
            #expect(second.2[.idempotentReplayed] == "true")
            #expect(second.1["authorization_code"] == "424242")
            #expect(second.1["correlation_id"] == first.1["correlation_id"])
        }
        #expect(gateway.requests.count == 1)
    }

    @Test("the same key with a different body is refused with 422 idempotency_key_reused")
    func conflict() async throws {
        let gateway = FakeGateway(.approve(code: "1"))
        try await withClient(gateway) { client in
            _ = try await post(client)
            let different = try await post(client, #"{"transaction_id": "tx_idem", "amount": 99.00, "currency": "BRL"}"#)
            #expect(different.0 == .unprocessableContent)
            #expect(different.1["error_code"] == "idempotency_key_reused")
            // 10.00 and 10.0 are the same amount: not a conflict.
            let same = try await post(client, #"{"transaction_id": "tx_idem", "amount": 10.0, "currency": "BRL"}"#)
            #expect(same.0 == .ok)
        }
        #expect(gateway.requests.count == 1)
    }

    @Test("an Idempotency-Key header names the capture instead of the transaction id; a malformed one is a 400")
    func headerKey() async throws {
        let gateway = FakeGateway(.approve(code: "1"))
        try await withClient(gateway) { client in
            _ = try await post(client, key: "order-1-attempt")
            let sameKey = try await post(client, key: "order-1-attempt")
            #expect(sameKey.2[.idempotentReplayed] == "true")
            _ = try await post(client, key: "order-2-attempt")  // same transaction, new key: a new capture
            let bad = try await post(client, key: String(repeating: "k", count: 300))
            #expect(bad.0 == .badRequest)
            #expect(bad.1["error_code"] == "invalid_idempotency_key")
        }
        #expect(gateway.idempotencyKeys == ["order-1-attempt", "order-2-attempt"])
    }

    @Test("a repeated Idempotency-Key header is read as its values joined (malformed: a 400), never as one of them; a repeated Content-Type likewise (415)")
    func repeatedHeaders() async throws {
        let gateway = FakeGateway(.approve(code: "1"))
        try await withClient(gateway) { client in
            let keys = try await post(client, with: [(.contentType, "application/json"), (.idempotencyKey, "order-1"), (.idempotencyKey, "order-2")])
            #expect(keys.0 == .badRequest)
            #expect(keys.1.contains("invalid_idempotency_key"))
            let types = try await post(client, with: [(.contentType, "application/json"), (.contentType, "text/plain")])
            #expect(types.0 == .unsupportedMediaType)
            #expect(types.1.contains("application/json, text/plain"))
        }
        #expect(gateway.idempotencyKeys.isEmpty)
    }

    /// A capture with exactly these header fields, repeated ones included; its status and body.
    private func post(_ client: any TestClientProtocol, with fields: [(HTTPField.Name, String)]) async throws -> (HTTPResponse.Status, String) {
        var headers = HTTPFields()
        for (name, value) in fields { headers.append(HTTPField(name: name, value: value)) }
        return try await client.execute(uri: "/api/v1/payments/capture", method: .post, headers: headers, body: ByteBuffer(string: Self.body)) {
            ($0.status, String(buffer: $0.body))
        }
    }

    @Test("a capture that was certainly not sent (503) is forgotten: the retry is a new attempt")
    func retryAfterUnavailable() async throws {
        let gateway = FakeGateway(.refuse(.unavailable(reason: "down")))
        try await withClient(gateway) { client in
            let first = try await post(client)
            let second = try await post(client)
            #expect(first.0 == .serviceUnavailable && second.0 == .serviceUnavailable)
        }
        #expect(gateway.requests.count == 2)
    }

    @Test("after a timeout a retry waits for the first request's verdict and sends nothing; once it arrives, retries replay it")
    func retryAfterTimeout() async throws {
        let gateway = FakeGateway(.hang)
        try await withClient(gateway) { client in
            async let first = post(client)
            await gateway.waitForWaiters(1)
            await gateway.expireWaits()
            let timedOut = try await first
            let firstID = try #require(gateway.attempts.first)
            #expect(timedOut.0 == .gatewayTimeout)
            #expect(timedOut.1["status_url"] == "/api/v1/payments/\(firstID.rawValue)")
            #expect(timedOut.2[.location] == "/api/v1/payments/\(firstID.rawValue)")

            // Nothing arrived yet, but the request was sent: the retry waits for its answer.
            async let second = post(client)
            await gateway.waitForWaiters(1)
            #expect(gateway.requests.count == 1)
            // The first attempt's verdict arrives late: it ends the retry's wait too.
            await gateway.registry.deliver([.response(.approved(correlationID: firstID, transactionID: "tx_idem", authorizationCode: "123123"))])
            let retried = try await second
            #expect(retried.0 == .ok)
            #expect(retried.1["authorization_code"] == "123123")
            #expect(retried.2[.idempotentReplayed] == "true")

            let replayed = try await post(client)
            #expect(replayed.0 == .ok)
            #expect(replayed.1["authorization_code"] == "123123")
            #expect(replayed.2[.idempotentReplayed] == "true")
        }
        #expect(gateway.requests.count == 1)
    }

    @Test("Prefer: respond-async answers 202 at once with Location and Preference-Applied; the capture goes on; a repeat replays")
    func respondAsync() async throws {
        let gateway = FakeGateway(.approveWhenReleased)
        try await withClient(gateway) { client in
            let headers: HTTPFields = [.contentType: "application/json", .prefer: "respond-async, wait=5"]
            let accepted = try await client.execute(
                uri: "/api/v1/payments/capture", method: .post, headers: headers, body: ByteBuffer(string: Self.body)
            ) { response in (response.status, response.headers, String(buffer: response.body)) }
            let id = try #require(gateway.attempts.first)
            #expect(accepted.0 == .accepted)
            #expect(accepted.1[.location] == "/api/v1/payments/\(id.rawValue)")
            #expect(accepted.1[.preferenceApplied] == "respond-async")
            #expect(accepted.2.contains(#""status":"pending""#))
            #expect(gateway.registry.waitingRequestCount == 0, "nobody waits on the connection")
            #expect(gateway.registry.pendingCount == 1, "the capture goes on")
            await gateway.release()
            try await client.execute(uri: "/api/v1/payments/\(id.rawValue)", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains(#""authorization_code":"777777""#))
            }
            let replay = try await post(client)
            #expect(replay.0 == .ok && replay.2[.idempotentReplayed] == "true")
        }
        #expect(gateway.requests.count == 1)
    }

    @Test("GET with Prefer: wait=N holds for the verdict, capped by the configuration; without it, 202 at once")
    func preferWait() async throws {
        let gateway = FakeGateway(.approveWhenReleased)
        try await withClient(gateway) { client in
            let async: HTTPFields = [.contentType: "application/json", .prefer: "respond-async"]
            _ = try await client.execute(uri: "/api/v1/payments/capture", method: .post, headers: async, body: ByteBuffer(string: Self.body)) { _ in }
            let id = try #require(gateway.attempts.first)
            try await client.execute(uri: "/api/v1/payments/\(id.rawValue)", method: .get) { response in
                #expect(response.status == .accepted)
                #expect(response.headers[.preferenceApplied] == nil)
            }
            async let held = client.execute(uri: "/api/v1/payments/\(id.rawValue)", method: .get, headers: [.prefer: "wait=600"]) { response in
                (response.status, response.headers[.preferenceApplied], String(buffer: response.body))
            }
            await gateway.clock.waitForSleepers(2)  // the capture's deadline and the lookup's wait
            await gateway.release()
            let answer = try await held
            #expect(answer.0 == .ok)
            #expect(answer.1 == "wait=30", "capped at the configured maximum")
            #expect(answer.2.contains("777777"))
        }
    }

    @Test("GET with Prefer: wait=N answers 202 when the wait runs out")
    func preferWaitTimesOut() async throws {
        let gateway = FakeGateway(.hang)
        try await withClient(gateway) { client in
            let async: HTTPFields = [.contentType: "application/json", .prefer: "respond-async"]
            _ = try await client.execute(uri: "/api/v1/payments/capture", method: .post, headers: async, body: ByteBuffer(string: Self.body)) { _ in }
            let id = try #require(gateway.attempts.first)
            async let held = client.execute(uri: "/api/v1/payments/\(id.rawValue)", method: .get, headers: [.prefer: "wait=2"]) { response in
                (response.status, response.headers[.preferenceApplied])
            }
            await gateway.clock.waitForSleepers(2)
            gateway.clock.advance(by: .seconds(2))
            let answer = try await held
            #expect(answer.0 == .accepted)
            #expect(answer.1 == "wait=2")
        }
    }

    @Test("GET /api/v1/payments/{id}: 200 with the final answer, 202 while pending, 404 when unknown")
    func statusLookup() async throws {
        let gateway = FakeGateway(.hang)
        let done = CorrelationID.random()
        await gateway.registry.deliver([.response(.declined(correlationID: done, transactionID: "tx_d"))])
        try await withClient(gateway) { client in
            async let waiting = post(client)
            await gateway.waitForWaiters(1)
            let pending = try #require(gateway.attempts.first)
            try await client.execute(uri: "/api/v1/payments/\(done.rawValue)", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains(#""status":"declined""#))
            }
            try await client.execute(uri: "/api/v1/payments/\(pending.rawValue)", method: .get) { response in
                #expect(response.status == .accepted)
                #expect(String(buffer: response.body).contains(#""status":"pending""#))
            }
            try await client.execute(uri: "/api/v1/payments/\(CorrelationID.random().rawValue)", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(String(buffer: response.body).contains("not_found"))
            }
            await gateway.expireWaits()
            _ = try await waiting
        }
    }

    @Test("an expired answer is a 504 deadline_exceeded; a processor error answer is a 502 with its detail")
    func expiredAndErrorAnswers() async throws {
        try await withClient(FakeGateway(.answer(.expired))) { client in
            let response = try await post(client)
            #expect(response.0 == .gatewayTimeout)
            #expect(response.1["error_code"] == "deadline_exceeded")
        }
        try await withClient(FakeGateway(.answer(.error))) { client in
            let response = try await post(client)
            #expect(response.0 == .badGateway)
            #expect(response.1["error_code"] == "processor_error")
        }
    }

    @Test("wrong methods get 405 with Allow, HEAD works where GET does, unknown paths a JSON 404")
    func methodsAndPaths() async throws {
        try await withClient(FakeGateway(.approve(code: "1"))) { client in
            try await client.execute(uri: "/api/v1/payments/capture", method: .get) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "POST")
                #expect(String(buffer: response.body).contains("method_not_allowed"))
            }
            try await client.execute(uri: "/api/v1/payments/capture", method: .options) { response in
                #expect(response.status == .methodNotAllowed)
            }
            try await client.execute(uri: "/health/ready", method: .trace) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET, HEAD")
            }
            // A method the router has never heard of, on a path with a parameter.
            try await client.execute(uri: "/api/v1/payments/some-id", method: HTTPRequest.Method("QUERY")!) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET, HEAD")
            }
            // HEAD wherever GET is taken: GET's status and headers, no body.
            try await client.execute(uri: "/health/live", method: .head) { response in
                #expect(response.status == .ok)
                #expect(response.body.readableBytes == 0)
                #expect(response.headers[.contentLength] == "17")
            }
            // An error's body is dropped on the wire by NIO's encoder for HEAD (checked by hand
            // with keep-alive); at the router level only the status can be asserted.
            try await client.execute(uri: "/api/v1/payments/unknown-id", method: .head) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/nowhere", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(String(buffer: response.body).contains(#""error_code":"not_found""#))
            }
        }
    }
}

@Suite("Bearer authentication (router)")
struct BearerAuthenticationRouteTests {
    @Test("with tokens, everything under /api/ needs one (unknown paths and wrong methods too); health stays open")
    func protectsEverythingUnderAPI() async throws {
        let token = "0123456789abcdef-token"
        let application = Application(
            router: PaymentsRouter.build(gateway: FakeGateway(.approve(code: "1")), configuration: APIConfiguration(authTokens: [token])),
            logger: TestLogger.make("router-tests"))
        try await application.test(.router) { client in
            for (uri, method) in [("/api/v1/payments/capture", HTTPRequest.Method.post), ("/api/v1/nowhere", .get), ("/api/v1/payments/capture", .get)] {
                try await client.execute(uri: uri, method: method) { response in
                    #expect(response.status == .unauthorized, "\(method) \(uri)")
                    #expect(response.headers[.wwwAuthenticate] == #"Bearer realm="demosync""#)
                }
            }
            try await client.execute(
                uri: "/api/v1/payments/capture", method: .post, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                body: ByteBuffer(string: IdempotencyRouteTests.body)
            ) { #expect($0.status == .ok) }
            try await client.execute(uri: "/api/v1/payments/capture", method: .post, headers: [.authorization: "Bearer \(token.dropLast())"]) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(uri: "/health/live", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test("the token comparison looks at every byte and only accepts an exact match")
    func constantTimeComparison() {
        let expected = Array("secret-token-1234".utf8)
        #expect(BearerAuthentication.constantTimeEqual(expected, expected))
        #expect(!BearerAuthentication.constantTimeEqual(expected, Array("secret-token-1235".utf8)))
        #expect(!BearerAuthentication.constantTimeEqual(expected, Array("secret-token-12345".utf8)))
        #expect(!BearerAuthentication.constantTimeEqual(expected, []))
    }
}
