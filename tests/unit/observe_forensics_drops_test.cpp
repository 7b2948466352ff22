// Drops at once, told apart by the server's last words: a crash restart
// (one plain EOF, then 57P02 for the rest), a planned restart or failover
// (57P01/57P03), a network blip (no words); a client and its own server link
// are one drop.
#include <gtest/gtest.h>

#include "forensics_test_events.hpp"

using namespace pgw::observe;
using namespace pgw::test::forensics;

namespace {

// The server link of a session-mode client and the client's own close right
// after it, as the proxy publishes them when the link is lost.
void lost_link_and_client(Forensics& fx, uint64_t link_id, uint64_t client_id, int64_t ts_ms,
                          const std::string& cause, const std::string& sqlstate) {
  // Busy links: short idle ages that differ (a shared one would be a cut).
  const int64_t idle_ms = 1'500 + static_cast<int64_t>(link_id % 10) * 1'300;
  ConnectionEvent link =
      close_event("server", link_id, ts_ms, "server", cause, idle_ms, 60'000, sqlstate);
  link.client_impact = "disconnected";
  fx.on_event(link);
  ConnectionEvent client =
      close_event("client", client_id, ts_ms + 1, "server", cause, idle_ms, 61'000, "08006");
  client.client_impact = "disconnected";
  fx.on_event(client);
}

// A crash restart at 5 s as the proxy sees it on six server links: the
// SIGKILLed backend's plain EOF, then five WARNING 57P02 closes. Idle ages
// start at `idle_ms` and grow by `idle_step_ms` a link.
void crash_restart(Forensics& fx, uint64_t first_id, int64_t idle_ms, int64_t idle_step_ms) {
  fx.on_event(close_event("server", first_id, 5'000, "server", "server_eof", idle_ms, 90'000));
  for (uint64_t i = 1; i <= 5; ++i) {
    const auto n = static_cast<int64_t>(i);
    fx.on_event(close_event("server", first_id + i, 5'002 + n, "server", "server_crash",
                            idle_ms + n * idle_step_ms, 80'000, "57P02"));
  }
}

}  // namespace

TEST(ForensicsDrops, OnePlainEofThen57P02IsACrashRestart) {
  // A backend killed with SIGKILL closes without a word; the postmaster ends
  // every other session with WARNING 57P02 and restarts.
  Forensics fx({});
  crash_restart(fx, 10, 1'200, 900);  // busy links: idle ages that differ
  auto all = fx.evaluate(at_ms(6'000)).all;
  ASSERT_EQ(all.size(), 1u);
  const Finding& f = all[0];
  EXPECT_EQ(f.kind, "server_crash");
  EXPECT_EQ(f.key, "server_crash/2027-01-15T08:00:05Z");
  EXPECT_EQ(f.value, 6);
  EXPECT_EQ(f.causes, (std::map<std::string, uint64_t>{{"server_crash", 5}, {"server_eof", 1}}));
  EXPECT_EQ(f.summary,
            "6 connections dropped within 0.0 s at 2027-01-15T08:00:05Z (causes server_crash×5, "
            "server_eof×1; sqlstates 57P02×5): a crash restart: 1 closed without a word (the "
            "server process that died) and the postmaster ended the rest with 57P02 (crash of "
            "another server process).");
  EXPECT_NE(f.fix.find("OOM killer or a kill -9"), std::string::npos) << f.fix;
  EXPECT_NE(f.fix.find("journalctl -k"), std::string::npos) << f.fix;
}

TEST(ForensicsDrops, IdleLinksEndedByACrashRestartAreACrashNotACut) {
  // Six pooled links idle for a minute since the same moment: their shared
  // idle age would make a silent drop an idle cut, but the server spoke.
  Forensics fx({});
  crash_restart(fx, 70, 60'000, 10);
  auto all = fx.evaluate(at_ms(6'000)).all;
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].kind, "server_crash");
  EXPECT_EQ(all[0].value, 6);
}

TEST(ForensicsDrops, AClientAndItsOwnServerLinkAreOneDrop) {
  // Session mode: six clients each lose their link in the crash; twelve
  // closes, six drops.
  Forensics fx({});
  lost_link_and_client(fx, 20, 120, 5'000, "server_eof", "");
  for (uint64_t i = 1; i < 6; ++i) {
    lost_link_and_client(fx, 20 + i, 120 + i, 5'002 + static_cast<int64_t>(i), "server_crash",
                         "57P02");
  }
  auto crashes = of_kind(fx.evaluate(at_ms(6'000)).all, "server_crash");
  ASSERT_EQ(crashes.size(), 1u);
  EXPECT_EQ(crashes[0].value, 6);
  EXPECT_EQ(crashes[0].count, 6u);
  EXPECT_EQ(crashes[0].conn_ids, (std::vector<uint64_t>{20, 21, 22, 23, 24, 25}));
  EXPECT_EQ(crashes[0].summary.rfind("6 connections dropped", 0), 0u) << crashes[0].summary;
}

TEST(ForensicsDrops, FourClientsWithTheirLinksAreNoBurst) {
  // Eight closes, four drops: below burst_min (5).
  Forensics fx({});
  for (uint64_t i = 0; i < 4; ++i) {
    lost_link_and_client(fx, 30 + i, 130 + i, 5'000 + static_cast<int64_t>(i), "server_eof", "");
  }
  for (const Finding& f : fx.evaluate(at_ms(6'000)).all) ADD_FAILURE() << f.summary;
}

TEST(ForensicsDrops, ClientsDroppedOnTheirOwnSideStillCount) {
  // Client-side resets with no lost server link behind them are drops each.
  Forensics fx({});
  for (uint64_t i = 0; i < 5; ++i) {
    fx.on_event(close_event("client", 40 + i, 5'000 + static_cast<int64_t>(i) * 10, "network",
                            "keepalive_timeout", 200 + static_cast<int64_t>(i) * 300, 70'000));
  }
  auto bursts = of_kind(fx.evaluate(at_ms(6'000)).all, "burst");
  ASSERT_EQ(bursts.size(), 1u);
  EXPECT_EQ(bursts[0].value, 5);
}

TEST(ForensicsDrops, ShutdownWordsAreAPlannedRestartOrFailover) {
  Forensics fx({});
  const char* sqlstates[] = {"57P01", "57P01", "57P01", "57P03", "57P01"};
  for (uint64_t i = 0; i < 5; ++i) {
    fx.on_event(close_event("server", 50 + i, 5'000 + static_cast<int64_t>(i) * 40, "server",
                            "server_fatal", 300 + static_cast<int64_t>(i) * 700, 40'000,
                            sqlstates[i]));
  }
  auto all = fx.evaluate(at_ms(6'000)).all;
  auto restarts = of_kind(all, "server_restart");
  ASSERT_EQ(restarts.size(), 1u);
  EXPECT_EQ(restarts[0].key, "server_restart/2027-01-15T08:00:05Z");
  EXPECT_NE(restarts[0].summary.find("a planned restart or failover"), std::string::npos)
      << restarts[0].summary;
  EXPECT_TRUE(of_kind(all, "server_crash").empty());
  EXPECT_TRUE(of_kind(all, "burst").empty());
}

TEST(ForensicsDrops, ResetsAndTimeoutsWithoutWordsAreANetworkBlip) {
  Forensics fx({});
  const char* causes[] = {"peer_reset", "keepalive_timeout", "server_eof", "peer_reset",
                          "broken_pipe"};
  for (uint64_t i = 0; i < 5; ++i) {
    fx.on_event(close_event("server", 60 + i, 5'000 + static_cast<int64_t>(i) * 30,
                            i == 2 ? "server" : "network", causes[i],
                            400 + static_cast<int64_t>(i) * 500, 30'000));
  }
  auto all = fx.evaluate(at_ms(6'000)).all;
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].kind, "burst");
  EXPECT_NE(all[0].summary.find("no words from the server (resets, timeouts, EOFs): a network "
                                "blip"),
            std::string::npos)
      << all[0].summary;
  EXPECT_TRUE(of_kind(all, "server_crash").empty());
  EXPECT_TRUE(of_kind(all, "server_restart").empty());
}
