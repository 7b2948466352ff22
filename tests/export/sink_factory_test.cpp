#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http_receiver.hpp"
#include "pgwarden/export/sink_factory.hpp"

using namespace pgw;
using namespace pgw::exporter;
using nlohmann::json;
using pgw::test::HttpReceiver;
using namespace std::chrono_literals;

namespace {

// Every (labels, json line) pair the receiver got through Loki pushes.
std::vector<std::pair<json, json>> loki_lines(const HttpReceiver& rx) {
  std::vector<std::pair<json, json>> out;
  for (auto& req : rx.requests()) {
    json body = json::parse(req.body);
    for (auto& stream : body["streams"])
      for (auto& v : stream["values"])
        out.emplace_back(stream["stream"], json::parse(v[1].get<std::string>()));
  }
  return out;
}

template <class Pred>
bool eventually(Pred done) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

}  // namespace

TEST(SinkSpec, ParsesEveryForm) {
  auto s = parse_sink_spec("stdout");
  EXPECT_EQ(s.type, "stdout");
  s = parse_sink_spec("file:/var/log/pgwarden/events.jsonl");
  EXPECT_EQ(s.type, "file");
  EXPECT_EQ(s.target, "/var/log/pgwarden/events.jsonl");
  s = parse_sink_spec("syslog");
  EXPECT_EQ(s.type, "syslog");
  EXPECT_EQ(s.target, "unix:/dev/log");
  s = parse_sink_spec("syslog:udp://10.0.0.5:514");
  EXPECT_EQ(s.target, "udp://10.0.0.5:514");
  s = parse_sink_spec("syslog:unix:/run/systemd/journal/syslog");
  EXPECT_EQ(s.target, "unix:/run/systemd/journal/syslog");
  s = parse_sink_spec("loki:http://loki:3100/loki/api/v1/push");
  EXPECT_EQ(s.type, "loki");
  EXPECT_EQ(s.target, "http://loki:3100/loki/api/v1/push");
  s = parse_sink_spec("otlp:http://otel:4318");
  EXPECT_EQ(s.type, "otlp");
  EXPECT_EQ(sink_name(s), "otlp:http://otel:4318");
}

