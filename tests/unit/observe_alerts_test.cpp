#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "pgwarden/observe/alerts.hpp"

using namespace pgw;
using namespace pgw::observe;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// 2027-01-15T08:00:00Z
const SystemClock::time_point t0 = SystemClock::time_point{} + seconds(1'800'000'000);

SystemClock::time_point at_s(int64_t s) {
  return t0 + seconds(s);
}

ConnectionEvent close_event(int64_t ts_s, const std::string& side, const std::string& initiator,
                            const std::string& cause) {
  ConnectionEvent e;
  e.ts = at_s(ts_s);
  e.event = side + ".close";
  e.side = side;
  e.initiator = initiator;
  e.cause = cause;
  return e;
}

AlertRuleConfig rule(std::string name, std::string kind, int threshold, int64_t window_s = 60) {
  AlertRuleConfig r;
  r.name = std::move(name);
  r.kind = std::move(kind);
  r.threshold = threshold;
  r.window = seconds(window_s);
  return r;
}

AlertsConfig one_rule(AlertRuleConfig r, int64_t repeat_s = 0) {
  AlertsConfig cfg;
  cfg.repeat_interval = seconds(repeat_s);
  cfg.rules.push_back(std::move(r));
  return cfg;
}

std::string validation_error(const AlertsConfig& cfg) {
  try {
    validate_alerts(cfg);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(AlertCloseRate, FiresRepeatsAndResolvesOnce) {
  AlertRuleConfig r = rule("server_terminations", "close_rate", 5);
  r.side = "server";
  r.cause = "server_fatal";
  AlertEngine engine(one_rule(r, 30));
  for (int i = 0; i < 7; ++i) engine.on_event(close_event(i, "server", "server", "server_fatal"));
  // Not counted: another side, another cause.
  engine.on_event(close_event(1, "client", "server", "server_fatal"));
  engine.on_event(close_event(2, "server", "server", "server_eof"));

  auto firing = engine.evaluate(at_s(10));
  ASSERT_EQ(firing.size(), 1u);
  EXPECT_EQ(firing[0].status, "firing");
  EXPECT_EQ(firing[0].rule, "server_terminations");
  EXPECT_EQ(firing[0].kind, "close_rate");
  EXPECT_EQ(firing[0].value, 7);
  EXPECT_EQ(firing[0].threshold, 5);
  EXPECT_EQ(firing[0].since, at_s(10));
  EXPECT_EQ(firing[0].at, at_s(10));
  EXPECT_EQ(firing[0].text,
            "[FIRING] server_terminations: 7 server closes with cause server_fatal in the last "
            "60s (threshold 5)");

  EXPECT_TRUE(engine.evaluate(at_s(20)).empty());  // still firing: said once

  auto repeat = engine.evaluate(at_s(40));
  ASSERT_EQ(repeat.size(), 1u);
  EXPECT_EQ(repeat[0].status, "repeat");
  EXPECT_EQ(repeat[0].since, at_s(10));
  EXPECT_EQ(repeat[0].text,
            "[REPEAT] server_terminations: 7 server closes with cause server_fatal in the last "
            "60s (threshold 5); firing for 30s");
  EXPECT_TRUE(engine.evaluate(at_s(50)).empty());

  auto states = engine.states();
  ASSERT_EQ(states.size(), 1u);
  EXPECT_TRUE(states[0].firing);
  EXPECT_EQ(states[0].value, 7);
  EXPECT_EQ(states[0].since, at_s(10));

  // At 63 s the closes at 0..2 s have left the 60 s window: 4 remain.
  auto resolved = engine.evaluate(at_s(63));
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].status, "resolved");
  EXPECT_EQ(resolved[0].value, 4);
  EXPECT_EQ(resolved[0].since, at_s(10));
  EXPECT_EQ(resolved[0].text,
            "[RESOLVED] server_terminations: 4 server closes with cause server_fatal in the last "
            "60s (threshold 5); fired for 53s");
  EXPECT_TRUE(engine.evaluate(at_s(120)).empty());
  EXPECT_FALSE(engine.states()[0].firing);
  EXPECT_EQ(engine.states()[0].value, 0);

  // A new storm fires again.
  for (int i = 0; i < 5; ++i) engine.on_event(close_event(200, "server", "server", "server_fatal"));
  auto again = engine.evaluate(at_s(201));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].status, "firing");
  EXPECT_EQ(again[0].since, at_s(201));
}

TEST(AlertCloseRate, NoRepeatWhenIntervalIsZero) {
  AlertEngine engine(one_rule(rule("any_drop", "close_rate", 1, 600)));
  engine.on_event(close_event(0, "client", "network", "peer_reset"));
  ASSERT_EQ(engine.evaluate(at_s(1)).size(), 1u);
  EXPECT_TRUE(engine.evaluate(at_s(100)).empty());
  EXPECT_TRUE(engine.evaluate(at_s(500)).empty());
}

