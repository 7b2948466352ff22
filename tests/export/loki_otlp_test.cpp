#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http_receiver.hpp"
#include "pgwarden/export/loki_transport.hpp"
#include "pgwarden/export/otlp_transport.hpp"

using namespace pgw;
using namespace pgw::exporter;
using nlohmann::json;
using pgw::test::HttpReceiver;
using namespace std::chrono_literals;

namespace {

observe::SystemClock::time_point at_nanos(int64_t ns) {
  return observe::SystemClock::time_point(
      std::chrono::duration_cast<observe::SystemClock::duration>(std::chrono::nanoseconds(ns)));
}

observe::SerializedEvent serialized(observe::ConnectionEvent e) {
  std::string line = observe::to_json(e);
  return {std::move(e), std::move(line)};
}

std::vector<observe::SerializedEvent> sample_batch() {
  observe::ConnectionEvent a;
  a.ts = at_nanos(1'700'000'000'123'456'000);
  a.event = "client.open";
  a.conn_id = 1;
  a.side = "client";
  a.database = "app";
  a.user = "alice";
  observe::ConnectionEvent b;
  b.ts = at_nanos(1'700'000'001'000'000'000);
  b.event = "server.close";
  b.conn_id = 2;
  b.side = "server";
  b.initiator = "server";
  b.cause = "server_fatal";
  b.sqlstate = "57P01";
  b.backend_pid = 4242;
  observe::ConnectionEvent c = a;
  c.ts = at_nanos(1'700'000'002'000'000'000);
  c.conn_id = 3;
  return {serialized(a), serialized(b), serialized(c)};
}

json attr(const json& attrs, const std::string& key) {
  for (auto& a : attrs)
    if (a["key"] == key) return a["value"];
  return nullptr;
}

}  // namespace

TEST(Loki, GroupsIntoStreamsByStaticLabelsEventAndSide) {
  HttpReceiver rx;
  LokiTransport loki({rx.url(), {{"job", "pgwarden"}, {"env", "test"}}, 5s});
  EXPECT_EQ(loki.url(), rx.url("/loki/api/v1/push"));  // default path for a bare server URL
  auto batch = sample_batch();
  std::string error;
  ASSERT_TRUE(loki.deliver(batch, error)) << error;

  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/loki/api/v1/push");
  EXPECT_EQ(reqs[0].headers["content-type"], "application/json");
  json body = json::parse(reqs[0].body);
  json expected = {
      {"streams",
       {{{"stream",
          {{"env", "test"}, {"event", "client.open"}, {"job", "pgwarden"}, {"side", "client"}}},
         {"values", json::array({json::array({"1700000000123456000", batch[0].json}),
                                 json::array({"1700000002000000000", batch[2].json})})}},
        {{"stream",
          {{"env", "test"}, {"event", "server.close"}, {"job", "pgwarden"}, {"side", "server"}}},
         {"values", json::array({json::array({"1700000001000000000", batch[1].json})})}}}}};
  EXPECT_EQ(body, expected);
  // The line round-trips to the event, and conn_id never becomes a label.
  json line = json::parse(body["streams"][1]["values"][0][1].get<std::string>());
  EXPECT_EQ(line["conn_id"], 2);
  EXPECT_EQ(line["sqlstate"], "57P01");
  EXPECT_FALSE(body["streams"][0]["stream"].contains("conn_id"));
}

TEST(Loki, EventsWithoutSideHaveNoSideLabel) {
  LokiTransport loki({"http://127.0.0.1:3100/custom/push", {}, 5s});
  EXPECT_EQ(loki.url(), "http://127.0.0.1:3100/custom/push");
  observe::ConnectionEvent e;
  e.event = "sink.recovered";
  e.count = 4;
  json body = json::parse(loki.payload({serialized(e)}));
  EXPECT_EQ(body["streams"][0]["stream"], json({{"event", "sink.recovered"}}));
}

TEST(Otlp, BuildsResourceLogsWithAttributesAndSeverity) {
  HttpReceiver rx;
  OtlpTransport otlp({rx.url(), {{"deployment.environment", "test"}}, 5s});
  EXPECT_EQ(otlp.url(), rx.url("/v1/logs"));
  auto batch = sample_batch();
  std::string error;
  ASSERT_TRUE(otlp.deliver(batch, error)) << error;
  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/v1/logs");
  EXPECT_EQ(reqs[0].headers["content-type"], "application/json");

  json body = json::parse(reqs[0].body);
  ASSERT_EQ(body["resourceLogs"].size(), 1u);
  auto& rl = body["resourceLogs"][0];
  EXPECT_EQ(rl["resource"]["attributes"],
            json::parse(R"([{"key":"service.name","value":{"stringValue":"pgwarden"}},
                           {"key":"deployment.environment","value":{"stringValue":"test"}}])"));
  ASSERT_EQ(rl["scopeLogs"].size(), 1u);
  EXPECT_EQ(rl["scopeLogs"][0]["scope"], json({{"name", "pgwarden"}}));
  auto& records = rl["scopeLogs"][0]["logRecords"];
  ASSERT_EQ(records.size(), 3u);

  auto& open = records[0];
  EXPECT_EQ(open["timeUnixNano"], "1700000000123456000");
  EXPECT_TRUE(open["observedTimeUnixNano"].is_string());
  EXPECT_EQ(open["severityNumber"], 9);
  EXPECT_EQ(open["severityText"], "INFO");
  EXPECT_EQ(open["body"]["stringValue"], batch[0].json);
  EXPECT_EQ(attr(open["attributes"], "event"), json({{"stringValue", "client.open"}}));
  EXPECT_EQ(attr(open["attributes"], "conn_id"), json({{"intValue", "1"}}));
  EXPECT_EQ(attr(open["attributes"], "database"), json({{"stringValue", "app"}}));
  EXPECT_EQ(attr(open["attributes"], "user"), json({{"stringValue", "alice"}}));
  EXPECT_EQ(attr(open["attributes"], "cause"), nullptr);

  auto& close = records[1];
  EXPECT_EQ(close["severityNumber"], 13);
  EXPECT_EQ(close["severityText"], "WARN");
  EXPECT_EQ(attr(close["attributes"], "cause"), json({{"stringValue", "server_fatal"}}));
  EXPECT_EQ(attr(close["attributes"], "initiator"), json({{"stringValue", "server"}}));
  EXPECT_EQ(attr(close["attributes"], "side"), json({{"stringValue", "server"}}));
  EXPECT_EQ(attr(close["attributes"], "sqlstate"), json({{"stringValue", "57P01"}}));
  EXPECT_EQ(attr(close["attributes"], "backend_pid"), json({{"intValue", "4242"}}));
}

TEST(Otlp, FailedPostReportsTheError) {
  HttpReceiver rx;
  rx.set_mode(HttpReceiver::Mode::error500);
  rx.set_error_body("collector overloaded");
  OtlpTransport otlp({rx.url("/v1/logs"), {}, 5s});
  std::string error;
  EXPECT_FALSE(otlp.deliver(sample_batch(), error));
  EXPECT_EQ(error, "POST " + rx.url("/v1/logs") +
                       ": HTTP 500 Internal Server Error: collector overloaded");
}

TEST(HttpSinks, RefuseHttpsAtConstruction) {
  EXPECT_THROW(LokiTransport({"https://loki:3100", {}, 5s}), std::invalid_argument);
  try {
    OtlpTransport({"https://otel:4318", {}, 5s});
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()),
              "otlp sink: https://otel:4318: https is not supported yet (no TLS); use http://");
  }
}