TEST(SinkSpec, RejectsWithPreciseMessages) {
  auto message = [](std::string_view spec) {
    try {
      parse_sink_spec(spec);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  EXPECT_EQ(message("kafka:broker:9092"),
            "event sink \"kafka:broker:9092\": expected stdout, file:PATH, syslog, "
            "syslog:udp://HOST:PORT, syslog:unix:PATH, loki:http://HOST:PORT[/PATH] or "
            "otlp:http://HOST:PORT[/PATH]");
  EXPECT_EQ(message("file:"), "event sink \"file:\": file: needs a path (file:PATH)");
  EXPECT_EQ(message("loki:"), "event sink \"loki:\": loki: needs a URL (loki:http://HOST:PORT)");
  EXPECT_EQ(message("loki:https://loki:3100"),
            "event sink \"loki:https://loki:3100\": https://loki:3100: https is not supported yet "
            "(no TLS); use http://");
  EXPECT_EQ(message("syslog:tcp://x:1"),
            "event sink \"syslog:tcp://x:1\": syslog address tcp://x:1: expected unix:PATH or "
            "udp://HOST[:PORT]");
  EXPECT_EQ(message("stdout:x").substr(0, 30), "event sink \"stdout:x\": expecte");
}

TEST(MakeSink, RejectsBadSizes) {
  observe::EventBus bus;
  SinkConfig cfg = parse_sink_spec("stdout");
  cfg.queue_size = 0;
  EXPECT_THROW(make_sink(cfg, bus), std::invalid_argument);
  cfg = parse_sink_spec("stdout");
  cfg.type = "kafka";
  EXPECT_THROW(make_sink(cfg, bus), std::invalid_argument);
}

TEST(MakeSink, LokiFullPathFromPublishToReceiver) {
  HttpReceiver rx;
  observe::EventBus bus;
  auto cfg = parse_sink_spec("loki:" + rx.url());
  cfg.labels = {{"job", "pgwarden"}};
  cfg.flush_interval = 5ms;
  bus.add_sink(make_sink(cfg, bus));
  for (uint64_t id = 1; id <= 3; ++id) {
    observe::ConnectionEvent e;
    e.event = "client.open";
    e.side = "client";
    e.conn_id = id;
    bus.publish(e);
  }
  ASSERT_TRUE(bus.flush(10s));
  auto lines = loki_lines(rx);
  ASSERT_EQ(lines.size(), 3u);
  for (uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(lines[i].first,
              json({{"job", "pgwarden"}, {"event", "client.open"}, {"side", "client"}}));
    EXPECT_EQ(lines[i].second["conn_id"], i + 1);
  }
  EXPECT_EQ(rx.requests()[0].target, "/loki/api/v1/push");
  auto health = bus.sink_health();
  ASSERT_EQ(health.size(), 1u);
  EXPECT_EQ(health[0].name, "loki:" + rx.url());
  EXPECT_EQ(health[0].sent, 3u);
}

TEST(MakeSink, OtlpFullPathFromPublishToReceiver) {
  HttpReceiver rx;
  observe::EventBus bus;
  auto cfg = parse_sink_spec("otlp:" + rx.url());
  cfg.flush_interval = 5ms;
  bus.add_sink(make_sink(cfg, bus));
  observe::ConnectionEvent e;
  e.event = "pool.timeout";
  e.conn_id = 11;
  bus.publish(e);
  ASSERT_TRUE(bus.flush(10s));
  ASSERT_EQ(rx.requests().size(), 1u);
  EXPECT_EQ(rx.requests()[0].target, "/v1/logs");
  json body = json::parse(rx.requests()[0].body);
  EXPECT_EQ(body["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["body"]["stringValue"],
            observe::to_json(e));
}

TEST(MakeSink, DeadEndpointDropsThenAnnouncesRecoveryWithTheCount) {
  uint16_t port;
  {
    HttpReceiver reserve;
    port = reserve.port();
  }  // nothing listens there now: connections are refused
  observe::EventBus bus;
  auto cfg = parse_sink_spec("loki:http://127.0.0.1:" + std::to_string(port));
  cfg.queue_size = 5;
  cfg.batch_size = 1;
  cfg.flush_interval = 1ms;
  auto opts = sink_options(cfg);
  opts.retry_min = 5ms;  // keep the test short; make_sink uses 200 ms .. 10 s
  opts.retry_max = 20ms;
  bus.add_sink(std::make_unique<observe::AsyncSink>(
      opts, make_transport(cfg), [&bus](observe::ConnectionEvent e) { bus.publish(e); }));

  observe::ConnectionEvent e;
  e.event = "client.open";
  e.side = "client";
  e.conn_id = 1;
  bus.publish(e);
  // The first event is stuck in delivery, its sink.failing announcement queued behind it.
  ASSERT_TRUE(eventually([&] { return bus.sink_health()[0].queued == 2; }));
  auto failing = bus.recent(1)[0];
  EXPECT_EQ(failing.event, "sink.failing");
  EXPECT_EQ(failing.message, "event sink " + opts.name +
                                 " is failing: POST http://127.0.0.1:" + std::to_string(port) +
                                 "/loki/api/v1/push: cannot connect: Connection refused");

  for (uint64_t id = 2; id <= 21; ++id) {  // 20 more: 4 fit, 16 are dropped
    e.conn_id = id;
    bus.publish(e);
  }
  auto health = bus.sink_health()[0];
  EXPECT_EQ(health.dropped, 16u);
  EXPECT_EQ(health.queued, 6u);
  EXPECT_FALSE(health.up);

  HttpReceiver rx(port);
  auto recovered = [&] {
    for (auto& [labels, line] : loki_lines(rx))
      if (line["event"] == "sink.recovered") return true;
    return false;
  };
  ASSERT_TRUE(eventually(recovered));
  ASSERT_TRUE(bus.flush(10s));
  std::vector<std::string> events;
  json recovered_line;
  for (auto& [labels, line] : loki_lines(rx)) {
    events.push_back(line["event"].get<std::string>() +
                     (line.contains("conn_id") ? std::to_string(line["conn_id"].get<int>()) : ""));
    if (line["event"] == "sink.recovered") recovered_line = line;
  }
  // The recovery is queued behind what waited, so it arrives last.
  EXPECT_EQ(events, (std::vector<std::string>{"client.open1", "sink.failing", "client.open2",
                                              "client.open3", "client.open4", "client.open5",
                                              "sink.recovered"}));
  EXPECT_EQ(recovered_line["count"], 16);
  EXPECT_EQ(recovered_line["message"],
            "event sink " + opts.name + " recovered; 16 events dropped meanwhile");
  EXPECT_TRUE(bus.sink_health()[0].up);
}