TEST(AlertCloseRate, EmptyFiltersCountEveryCloseAndRefusal) {
  AlertRuleConfig r = rule("drops", "close_rate", 3);
  AlertEngine engine(one_rule(r));
  engine.on_event(close_event(0, "client", "client", "client_terminate"));
  engine.on_event(close_event(0, "server", "proxy", "idle_timeout"));
  ConnectionEvent refused;
  refused.ts = at_s(0);
  refused.event = "server.connect_failed";
  refused.side = "server";
  refused.initiator = "network";
  refused.cause = "server_connect_failed";
  engine.on_event(refused);
  ConnectionEvent timeout;  // a pool.timeout is not a close
  timeout.ts = at_s(0);
  timeout.event = "pool.timeout";
  timeout.cause = "query_wait_timeout";
  engine.on_event(timeout);
  auto n = engine.evaluate(at_s(1));
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].text, "[FIRING] drops: 3 closes in the last 60s (threshold 3)");
}

TEST(AlertCloseRate, InitiatorFilterInTheText) {
  AlertRuleConfig r = rule("network_drops", "close_rate", 2, 300);
  r.initiator = "network";
  AlertEngine engine(one_rule(r));
  engine.on_event(close_event(0, "server", "network", "keepalive_timeout"));
  engine.on_event(close_event(0, "client", "network", "broken_pipe"));
  engine.on_event(close_event(0, "client", "client", "client_eof"));
  auto n = engine.evaluate(at_s(1));
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].value, 2);
  EXPECT_EQ(n[0].text,
            "[FIRING] network_drops: 2 closes initiated by network in the last 300s (threshold 2)");
}

TEST(AlertWaitTimeouts, FiresOnPoolTimeouts) {
  AlertEngine engine(one_rule(rule("pool_waits", "wait_timeouts", 3)));
  for (int i = 0; i < 3; ++i) {
    ConnectionEvent e;
    e.ts = at_s(i);
    e.event = "pool.timeout";
    e.cause = "query_wait_timeout";
    engine.on_event(e);
  }
  auto n = engine.evaluate(at_s(5));
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].value, 3);
  EXPECT_EQ(n[0].text,
            "[FIRING] pool_waits: 3 clients timed out waiting for a server connection in the last "
            "60s (threshold 3): a pool is exhausted; clients get errors instead of a connection");
  auto resolved = engine.evaluate(at_s(61));  // the first timeout (at 0 s) left the window
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].text,
            "[RESOLVED] pool_waits: 2 clients timed out waiting for a server connection in the "
            "last 60s (threshold 3); fired for 56s");
}

TEST(AlertHeadroom, LowestBackendFiresAndResolves) {
  AlertEngine engine(one_rule(rule("low_headroom", "headroom", 3)));
  EXPECT_TRUE(engine.evaluate(at_s(0)).empty());  // nothing measured yet
  engine.set_headroom("db1:5432", 10);
  engine.set_headroom("db2:5432", 2);
  auto n = engine.evaluate(at_s(15));
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].value, 2);
  EXPECT_EQ(n[0].threshold, 3);
  EXPECT_EQ(n[0].text,
            "[FIRING] low_headroom: 2 free server connections on db2:5432 (threshold 3): the "
            "server is close to max_connections; new logins will fail with 53300");
  engine.set_headroom("db2:5432", 8);
  auto resolved = engine.evaluate(at_s(30));
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].status, "resolved");
  EXPECT_EQ(resolved[0].text,
            "[RESOLVED] low_headroom: 8 free server connections on db2:5432 (threshold 3); fired "
            "for 15s");
  engine.set_headroom("db2:5432", 0);
  engine.set_headroom("db2:5432", -1);  // forgotten: db1 (10) is the lowest
  EXPECT_TRUE(engine.evaluate(at_s(45)).empty());
  EXPECT_EQ(engine.states()[0].value, 10);
}

TEST(AlertSinkFailing, FiresAfterTheWindowAndResolvesOnRecovery) {
  AlertEngine engine(one_rule(rule("sink_down", "sink_failing", 1, 60)));
  engine.set_sink_down("loki", true, at_s(0));
  EXPECT_TRUE(engine.evaluate(at_s(30)).empty());
  engine.set_sink_down("loki", true, at_s(40));  // still down: keeps the first time
  auto n = engine.evaluate(at_s(61));
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].value, 61);
  EXPECT_EQ(n[0].threshold, 60);
  EXPECT_EQ(n[0].text,
            "[FIRING] sink_down: event sink loki down for 61s (alert after 60s down): events are "
            "not reaching it");
  engine.set_sink_down("loki", false, at_s(70));
  auto resolved = engine.evaluate(at_s(70));
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].text,
            "[RESOLVED] sink_down: every event sink delivering (alert after 60s down); fired for "
            "9s");
}

