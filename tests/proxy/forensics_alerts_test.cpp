// Drop forensics and alerts end to end: a relay that cuts idle connections
// after N seconds (as a NAT gateway does) sits between pgwarden and
// PostgreSQL; the finding must name N, an alert rule must fire to a real
// HTTP webhook and resolve, and the API and /metrics must say the same. An
// app process killed with its connections idle is a client_exit, never an
// idle cut.
#include <fmt/format.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

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

TEST_F(Forensics, AKilledAppIsAClientExitNotAnIdleCut) {
  // pgbench's six clients each run one query and then sleep (client-side),
  // so all six server sessions idle from the same moment; killing pgbench
  // closes them together with a FIN each, as a stopped zero-cache does.
  start_proxy("[forensics]\nevaluate_every = \"300ms\"\nmin_count = 3\n", "session");
  const auto script = std::filesystem::temp_directory_path() / "pgwarden_client_exit.sql";
  std::ofstream(script) << "SELECT 1;\n\\sleep 30 s\n";
  std::string pid;
  ASSERT_EQ(run_command(fmt::format("PGPASSWORD=app-pw pgbench -n -c 6 -T 60 -f {} -h 127.0.0.1 "
                                    "-p {} -U app app >/dev/null 2>&1 & echo $!",
                                    script.string(), proxy().port()),
                        &pid),
            0);
  // (pgbench checks the server on a connection of its own first, then opens
  // one per client.)
  int open_clients = 0;
  for (int i = 0; i < 100 && open_clients < 6; ++i) {
    std::this_thread::sleep_for(100ms);
    open_clients = 0;
    for (auto& e : proxy().events()) {
      if (e.value("application_name", "") != "pgbench") continue;
      if (e["event"] == "client.open") ++open_clients;
      if (e["event"] == "client.close") --open_clients;
    }
  }
  ASSERT_EQ(open_clients, 6) << proxy().stderr_text();
  std::this_thread::sleep_for(2500ms);  // idle long enough to look like a cut (≥ 1 s)
  ASSERT_EQ(::kill(std::stoi(pid), SIGKILL), 0);

  auto exit = proxy().wait_event({{"event", "forensics.finding"}, {"cause", "client_exit"}});
  ASSERT_TRUE(exit.is_object()) << proxy().stderr_text();
  const std::string message = exit["message"];
  EXPECT_NE(message.find("6 client connections from 127.0.0.1 (application pgbench)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("client_eof×6"), std::string::npos) << message;
  for (auto& e : proxy().settled_events()) {
    if (e["event"] != "forensics.finding") continue;
    EXPECT_NE(e["cause"], "idle_cut") << e.dump();
    EXPECT_NE(e["cause"], "fixed_age") << e.dump();
  }
  std::filesystem::remove(script);
}

}  // namespace
}  // namespace pgw::test
