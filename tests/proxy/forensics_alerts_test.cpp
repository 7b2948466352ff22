// Drop forensics and alerts end to end: a relay that cuts idle connections
// after N seconds (as a NAT gateway does) sits between pgwarden and
// PostgreSQL; the finding must name N, an alert rule must fire to a real
// HTTP webhook and resolve, and the API and /metrics must say the same.
#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "../export/http_receiver.hpp"
#include "http_get.hpp"
#include "idle_cut_relay.hpp"
#include "stack.hpp"

namespace pgw::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

class Forensics : public ProxyTest {};

TEST_F(Forensics, IdleCutByAMiddleboxIsNamedWithItsAgeAndAlerted) {
  constexpr int kCutSeconds = 3;
  IdleCutRelay relay(pg().port(), std::chrono::seconds(kCutSeconds));
  HttpReceiver webhook;
  int admin_port = free_port();
  ProxyProcess px(fmt::format(
      "pool_mode = \"transaction\"\n"
      "[timeouts]\nserver_check_delay = 0\n"
      "[admin]\nlisten = \"127.0.0.1:{}\"\n"
      "[forensics]\nevaluate_every = \"300ms\"\nmin_count = 3\n"
      "[alerts]\nwebhook_url = \"{}\"\nevaluate_every = \"300ms\"\n"
      "[[alerts.rule]]\nname = \"network_cuts\"\nkind = \"close_rate\"\ninitiator = \"network\"\n"
      "threshold = 3\nwindow = \"3s\"\n"
      "[databases.app]\nhost = \"127.0.0.1\"\nport = {}\ndbname = \"app\"\n"
      "[users.app]\npassword = \"app-pw\"\n",
      admin_port, webhook.url("/hook"), relay.port()));

  // Four server connections in use at once, then all idle from the same moment.
  std::vector<Conn> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(pq_connect(px.conninfo("app", "app-pw", "app")));
    ASSERT_TRUE(pq_exec(clients.back().get(), "BEGIN").ok) << px.stderr_text();
  }
  for (auto& c : clients) ASSERT_TRUE(pq_exec(c.get(), "COMMIT").ok);

  // The relay resets them after kCutSeconds idle; the proxy finds them dead.
  auto finding = px.wait_event({{"event", "forensics.finding"}, {"cause", "idle_cut"}}, 20);
  ASSERT_FALSE(finding.is_null()) << px.stderr_text();
  EXPECT_EQ(relay.cuts(), 4);
  int cut_closes = 0;
  for (auto& e : px.settled_events()) {
    if (e["event"] != "server.close") continue;
    EXPECT_EQ(e["initiator"], "network") << e.dump();
    EXPECT_EQ(e["cause"], "peer_reset") << e.dump();
    // The relay starts its idle clock a moment before the proxy's (it
    // forwards the bytes the proxy then reads), so allow a few ms.
    EXPECT_GE(e["idle_ms"].get<int>(), kCutSeconds * 1000 - 100) << e.dump();
    ++cut_closes;
  }
  EXPECT_EQ(cut_closes, 4);
  const std::string message = finding["message"];
  EXPECT_NE(message.find(fmt::format("after {} s idle", kCutSeconds)), std::string::npos)
      << message;
  EXPECT_NE(message.find("keepalive"), std::string::npos) << message;

  auto diagnosis = json::parse(http_get(admin_port, "/api/diagnosis").body);
  json idle_cut;
  for (auto& f : diagnosis["findings"])
    if (f["kind"] == "idle_cut") idle_cut = f;
  ASSERT_FALSE(idle_cut.is_null()) << diagnosis.dump();
  EXPECT_EQ(idle_cut["value"], kCutSeconds);
  EXPECT_EQ(idle_cut["count"], 4);
  EXPECT_EQ(idle_cut["conn_ids"].size(), 4u);
  EXPECT_EQ(metric_value(http_get(admin_port, "/metrics").body,
                         "pgwarden_forensic_findings{kind=\"idle_cut\"}"),
            1.0);

  // The alert fired once, to the webhook and as an event, and then resolves.
  auto firing = px.wait_event({{"event", "alert.firing"}, {"cause", "network_cuts"}});
  EXPECT_NE(firing["message"].get<std::string>().find("[FIRING] network_cuts"), std::string::npos)
      << firing.dump();
  auto alerts = json::parse(http_get(admin_port, "/api/alerts").body)["alerts"];
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["rule"], "network_cuts");
  ASSERT_TRUE(webhook.wait_for_requests(1));
  auto hook = json::parse(webhook.requests()[0].body);
  EXPECT_EQ(webhook.requests()[0].target, "/hook");
  EXPECT_EQ(hook["status"], "firing");
  EXPECT_NE(hook["text"].get<std::string>().find("network_cuts"), std::string::npos);
  px.wait_event({{"event", "alert.resolved"}, {"cause", "network_cuts"}}, 15);
  ASSERT_TRUE(webhook.wait_for_requests(2, 15s));
  EXPECT_EQ(json::parse(webhook.requests()[1].body)["status"], "resolved");
  EXPECT_EQ(webhook.requests().size(), 2u);  // fired once, resolved once: no repeats
}

}  // namespace
}  // namespace pgw::test