TEST(AlertOutput, WebhookJsonAndEvent) {
  AlertNotice n;
  n.rule = "server_terminations";
  n.kind = "close_rate";
  n.status = "firing";
  n.text = "[FIRING] server_terminations: 7 server closes";
  n.value = 7;
  n.threshold = 5;
  n.since = at_s(0);
  n.at = at_s(10);
  EXPECT_EQ(
      webhook_json(n),
      R"({"text":"[FIRING] server_terminations: 7 server closes","rule":"server_terminations",)"
      R"("kind":"close_rate","status":"firing","value":7.0,"threshold":5,)"
      R"("since":"2027-01-15T08:00:00.000000Z","at":"2027-01-15T08:00:10.000000Z"})");
  ConnectionEvent e = notice_event(n);
  EXPECT_EQ(e.event, "alert.firing");
  EXPECT_EQ(e.cause, "server_terminations");
  EXPECT_EQ(e.message, n.text);
  EXPECT_EQ(e.ts, at_s(10));
  n.status = "resolved";
  EXPECT_EQ(notice_event(n).event, "alert.resolved");

  AlertState s{"server_terminations", "close_rate", true, 7, 5, at_s(10)};
  nlohmann::json j = to_json(s);
  EXPECT_EQ(j["rule"], "server_terminations");
  EXPECT_EQ(j["firing"], true);
  EXPECT_EQ(j["value"], 7.0);
  EXPECT_EQ(j["threshold"], 5);
  EXPECT_EQ(j["since"], "2027-01-15T08:00:10.000000Z");
  s.firing = false;
  EXPECT_FALSE(to_json(s).contains("since"));
}

TEST(AlertValidation, PreciseMessages) {
  AlertsConfig ok;
  ok.webhook_url = "http://hooks.internal/alerts";
  ok.rules = {rule("a", "close_rate", 5), rule("b", "headroom", 0), rule("c", "sink_failing", 1)};
  EXPECT_NO_THROW(validate_alerts(ok));

  EXPECT_EQ(validation_error(one_rule(rule("x", "close_rates", 1))),
            "[[alerts.rule]] #1 \"x\": unknown kind \"close_rates\" (expected close_rate, "
            "wait_timeouts, headroom or sink_failing)");
  AlertsConfig dup = ok;
  dup.rules.push_back(rule("b", "wait_timeouts", 1));
  EXPECT_EQ(validation_error(dup), "[[alerts.rule]] #4: duplicate name \"b\"");
  EXPECT_EQ(validation_error(one_rule(rule("h", "headroom", -1))),
            "[[alerts.rule]] #1 \"h\": threshold must be >= 0 (got -1)");
  EXPECT_EQ(validation_error(one_rule(rule("z", "close_rate", 0))),
            "[[alerts.rule]] #1 \"z\": threshold must be >= 1 for close_rate (0 would fire with "
            "no events)");
  EXPECT_EQ(validation_error(one_rule(rule("", "close_rate", 1))),
            "[[alerts.rule]] #1: name is required");
  EXPECT_EQ(validation_error(one_rule(rule("w", "wait_timeouts", 1, 0))),
            "[[alerts.rule]] #1 \"w\": window must be positive for wait_timeouts");
  AlertRuleConfig side = rule("s", "close_rate", 1);
  side.side = "both";
  EXPECT_EQ(validation_error(one_rule(side)),
            "[[alerts.rule]] #1 \"s\": unknown side \"both\" (expected client or server)");
  AlertRuleConfig init = rule("i", "close_rate", 1);
  init.initiator = "admin";
  EXPECT_EQ(validation_error(one_rule(init)),
            "[[alerts.rule]] #1 \"i\": unknown initiator \"admin\" (expected client, server, "
            "proxy or network)");
  AlertRuleConfig filtered = rule("f", "headroom", 1);
  filtered.cause = "server_fatal";
  EXPECT_EQ(validation_error(one_rule(filtered)),
            "[[alerts.rule]] #1 \"f\": cause, side and initiator apply only to kind close_rate, "
            "not headroom");
  AlertsConfig https = ok;
  https.webhook_url = "https://hooks.slack.com/x";
  EXPECT_EQ(validation_error(https),
            "[alerts] webhook_url must be an http:// URL (got \"https://hooks.slack.com/x\")");
  AlertsConfig negative = ok;
  negative.repeat_interval = milliseconds(-1);
  EXPECT_EQ(validation_error(negative), "[alerts] repeat_interval must be >= 0 (0 = never)");
}
