import Foundation
import Payments
import PaymentsClient
import Testing
import TestSupport

/// The Grafana dashboard and the Prometheus rules in deploy/: valid for promtool, their alerts
/// firing as their unit tests say, their runbooks pointing at real sections, and (end to end,
/// below) every metric they name exported by a real `serve` or `simulate`.
@Suite("Dashboards and alerts: the files in deploy/")
struct DashboardsAndAlertsTests {
    static let promtoolUsable = Promtool.path != nil || Promtool.required

    private func path(_ relative: String) -> String { MonitoringAssets.root.appending(path: relative).path }

    @Test(
        "promtool accepts the rules, their unit tests pass, and the example configuration is valid",
        .enabled(if: DashboardsAndAlertsTests.promtoolUsable, "promtool is not installed (make deps installs it; DEMOSYNC_REQUIRE_PROMTOOL makes this a failure)"))
    func promtoolChecks() async throws {
        let rules = try await Promtool.run(["check", "rules", path(MonitoringAssets.rulesPath)])
        #expect(rules.status == 0, "promtool check rules:\n\(rules.output)")
        #expect(rules.output.contains("SUCCESS"), "\(rules.output)")

        let unitTests = try await Promtool.run(["test", "rules", path(MonitoringAssets.rulesTestPath)])
        #expect(unitTests.status == 0, "promtool test rules:\n\(unitTests.output)")

        let config = try await Promtool.run(["check", "config", path(MonitoringAssets.prometheusConfigPath)])
        #expect(config.status == 0, "promtool check config:\n\(config.output)")
    }

