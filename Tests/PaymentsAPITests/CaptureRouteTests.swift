import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Operations
import Payments
@testable import PaymentsAPI
import Synchronization
import Testing
import TestSupport

@Suite("POST /api/v1/payments/capture (router, scripted transport)")
struct CaptureRouteTests {
    static let readmeBody = #"""
        {"transaction_id": "tx_123456", "amount": 100.50, "currency": "BRL",
         "metadata": {"order_id": "order_12345", "customer_id": "cust_6789"}}
        """#

    private func post(
        _ body: String, gateway: FakeGateway, contentType: String? = "application/json", configuration: APIConfiguration = APIConfiguration(),
        _ check: @escaping @Sendable (TestResponse) throws -> Void
    ) async throws {
        let application = Application(router: PaymentsRouter.build(gateway: gateway, configuration: configuration), logger: TestLogger.make("router-tests"))
        try await application.test(.router) { client in
            var headers: HTTPFields = [:]
            if let contentType { headers[.contentType] = contentType }
            try await client.execute(
                uri: "/api/v1/payments/capture", method: .post, headers: headers, body: ByteBuffer(string: body)
            ) { response in
                try check(response)
            }
        }
    }

    private func json(_ response: TestResponse) throws -> [String: Any] {
        try Self.json(response)
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    @Test("the README's request gets 200 with the processor's approval, keyed fields exactly as the original")
    func approved() async throws {
        let gateway = FakeGateway(.approve(code: "123456"))
        try await post(Self.readmeBody, gateway: gateway) { response in
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
            let body = try json(response)
            #expect(Set(body.keys) == ["correlation_id", "transaction_id", "status", "authorization_code"])
            #expect(body["status"] as? String == "approved")
            #expect(body["authorization_code"] as? String == "123456")
            #expect(body["transaction_id"] as? String == "tx_123456")
            #expect((body["correlation_id"] as? String)?.count == 36)
        }
        let request = try #require(gateway.requests.first)
        #expect(request.amount == Amount(exactly: "100.50"))
        #expect(request.metadata == ["order_id": "order_12345", "customer_id": "cust_6789"])
    }

    @Test("a decline is a 200 with the original's error fields")
    func declined() async throws {
        try await post(Self.readmeBody, gateway: FakeGateway(.decline)) { response in
            #expect(response.status == .ok)
            let body = try json(response)
            #expect(Set(body.keys) == ["correlation_id", "transaction_id", "status", "error_code", "error_message"])
            #expect(body["status"] as? String == "declined")
            #expect(body["error_code"] as? String == "payment_declined")
            #expect(body["error_message"] as? String == "Pagamento recusado pela operadora")
        }
    }

    @Test("a timeout is a 504 naming the correlation id, with where to ask for the outcome")
    func timeout() async throws {
        let gateway = FakeGateway(.hang)
        let application = Application(router: PaymentsRouter.build(gateway: gateway), logger: TestLogger.make("router-tests"))
        try await application.test(.router) { client in
            async let answer = client.execute(
                uri: "/api/v1/payments/capture", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: Self.readmeBody)
            ) { response in (response.status, try Self.json(response), response.headers) }
            await gateway.waitForWaiters(1)
            await gateway.expireWaits()
            let (status, body, headers) = try await answer
            let id = try #require(gateway.attempts.first)
            #expect(status == .gatewayTimeout)
            #expect(body["error_code"] as? String == "processor_timeout")
            #expect(body["correlation_id"] as? String == id.rawValue)
            #expect(body["status_url"] as? String == "/api/v1/payments/\(id.rawValue)")
            #expect(headers[.location] == "/api/v1/payments/\(id.rawValue)")
        }
    }

    @Test("an unsendable capture is a 503 with Retry-After and no correlation id")
    func unavailable() async throws {
        try await post(Self.readmeBody, gateway: FakeGateway(.refuse(.unavailable(reason: "brokers down")))) { response in
            #expect(response.status == .serviceUnavailable)
            #expect(response.headers[.retryAfter] == "1")
            let body = try json(response)
            #expect(body["error_code"] as? String == "broker_unavailable")
            #expect(body["correlation_id"] == nil)
        }
    }

    @Test("too many pending captures is a 503 too_many_pending")
    func overloaded() async throws {
        let gateway = FakeGateway(.hang, maxPending: 1)
        let application = Application(router: PaymentsRouter.build(gateway: gateway), logger: TestLogger.make("router-tests"))
        try await application.test(.router) { client in
            async let first = client.execute(
                uri: "/api/v1/payments/capture", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: Self.readmeBody)
            ) { $0.status }
            await gateway.waitForWaiters(1)
            let other = #"{"transaction_id": "tx_other", "amount": 1, "currency": "BRL"}"#
            try await client.execute(
                uri: "/api/v1/payments/capture", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: other)
            ) { response in
                #expect(response.status == .serviceUnavailable)
                let body = try Self.json(response)
                #expect(body["error_code"] as? String == "too_many_pending")
            }
            await gateway.expireWaits()
            #expect(try await first == .gatewayTimeout)
        }
    }

    @Test("a processor answer that is neither approved nor declined is a 502")
    func processorError() async throws {
        try await post(Self.readmeBody, gateway: FakeGateway(.answer(.other("error")))) { response in
            #expect(response.status == .badGateway)
            let body = try json(response)
            #expect(body["error_code"] as? String == "processor_error")
        }
    }

    @Test(
        "invalid bodies get 400 with a machine-readable code and nothing reaches the gateway",
        arguments: [
            ("{", "malformed_json"),
            ("[]", "malformed_json"),
            (#"{"amount": 1, "currency": "BRL"}"#, "missing_field"),
            (#"{"transaction_id": "", "amount": 1, "currency": "BRL"}"#, "empty_field"),
            (#"{"transaction_id": "t", "amount": 0, "currency": "BRL"}"#, "invalid_amount"),
            (#"{"transaction_id": "t", "amount": -5, "currency": "BRL"}"#, "invalid_amount"),
            (#"{"transaction_id": "t", "amount": 1.005, "currency": "BRL"}"#, "amount_too_precise"),
            (#"{"transaction_id": "t", "amount": "1.00", "currency": "BRL"}"#, "invalid_field_type"),
            (#"{"transaction_id": "t", "amount": 1, "currency": "brl"}"#, "invalid_currency"),
        ])
    func invalid(body: String, code: String) async throws {
        let gateway = FakeGateway(.approve(code: "000000"))
        try await post(body, gateway: gateway) { response in
            #expect(response.status == .badRequest)
            let json = try json(response)
            #expect(json["error_code"] as? String == code)
            #expect((json["error_message"] as? String)?.isEmpty == false)
        }
        #expect(gateway.requests.isEmpty)
    }

    @Test("a body over the limit is a 413")
    func tooLarge() async throws {
        let padding = String(repeating: "x", count: 2_000)
        let body = #"{"transaction_id": "t", "amount": 1, "currency": "BRL", "metadata": {"p": "\#(padding)"}}"#
        try await post(body, gateway: FakeGateway(.approve(code: "1")), configuration: APIConfiguration(limits: HTTPLimits(maxBodyBytes: 1_024))) { response in
            #expect(response.status == .contentTooLarge)
            let body = try json(response)
            #expect(body["error_code"] as? String == "body_too_large")
        }
    }

    @Test("a body declared as something other than JSON is a 415; no Content-Type at all is accepted")
    func contentType() async throws {
        try await post(Self.readmeBody, gateway: FakeGateway(.approve(code: "1")), contentType: "text/plain") { response in
            #expect(response.status == .unsupportedMediaType)
            let body = try json(response)
            #expect(body["error_code"] as? String == "unsupported_media_type")
        }
        try await post(Self.readmeBody, gateway: FakeGateway(.approve(code: "1")), contentType: nil) { response in
            #expect(response.status == .ok)
        }
        try await post(Self.readmeBody, gateway: FakeGateway(.approve(code: "1")), contentType: "application/json; charset=utf-8") {
            response in
            #expect(response.status == .ok)
        }
    }

    @Test("JSON media types are told apart from others in any case, with parameters and blanks around them")
    func jsonMediaTypes() {
        for json in ["application/json", "Application/JSON", " application/json ; charset=utf-8", "application/merge-patch+json", "APPLICATION/VND.API+JSON;v=1", "\tapplication/json"] {
            #expect(CaptureEndpoint.isJSON(json), "\(json)")
        }
        for other in ["text/plain", "application/jsonx", "text/json", "application/xml", "", ";application/json", "application/json+xml", "applicationjson", "+json", "application/+jsonp"] {
            #expect(!CaptureEndpoint.isJSON(other), "\(other)")
        }
    }
}

@Suite("Health endpoints (router, scripted transport)")
struct HealthRouteTests {
    @Test("live is always 200; ready follows the gateway's readiness with its reason")
    func readiness() async throws {
        let gateway = FakeGateway(.approve(code: "1"), readiness: .notReady(reason: "reply consumer not positioned"))
        let application = Application(router: PaymentsRouter.build(gateway: gateway), logger: TestLogger.make("router-tests"))
        try await application.test(.router) { client in
            try await client.execute(uri: "/health/live", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/health/ready", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(String(buffer: response.body).contains("reply consumer not positioned"))
            }
            gateway.readinessValue.withLock { $0 = .ready }
            try await client.execute(uri: "/health/ready", method: .get) { #expect($0.status == .ok) }
        }
    }
}
