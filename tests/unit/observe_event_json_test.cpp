// The JSON-lines form of a connection event: field order, what is left out,
// escaping, and that every line parses.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "pgwarden/observe/event.hpp"

using namespace pgw::observe;

namespace {

SystemClock::time_point at_micros(int64_t us) {
  return SystemClock::time_point(std::chrono::microseconds(us));
}

}  // namespace

TEST(EventJson, CloseHasEveryKnownFieldInDocumentedOrder) {
  ConnectionEvent e;
  e.ts = at_micros(1'795'739'045'123'456);  // 2026-11-27T00:24:05.123456Z
  e.event = "server.close";
  e.conn_id = 42;
  e.side = "server";
  e.peer = "127.0.0.1:5432";
  e.backend = "db1";
  e.database = "app";
  e.user = "app";
  e.application_name = "worker";
  e.pool = "app/app";
  e.backend_pid = 4711;
  e.age_ms = 350'000;
  e.idle_ms = 350'000;
  e.state = "idle";
  e.initiator = "network";
  e.cause = "peer_reset";
  e.message = "Connection reset by peer";
  e.err_no = 104;
  e.bytes_in = 10;
  e.bytes_out = 20;
  e.client_impact = "none";
  EXPECT_EQ(to_json(e),
            R"({"ts":"2026-11-27T00:24:05.123456Z","event":"server.close","conn_id":42,)"
            R"("side":"server","peer":"127.0.0.1:5432","backend":"db1","database":"app",)"
            R"("user":"app","application_name":"worker","pool":"app/app","backend_pid":4711,)"
            R"("age_ms":350000,"idle_ms":350000,"state":"idle","initiator":"network",)"
            R"("cause":"peer_reset","message":"Connection reset by peer","errno":104,)"
            R"("bytes_in":10,"bytes_out":20,"client_impact":"none"})");
}

TEST(EventJson, UnknownFieldsAreLeftOutAndOpensCarryNoByteCounts) {
  ConnectionEvent e;
  e.ts = at_micros(0);
  e.event = "client.open";
  EXPECT_EQ(to_json(e), R"({"ts":"1970-01-01T00:00:00.000000Z","event":"client.open"})");
  e.event = "sink.recovered";
  e.sink = "loki:http://x";
  e.count = 0;  // zero dropped is a fact, not "unknown"
  EXPECT_EQ(to_json(e), R"({"ts":"1970-01-01T00:00:00.000000Z","event":"sink.recovered",)"
                        R"("sink":"loki:http://x","count":0})");
}

TEST(EventJson, PeerTextIsEscapedAndInvalidUtf8Replaced) {
  ConnectionEvent e;
  e.event = "client.open";
  e.application_name = "a\"b\\c\n\x01\xff\xc3\xa9";
  std::string line = to_json(e);
  EXPECT_NE(line.find(R"("application_name":"a\"b\\c\n\u0001)"
                      "\xef\xbf\xbd\xc3\xa9\""),
            std::string::npos)
      << line;
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["application_name"], "a\"b\\c\n\x01\xef\xbf\xbd\xc3\xa9");
}

TEST(EventJson, FailoverTimeline) {
  ConnectionEvent e;
  e.ts = SystemClock::time_point{};
  e.event = "failover";
  e.database = "app";
  e.old_host = "10.0.0.1:5432";
  e.host = "10.0.0.2:5432";
  e.role = "primary";
  e.detected_ms = 0;
  e.writer_found_ms = 1500;
  e.first_served_ms = 1520;
  EXPECT_EQ(to_json(e), R"({"ts":"1970-01-01T00:00:00.000000Z","event":"failover",)"
                        R"("database":"app","host":"10.0.0.2:5432","role":"primary",)"
                        R"("old_host":"10.0.0.1:5432","detected_ms":0,"writer_found_ms":1500,)"
                        R"("first_served_ms":1520})");
}