    @Test(
        "every PromQL query of the dashboard parses (checked by promtool as recording rules)",
        .enabled(if: DashboardsAndAlertsTests.promtoolUsable, "promtool is not installed (make deps installs it; DEMOSYNC_REQUIRE_PROMTOOL makes this a failure)"))
    func dashboardQueriesParse() async throws {
        let expressions = try MonitoringAssets.dashboardExpressions(Data(try MonitoringAssets.text(MonitoringAssets.dashboardPath).utf8))
        #expect(expressions.count >= 20)
        var yaml = "groups:\n  - name: dashboard\n    rules:\n"
        for (offset, expression) in expressions.enumerated() {
            yaml += "      - record: dashboard:query_\(offset)\n        expr: |\n"
            for line in PromQL.withoutGrafanaVariables(expression.expr).split(separator: "\n") { yaml += "          \(line)\n" }
        }
        let file = FileManager.default.temporaryDirectory.appending(path: "demosync-dashboard-queries-\(UUID().uuidString.prefix(8)).yml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try await Promtool.run(["check", "rules", file.path])
        #expect(result.status == 0, "dashboard queries that promtool rejects:\n\(result.output)")
    }

    @Test("the metric-name extraction finds what it should, and the export check rejects unknown names and label values")
    func extractionWorks() throws {
        let expression = #"""
            histogram_quantile(0.99, sum by (le, job) (rate(demosync_capture_duration_seconds_bucket{job=~"$api_job",le!="x"}[$__rate_interval])))
              > 5 and on (job) up{job="demosync-api"} offset 5m
              unless ignoring(outcome) demosync:captures:rate5m / max without (instance) (demosync_pending_captures) # demosync_in_a_comment
            """#
        #expect(PromQL.metricNames(in: expression) == [
            "demosync_capture_duration_seconds_bucket", "up", "demosync:captures:rate5m", "demosync_pending_captures",
        ])
        let matched = try #require(PromQL.references(in: #"sum(rate(demosync_captures_total{outcome=~"timeout|error", job="a"}[5m]))"#).first)
        #expect(matched.name == "demosync_captures_total")
        #expect(matched.requiredLabelValues.map { $0.label } == ["outcome"])
        #expect(matched.requiredLabelValues.first?.values == ["timeout", "error"])
        #expect(PromQL.metricNames(in: #"label_replace(vector(1), "dst", "$1", "src", "(.*)")"#).isEmpty)

        let exported = ExportedSeries("""
            # TYPE demosync_captures_total counter
            demosync_captures_total{outcome="approved"} 3
            demosync_captures_total{outcome="timeout"} 0
            demosync_pending_captures 0.0
            """)
        #expect(exported.names == ["demosync_captures_total", "demosync_pending_captures"])
        #expect(exported.problem(with: MetricReference(name: "demosync_pending_captures", matchers: [])) == nil)
        #expect(exported.problem(with: MetricReference(name: "demosync_capture_total", matchers: [])) != nil, "a misspelt name")
        #expect(exported.problem(with: matched) != nil, "outcome=\"error\" is not exported here")
        #expect(exported.problem(with: MetricReference(name: "demosync_captures_total", matchers: [.init(label: "outcome", op: "=", value: "timeout")])) == nil)
    }

    @Test("the rules and the dashboard name the metrics expected of them, with runbooks pointing at real sections")
    func assetsAreComplete() throws {
        let rules = MonitoringAssets.rules(try MonitoringAssets.text(MonitoringAssets.rulesPath))
        let alerts = rules.filter { $0.kind == "alert" }
        let records = Set(rules.filter { $0.kind == "record" }.map(\.name))
        #expect(alerts.count >= 12, "alerts found: \(alerts.map(\.name))")
        #expect(records.count >= 6, "recording rules found: \(records.sorted())")
        #expect(rules.allSatisfy { !$0.expr.isEmpty }, "rules without an expression: \(rules.filter { $0.expr.isEmpty }.map(\.name))")

        let anchors = MonitoringAssets.anchors(ofMarkdown: try MonitoringAssets.text("docs/operations.md"))
        #expect(anchors.contains("what-a-504-means-and-how-to-find-its-outcome"), "the anchor reader works")
        for alert in alerts {
            for key in ["summary", "description", "runbook_url"] {
                #expect(!(alert.annotations[key] ?? "").isEmpty, "\(alert.name) has no \(key)")
            }
            let runbook = alert.annotations["runbook_url"] ?? ""
            let parts = runbook.split(separator: "#", maxSplits: 1).map(String.init)
            #expect(parts.count == 2 && parts[0] == "docs/operations.md" && anchors.contains(parts[1]),
                    "\(alert.name): runbook \(runbook) is not a section of docs/operations.md")
        }

        let dashboard = try MonitoringAssets.dashboardExpressions(Data(try MonitoringAssets.text(MonitoringAssets.dashboardPath).utf8))
        let names = Set((rules.map(\.expr) + dashboard.map(\.expr)).flatMap { PromQL.metricNames(in: $0) })
        let recorded = names.filter { $0.contains(":") }
        #expect(recorded.isSubset(of: records), "recording rules used but not defined: \(recorded.subtracting(records).sorted())")
        let unknown = names.filter { !$0.hasPrefix("demosync_") && !$0.contains(":") }.subtracting(MonitoringAssets.externalMetrics)
        #expect(unknown.isEmpty, "names neither DemoSync's nor known external metrics: \(unknown.sorted())")
        let ours = names.filter { $0.hasPrefix("demosync_") }
        #expect(ours.count >= 15, "only \(ours.count) DemoSync metrics named: \(ours.sorted())")
        for required in [
            "demosync_captures_total", "demosync_capture_duration_seconds_bucket", "demosync_pending_captures",
            "demosync_replies_late_total", "demosync_replies_unmatched_total", "demosync_produce_failures_total",
            "demosync_kafka_consumer_lag", "demosync_simulator_requests_total",
        ] {
            #expect(ours.contains(required), "\(required) is named by neither the dashboard nor the rules")
        }
    }

    @Test("every dashboard panel queries the ${DS_PROMETHEUS} data source variable")
    func dashboardDataSource() throws {
        let json = try #require(try JSONSerialization.jsonObject(with: Data(try MonitoringAssets.text(MonitoringAssets.dashboardPath).utf8)) as? [String: Any])
        let variables = (json["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        #expect(variables.contains { $0["name"] as? String == "DS_PROMETHEUS" && $0["type"] as? String == "datasource" })
        let panels = json["panels"] as? [[String: Any]] ?? []
        let queried = panels.filter { $0["type"] as? String != "row" }
        #expect(queried.count >= 15)
        #expect(Set(panels.compactMap { $0["id"] as? Int }).count == panels.count, "panel ids are unique")
        for panel in queried {
            let title = panel["title"] as? String ?? "?"
            #expect((panel["datasource"] as? [String: Any])?["uid"] as? String == "${DS_PROMETHEUS}", "\(title)")
            let targets = panel["targets"] as? [[String: Any]] ?? []
            #expect(!targets.isEmpty, "\(title) has no query")
            for target in targets {
                #expect((target["datasource"] as? [String: Any])?["uid"] as? String == "${DS_PROMETHEUS}", "\(title)")
                #expect(!((target["expr"] as? String) ?? "").isEmpty, "\(title)")
            }
        }
    }
}

extension EndToEnd {
    @Suite("Dashboards and alerts: what deploy/ names, a running serve and simulate export")
    struct DashboardsAndAlertsEndToEndTests {
        private func scrape(_ port: Int) async -> ExportedSeries {
            guard let result = try? await PaymentsAPIClient(baseURL: "http://127.0.0.1:\(port)").get(path: "/metrics"), result.status == 200
            else { return ExportedSeries("") }
            return ExportedSeries(result.bodyText)
        }

        @Test("every metric (and label value) the dashboard and the rules select is in /metrics of serve or simulate, after a few captures")
        func everyNamedMetricIsExported() async throws {
            let rules = MonitoringAssets.rules(try MonitoringAssets.text(MonitoringAssets.rulesPath))
            let dashboard = try MonitoringAssets.dashboardExpressions(Data(try MonitoringAssets.text(MonitoringAssets.dashboardPath).utf8))
            let references = Set((rules.map(\.expr) + dashboard.map(\.expr)).flatMap { PromQL.references(in: $0) })
                .filter { !$0.name.contains(":") && !MonitoringAssets.externalMetrics.contains($0.name) }
            #expect(Set(references.map(\.name)).count >= 15, "the extraction found too little: \(references)")

            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let environment = DemoSync.environment(broker: broker)
            let healthPort = try FreePort.find()
            let simulator = try DemoSync.simulate(
                ["--delay", "0", "--approval-rate", "1", "--health-port", "\(healthPort)"], environment: environment)
            defer { Task { await simulator.terminate() } }
            let server = try await DemoSync.serve(environment: environment)
            defer { Task { await server.process.terminate() } }
            try await simulator.waitUntilSimulatorReady()

            let client = PaymentsAPIClient(baseURL: server.url)
            for index in 0..<6 {
                let result = try await client.capture(
                    CaptureRequest(transactionID: "tx_dashboard_\(index)", amount: Amount(exactly: "9.99")!, currency: CurrencyCode("BRL")!))
                #expect(result.status == 200, "\(result.bodyText)")
            }

            // librdkafka's statistics (broker gauges, consumer lag) arrive every 5 s.
            var problems: [String] = []
            var exported = ExportedSeries("")
            let deadline = ContinuousClock.now + .seconds(60)
            repeat {
                exported = ExportedSeries(merging: [await scrape(server.port), await scrape(healthPort)])
                problems = references.compactMap { exported.problem(with: $0) }.sorted()
                if problems.isEmpty { break }
                try await Task.sleep(for: .seconds(1))
            } while ContinuousClock.now < deadline
            #expect(problems.isEmpty, "named by deploy/ but not exported:\n\(problems.joined(separator: "\n"))\nexported: \(exported.names.sorted())")
            #expect(exported.names.contains("demosync_capture_duration_seconds_bucket"), "the scrape worked")
        }
    }
}
