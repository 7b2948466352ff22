#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "forensics_test_events.hpp"

using namespace pgw;
using namespace pgw::observe;
using namespace pgw::test::forensics;
using std::chrono::milliseconds;

TEST(ForensicsIdleCut, ServerClosesAt350sNameTheAwsNatGateway) {
  Forensics fx({});
  fx.on_event(close_event("server", 11, 0, "server", "server_eof", 349'600, 900'000));
  fx.on_event(close_event("server", 12, 40'000, "network", "peer_reset", 350'200, 2'000'000));
  fx.on_event(close_event("server", 13, 90'000, "server", "server_eof", 350'900, 400'000));
  auto eval = fx.evaluate(at_ms(100'000));
  ASSERT_EQ(eval.all.size(), 1u);
  const Finding& f = eval.all[0];
  EXPECT_EQ(f.kind, "idle_cut");
  EXPECT_EQ(f.key, "idle_cut/server/350");
  EXPECT_EQ(f.value, 350);
  EXPECT_EQ(f.count, 3u);
  EXPECT_EQ(f.conn_ids, (std::vector<uint64_t>{11, 12, 13}));
  EXPECT_EQ(f.first, at_ms(0));
  EXPECT_EQ(f.last, at_ms(90'000));
  EXPECT_EQ(f.causes, (std::map<std::string, uint64_t>{{"peer_reset", 1}, {"server_eof", 2}}));
  EXPECT_EQ(f.pool, "app/alice");
  EXPECT_EQ(f.backend, "10.0.0.5:5432");
  EXPECT_EQ(f.summary,
            "3 server connections were cut after 350 s idle (server_eof×2, peer_reset×1): matches "
            "the AWS NAT gateway / NLB idle timeout (350 s) between pgwarden and the server.");
  EXPECT_NE(f.fix.find("pgwarden's [keepalive] idle = 175"), std::string::npos) << f.fix;
  EXPECT_NE(f.fix.find("tcp_keepalives_idle = 175"), std::string::npos) << f.fix;
  EXPECT_NE(f.fix.find("client driver's keepalive"), std::string::npos) << f.fix;
  EXPECT_EQ(eval.fresh.size(), 1u);
}

TEST(ForensicsIdleCut, ClientClosesAt240sNameAzureBetweenAppAndProxy) {
  Forensics fx({});
  fx.on_event(close_event("client", 21, 0, "client", "client_eof", 240'300, 500'000));
  fx.on_event(close_event("client", 22, 5'000, "client", "peer_reset", 239'800, 260'000));
  fx.on_event(close_event("client", 23, 9'000, "network", "keepalive_timeout", 240'100, 999'000));
  auto all = fx.evaluate(at_ms(10'000)).all;
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].key, "idle_cut/client/240");
  EXPECT_EQ(all[0].value, 240);
  EXPECT_EQ(all[0].summary,
            "3 client connections were cut after 240 s idle (client_eof×1, keepalive_timeout×1, "
            "peer_reset×1): an app-side pool idle timeout, or the Azure Load Balancer default idle "
            "timeout (4 min) between the app and pgwarden.");
  EXPECT_NE(all[0].fix.find("libpq keepalives_idle=120"), std::string::npos) << all[0].fix;
}

TEST(ForensicsIdleCut, AnHourIsAGenericFirewall) {
  Forensics fx({});
  for (uint64_t i = 0; i < 4; ++i) {
    fx.on_event(close_event("server", 30 + i, static_cast<int64_t>(i) * 60'000, "server",
                            "server_eof", 3'600'000 + static_cast<int64_t>(i) * 500, 7'200'000));
  }
  auto all = fx.evaluate(at_ms(300'000)).all;
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].key, "idle_cut/server/3600");
  EXPECT_EQ(all[0].value, 3601);  // median of 3600.0, 3600.5, 3601.0, 3601.5
  EXPECT_NE(all[0].summary.find("a firewall or load balancer idle timeout"), std::string::npos);
}

TEST(ForensicsIdleCut, ScatteredIdleAgesFindNothing) {
  Forensics fx({});
  const int64_t idle_s[] = {12, 95, 180, 420, 900, 47};
  const int64_t age_s[] = {30, 400, 1000, 2000, 5000, 60};
  for (uint64_t i = 0; i < 6; ++i) {
    fx.on_event(close_event("server", 40 + i, static_cast<int64_t>(i) * 30'000, "server",
                            "server_eof", idle_s[i] * 1000, age_s[i] * 1000));
  }
  EXPECT_TRUE(fx.evaluate(at_ms(200'000)).all.empty());
}

TEST(ForensicsIdleCut, ProxyIdleTimeoutClosesNeverCount) {
  Forensics fx({});
  // pgwarden's own server_idle_timeout: idle and age both at 600 s.
  for (uint64_t i = 0; i < 5; ++i) {
    fx.on_event(close_event("server", 50 + i, static_cast<int64_t>(i) * 10'000, "proxy",
                            "idle_timeout", 600'000, 600'100 + static_cast<int64_t>(i) * 10));
  }
  EXPECT_TRUE(fx.evaluate(at_ms(60'000)).all.empty());
}

TEST(ForensicsIdleCut, ServerFatalWithSqlstateIsIdleSessionNotIdleCut) {
  Forensics fx({});
  for (uint64_t i = 0; i < 3; ++i) {
    fx.on_event(close_event("server", 60 + i, static_cast<int64_t>(i) * 20'000, "server",
                            "server_fatal", 300'000, 1'000'000 + static_cast<int64_t>(i), "57P05"));
  }
  auto all = fx.evaluate(at_ms(60'000)).all;
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].kind, "idle_session");
  EXPECT_NE(all[0].summary.find("the server's idle_session_timeout"), std::string::npos);
  EXPECT_NE(all[0].fix.find("pgwarden's server_idle_timeout"), std::string::npos);
}

TEST(ForensicsIdleCut, SimultaneousCutsAreAnIdleCutNotABurst) {
  Forensics fx({});
  for (uint64_t i = 0; i < 6; ++i) {
    fx.on_event(close_event("server", 70 + i, static_cast<int64_t>(i) * 100, "network",
                            "peer_reset", 350'000 + static_cast<int64_t>(i) * 100, 3'000'000));
  }
  auto all = fx.evaluate(at_ms(1'000)).all;
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].kind, "idle_cut");
  EXPECT_EQ(all[0].count, 6u);
}

TEST(ForensicsIdleCut, BusyConnectionsInABurstAreABurst) {
  Forensics fx({});
  // A crash drops busy connections: their short idle ages agree by nature.
  for (uint64_t i = 0; i < 6; ++i) {
    fx.on_event(close_event("server", 75 + i, static_cast<int64_t>(i) * 50, "server", "server_eof",
                            1'200 + static_cast<int64_t>(i) * 250,
                            100'000 * static_cast<int64_t>(i + 1)));
  }
  auto all = fx.evaluate(at_ms(1'000)).all;
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].kind, "burst");
  EXPECT_EQ(all[0].value, 6);
}

TEST(ForensicsFixedAge, ClientClosesAtOneAgeWithVaryingIdle) {
  Forensics fx({});
  const int64_t age_ms[] = {1'800'100, 1'799'500, 1'800'700, 1'800'300};
  const int64_t idle_ms[] = {2'000, 30'000, 75'000, 140'000};
  for (uint64_t i = 0; i < 4; ++i) {
    fx.on_event(close_event("client", 80 + i, static_cast<int64_t>(i) * 45'000, "client",
                            "client_terminate", idle_ms[i], age_ms[i]));
  }
  auto all = fx.evaluate(at_ms(200'000)).all;
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].kind, "fixed_age");
  EXPECT_EQ(all[0].key, "fixed_age/client/1800");
  EXPECT_EQ(all[0].value, 1800);
  EXPECT_EQ(all[0].conn_ids, (std::vector<uint64_t>{80, 81, 82, 83}));
  EXPECT_EQ(all[0].summary,
            "4 client connections ended at age 1800 s while their idle times varied "
            "(client_terminate×4): a max-lifetime setting somewhere (app pool maxLifetime, a "
            "proxy, RDS Proxy's 24 h).");
}

TEST(ForensicsFixedAge, DayOldServerConnectionsNameRdsProxy) {
  Forensics fx({});
  const int64_t idle_ms[] = {1'000, 20'000, 90'000};
  for (uint64_t i = 0; i < 3; ++i) {
    fx.on_event(close_event("server", 90 + i, static_cast<int64_t>(i) * 60'000, "server",
                            "server_eof", idle_ms[i], 86'400'000 + static_cast<int64_t>(i) * 700));
  }
  auto all = fx.evaluate(at_ms(200'000)).all;
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].key, "fixed_age/server/86400");
  EXPECT_NE(all[0].summary.find("matches RDS Proxy's 24 h connection lifetime"), std::string::npos);
}

TEST(ForensicsFixedAge, ConnectionsClosedInOneMomentAreNotALifetime) {
  // pgbench's 16 clients log out together after a 5 s run: same age, no policy.
  Forensics fx({});
  for (uint64_t i = 0; i < 16; ++i) {
    fx.on_event(close_event("client", 400 + i, 10'000 + static_cast<int64_t>(i) * 20, "client",
                            "client_terminate", 100 + static_cast<int64_t>(i) * 150, 5'000));
  }
  EXPECT_TRUE(of_kind(fx.evaluate(at_ms(20'000)).all, "fixed_age").empty());
}

TEST(ForensicsFixedAge, ClosesWithASqlstateAreExplainedElsewhere) {
  Forensics fx({});
  const int64_t idle_ms[] = {1'000, 20'000, 90'000};
  for (uint64_t i = 0; i < 3; ++i) {
    fx.on_event(close_event("server", 500 + i, static_cast<int64_t>(i) * 60'000, "server",
                            "server_fatal", idle_ms[i], 7'200'000, "57P01"));
  }
  EXPECT_TRUE(of_kind(fx.evaluate(at_ms(200'000)).all, "fixed_age").empty());
}

TEST(ForensicsFixedAge, ProxyLifetimeClosesAreSkipped) {
  Forensics fx({});
  const int64_t idle_ms[] = {1'000, 20'000, 90'000, 300};
  for (uint64_t i = 0; i < 4; ++i) {
    fx.on_event(close_event("server", 100 + i, static_cast<int64_t>(i) * 60'000, "proxy",
                            "lifetime", idle_ms[i], 3'600'000 + static_cast<int64_t>(i) * 200));
  }
  EXPECT_TRUE(fx.evaluate(at_ms(300'000)).all.empty());
}

TEST(ForensicsBurst, SixConnectionsWithinASecondWithShutdownWordsAreARestart) {
  Forensics fx({});
  const char* causes[] = {"server_fatal", "server_fatal", "server_eof",
                          "server_fatal", "server_eof",   "server_fatal"};
  for (uint64_t i = 0; i < 6; ++i) {
    bool fatal = std::string(causes[i]) == "server_fatal";
    fx.on_event(close_event("server", 200 + i, 5'000 + static_cast<int64_t>(i) * 80, "server",
                            causes[i], 1'000 * static_cast<int64_t>(i + 1) * 7,
                            100'000 * static_cast<int64_t>(i + 1), fatal ? "57P01" : ""));
  }
  // A lone drop later on is not part of it.
  fx.on_event(close_event("server", 300, 20'000, "server", "server_eof", 5'000, 50'000));
  auto eval = fx.evaluate(at_ms(30'000));
  // The server said 57P01 (shutting down) on four of them: a planned restart.
  auto bursts = of_kind(eval.all, "server_restart");
  ASSERT_EQ(bursts.size(), 1u);
  const Finding& b = bursts[0];
  EXPECT_EQ(b.key, "server_restart/2027-01-15T08:00:05Z");
  EXPECT_EQ(b.value, 6);
  EXPECT_EQ(b.count, 6u);
  EXPECT_EQ(b.conn_ids, (std::vector<uint64_t>{200, 201, 202, 203, 204, 205}));
  EXPECT_EQ(b.first, at_ms(5'000));
  EXPECT_EQ(b.last, at_ms(5'400));
  EXPECT_EQ(b.summary,
            "6 connections dropped within 0.4 s at 2027-01-15T08:00:05Z (causes server_fatal×4, "
            "server_eof×2; sqlstates 57P01×4): a planned restart or failover: the server said it "
            "was shutting down or not accepting connections.");
  EXPECT_NE(b.fix.find("Check the server log around 2027-01-15T08:00:05Z"), std::string::npos);
  // The same 57P01 closes are also named as terminations.
  auto killed = of_kind(eval.all, "server_terminated");
  ASSERT_EQ(killed.size(), 1u);
  EXPECT_EQ(killed[0].count, 4u);
  EXPECT_EQ(killed[0].key, "server_terminated/10.0.0.5:5432");
  EXPECT_EQ(killed[0].summary,
            "4 connections to 10.0.0.5:5432 terminated by an administrator or a server shutdown "
            "(57P01) between 2027-01-15T08:00:05Z and 2027-01-15T08:00:05Z.");
  EXPECT_EQ(eval.all.size(), 2u);
}

TEST(ForensicsBurst, SpreadOrTooFewIsNoBurst) {
  Forensics fx({});
  // Six drops two seconds apart, then four within one second (burst_min is 5).
  for (uint64_t i = 0; i < 6; ++i) {
    fx.on_event(close_event("server", 400 + i, static_cast<int64_t>(i) * 2'000, "server",
                            "server_eof", 1'000 * static_cast<int64_t>(i + 1) * 13, 999'000));
  }
  for (uint64_t i = 0; i < 4; ++i) {
    fx.on_event(close_event("server", 500 + i, 60'000 + static_cast<int64_t>(i) * 200, "network",
                            "peer_reset", 1'000 * static_cast<int64_t>(i + 1) * 29, 77'000));
  }
  // Proxy closes never make a burst, however many.
  for (uint64_t i = 0; i < 8; ++i) {
    fx.on_event(close_event("server", 600 + i, 90'000 + static_cast<int64_t>(i) * 10, "proxy",
                            "reset_failed", 100, 1'000 * static_cast<int64_t>(i + 2) * 31));
  }
  EXPECT_TRUE(of_kind(fx.evaluate(at_ms(100'000)).all, "burst").empty());
}

TEST(ForensicsBurst, TwoSeparateBurstsAreTwoFindings) {
  Forensics fx({});
  for (int group = 0; group < 2; ++group) {
    for (uint64_t i = 0; i < 5; ++i) {
      uint64_t id = 700 + static_cast<uint64_t>(group) * 10 + i;
      fx.on_event(close_event("server", id, group * 3'000 + static_cast<int64_t>(i) * 100, "server",
                              "server_eof", 2'000 * static_cast<int64_t>(i + 1),
                              1'000'000 * static_cast<int64_t>(i + 1)));
    }
  }
  auto bursts = of_kind(fx.evaluate(at_ms(10'000)).all, "burst");
  ASSERT_EQ(bursts.size(), 2u);
  EXPECT_EQ(bursts[0].key, "burst/2027-01-15T08:00:00Z");
  EXPECT_EQ(bursts[1].key, "burst/2027-01-15T08:00:03Z");
  EXPECT_EQ(bursts[1].conn_ids, (std::vector<uint64_t>{710, 711, 712, 713, 714}));
}

TEST(ForensicsPool, TimeoutsNameTheExhaustedPool) {
  Forensics fx({});
  for (uint64_t i = 0; i < 4; ++i) fx.on_event(pool_event("pool.wait", 800 + i, 0));
  fx.on_event(pool_event("pool.timeout", 800, 5'000, 5'000));
  fx.on_event(pool_event("pool.timeout", 801, 5'001, 5'001));
  fx.on_event(pool_event("pool.timeout", 802, 5'003, 5'003));
  auto all = fx.evaluate(at_ms(6'000)).all;
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].kind, "pool_exhaustion");
  EXPECT_EQ(all[0].key, "pool_exhaustion/app/alice");
  EXPECT_EQ(all[0].count, 3u);
  EXPECT_DOUBLE_EQ(all[0].value, 5.003);
  EXPECT_EQ(all[0].application_name, "web");
  EXPECT_EQ(all[0].causes, (std::map<std::string, uint64_t>{{"query_wait_timeout", 3}}));
  EXPECT_EQ(all[0].summary,
            "pool app/alice exhausted: 3 clients timed out waiting for a server connection (max "
            "wait 5.0 s; 4 pool.wait events).");
  EXPECT_NE(all[0].fix.find("Raise pool_size for app/alice"), std::string::npos);
}

TEST(ForensicsPool, TwoTimeoutsAreBelowMinCount) {
  Forensics fx({});
  fx.on_event(pool_event("pool.timeout", 810, 0, 1'000));
  fx.on_event(pool_event("pool.timeout", 811, 10, 1'000));
  EXPECT_TRUE(fx.evaluate(at_ms(1'000)).all.empty());
}

TEST(ForensicsMaxConnections, OneServerRefusalIsEnough) {
  Forensics fx({});
  ConnectionEvent refused;
  refused.ts = at_ms(0);
  refused.event = "server.connect_failed";
  refused.side = "server";
  refused.conn_id = 900;
  refused.backend = "10.0.0.5:5432";
  refused.initiator = "server";
  refused.cause = "server_login_failed";
  refused.sqlstate = "53300";
  fx.on_event(refused);
  // pgwarden's own max_client_conn answers 53300 too; not the server.
  fx.on_event(close_event("client", 901, 10, "proxy", "max_client_conn", 0, 5, "53300"));
  auto all = fx.evaluate(at_ms(1'000)).all;
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].kind, "max_connections");
  EXPECT_EQ(all[0].key, "max_connections/10.0.0.5:5432");
  EXPECT_EQ(all[0].conn_ids, (std::vector<uint64_t>{900}));
  EXPECT_EQ(all[0].summary,
            "The server 10.0.0.5:5432 refused connections: max_connections reached (1 times).");
  EXPECT_NE(all[0].fix.find("pgwarden audit"), std::string::npos);
}

TEST(ForensicsIdleInTransaction, GroupedPerApplication) {
  Forensics fx({});
  for (uint64_t i = 0; i < 3; ++i) {
    ConnectionEvent e = close_event("client", 1000 + i, static_cast<int64_t>(i) * 1'000, "proxy",
                                    "idle_transaction_timeout", 30'000, 90'000, "25P03");
    e.application_name = "billing";
    fx.on_event(e);
  }
  for (uint64_t i = 0; i < 2; ++i) {
    ConnectionEvent e = close_event("client", 1100 + i, static_cast<int64_t>(i) * 1'000, "proxy",
                                    "idle_transaction_timeout", 30'000, 90'000, "25P03");
    e.application_name = "reports";
    fx.on_event(e);
  }
  auto all = fx.evaluate(at_ms(10'000)).all;
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].kind, "idle_in_transaction");
  EXPECT_EQ(all[0].key, "idle_in_transaction/app/alice/billing");
  EXPECT_EQ(all[0].application_name, "billing");
  EXPECT_EQ(all[0].summary,
            "3 connections of application billing in pool app/alice were closed for sitting idle "
            "inside a transaction, by pgwarden's idle_transaction_timeout: the app leaves "
            "transactions open.");
  EXPECT_EQ(all[0].fix.rfind("Make billing commit or roll back promptly", 0), 0u) << all[0].fix;
}

TEST(ForensicsWindow, OldEventsAreEvicted) {
  ForensicsConfig cfg;
  cfg.window = milliseconds(60'000);
  Forensics fx(cfg);
  for (uint64_t i = 0; i < 3; ++i) {
    fx.on_event(close_event("server", 1200 + i, static_cast<int64_t>(i) * 1'000, "server",
                            "server_eof", 350'000, 900'000));
  }
  EXPECT_EQ(fx.evaluate(at_ms(60'000)).all.size(), 1u);  // all three within 60 s
  // At 61.5 s the close at 0 s and 1 s are gone: one left, below min_count.
  EXPECT_TRUE(fx.evaluate(at_ms(61'500)).all.empty());
  EXPECT_TRUE(fx.findings().empty());
}

TEST(ForensicsWindow, BoundedToMaxEvents) {
  Forensics fx({});
  const size_t n = Forensics::kMaxEvents + 7;
  for (size_t i = 0; i < n; ++i) fx.on_event(pool_event("pool.timeout", 5000 + i, 0, 10));
  auto all = fx.evaluate(at_ms(1'000)).all;
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].count, Forensics::kMaxEvents);
  EXPECT_EQ(all[0].conn_ids.front(), 5007u);  // the oldest seven went first
  EXPECT_EQ(all[0].conn_ids.size(), 10u);
}

TEST(ForensicsFresh, OnlyNewKeysAreFreshAndReturningOnesAgain) {
  ForensicsConfig cfg;
  cfg.window = milliseconds(60'000);
  Forensics fx(cfg);
  auto add_cuts = [&](int64_t start_ms, uint64_t first_id) {
    for (uint64_t i = 0; i < 3; ++i) {
      fx.on_event(close_event("server", first_id + i, start_ms + static_cast<int64_t>(i) * 1'000,
                              "server", "server_eof", 350'000 + static_cast<int64_t>(i) * 300,
                              900'000));
    }
  };
  add_cuts(0, 1300);
  auto first = fx.evaluate(at_ms(5'000));
  ASSERT_EQ(first.fresh.size(), 1u);
  EXPECT_EQ(first.fresh[0].key, "idle_cut/server/350");
  // More closes of the same pattern: the same finding, not fresh.
  fx.on_event(close_event("server", 1310, 6'000, "server", "server_eof", 350'100, 400'000));
  auto second = fx.evaluate(at_ms(7'000));
  EXPECT_EQ(second.all.size(), 1u);
  EXPECT_EQ(second.all[0].count, 4u);
  EXPECT_TRUE(second.fresh.empty());
  // It ages out, then comes back: fresh again.
  EXPECT_TRUE(fx.evaluate(at_ms(200'000)).all.empty());
  add_cuts(300'000, 1400);
  auto back = fx.evaluate(at_ms(305'000));
  ASSERT_EQ(back.fresh.size(), 1u);
  EXPECT_EQ(back.fresh[0].conn_ids, (std::vector<uint64_t>{1400, 1401, 1402}));
  ASSERT_EQ(fx.findings().size(), 1u);
}

TEST(ForensicsConfigTest, DisabledSeesNothing) {
  ForensicsConfig cfg;
  cfg.enabled = false;
  Forensics fx(cfg);
  for (uint64_t i = 0; i < 3; ++i) fx.on_event(pool_event("pool.timeout", 1500 + i, 0, 10));
  EXPECT_TRUE(fx.evaluate(at_ms(1'000)).all.empty());
}

TEST(ForensicsConfigTest, ValidationNamesTheKey) {
  EXPECT_NO_THROW(validate_forensics({}));
  ForensicsConfig cfg;
  cfg.min_count = 0;
  try {
    validate_forensics(cfg);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "[forensics] min_count must be at least 1 (got 0)");
  }
  cfg = {};
  cfg.burst_window = milliseconds(0);
  EXPECT_THROW(validate_forensics(cfg), std::invalid_argument);
}

TEST(ForensicsOutput, JsonAndEvent) {
  Finding f;
  f.kind = "idle_cut";
  f.key = "idle_cut/server/350";
  f.summary = "3 server connections were cut after 350 s idle.";
  f.fix = "Enable keepalives.";
  f.count = 3;
  f.first = at_ms(0);
  f.last = at_ms(1'500);
  f.conn_ids = {1, 2, 3};
  f.pool = "app/alice";
  f.value = 350;
  f.causes = {{"server_eof", 3}};
  nlohmann::json j = to_json(f);
  EXPECT_EQ(j["kind"], "idle_cut");
  EXPECT_EQ(j["key"], "idle_cut/server/350");
  EXPECT_EQ(j["count"], 3);
  EXPECT_EQ(j["first"], "2027-01-15T08:00:00.000000Z");
  EXPECT_EQ(j["last"], "2027-01-15T08:00:01.500000Z");
  EXPECT_EQ(j["conn_ids"], nlohmann::json::array({1, 2, 3}));
  EXPECT_EQ(j["pool"], "app/alice");
  EXPECT_FALSE(j.contains("backend"));
  EXPECT_EQ(j["value"], 350.0);
  EXPECT_EQ(j["causes"]["server_eof"], 3);

  ConnectionEvent e = finding_event(f);
  EXPECT_EQ(e.event, "forensics.finding");
  EXPECT_EQ(e.cause, "idle_cut");
  EXPECT_EQ(e.pool, "app/alice");
  EXPECT_EQ(e.message, "3 server connections were cut after 350 s idle. Fix: Enable keepalives.");
}
