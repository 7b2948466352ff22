// Workloads that must NOT produce a pattern, one per kind that had only its
// positive case: a pattern that fires on healthy traffic is a false alarm.
#include <gtest/gtest.h>

#include "forensics_test_events.hpp"

using namespace pgw::observe;
using namespace pgw::test::forensics;

TEST(ForensicsNegative, ADayOfHealthyClosesFindsNothing) {
  // Apps logging out cleanly at scattered times, pgwarden retiring idle and
  // old server links by its own policies, one pool.wait.
  Forensics fx({});
  const int64_t idle_s[] = {3, 40, 7, 120, 15, 65, 2, 300};
  const int64_t age_s[] = {30, 900, 75, 2'400, 200, 1'300, 12, 4'000};
  for (uint64_t i = 0; i < 8; ++i) {
    const auto ts = static_cast<int64_t>(i) * 37'000;
    fx.on_event(close_event("client", 10 + i, ts, "client", "client_terminate", idle_s[i] * 1000,
                            age_s[i] * 1000));
  }
  for (uint64_t i = 0; i < 4; ++i) {
    const auto ts = 5'000 + static_cast<int64_t>(i) * 90'000;
    fx.on_event(close_event("server", 30 + i, ts, "proxy", "idle_timeout", 600'000, 1'200'000));
    fx.on_event(close_event("server", 40 + i, ts + 20'000, "proxy", "lifetime",
                            static_cast<int64_t>(i + 1) * 4'000, 3'600'000));
  }
  fx.on_event(pool_event("pool.wait", 50, 100'000, 150));
  EXPECT_TRUE(fx.evaluate(at_ms(400'000)).all.empty());
}

TEST(ForensicsNegative, PgwardensOwnMaxClientConnIsNotMaxConnections) {
  Forensics fx({});
  for (uint64_t i = 0; i < 5; ++i) {
    fx.on_event(close_event("client", 100 + i, static_cast<int64_t>(i) * 10, "proxy",
                            "max_client_conn", 0, 5, "53300"));
  }
  EXPECT_TRUE(of_kind(fx.evaluate(at_ms(1'000)).all, "max_connections").empty());
}

TEST(ForensicsNegative, FewerIdleTransactionKillsThanMinCountPerAppAreNothing) {
  // Two per application, in two applications: four in all, but no app
  // leaves transactions open often enough to be named.
  Forensics fx({});
  for (uint64_t i = 0; i < 4; ++i) {
    ConnectionEvent e = close_event("client", 200 + i, static_cast<int64_t>(i) * 1'000, "proxy",
                                    "idle_transaction_timeout", 30'000, 90'000, "25P03");
    e.application_name = i % 2 ? "billing" : "reports";
    fx.on_event(e);
  }
  EXPECT_TRUE(of_kind(fx.evaluate(at_ms(10'000)).all, "idle_in_transaction").empty());
}

TEST(ForensicsNegative, IdleSessionNeedsItsSqlstateNotJustAnIdleClose) {
  // Idle connections the app's pool retires itself (Terminate, no SQLSTATE)
  // are not idle-session kills, however many.
  Forensics fx({});
  for (uint64_t i = 0; i < 5; ++i) {
    fx.on_event(close_event("client", 300 + i, static_cast<int64_t>(i) * 7'000, "client",
                            "client_terminate", 10'000, 50'000 + static_cast<int64_t>(i) * 9'000));
  }
  EXPECT_TRUE(of_kind(fx.evaluate(at_ms(60'000)).all, "idle_session").empty());
}

TEST(ForensicsNegative, ACrashRestartIsNotAnAdministratorsTermination) {
  // 57P02 (crash of another server process) is not 57P01: nobody ran
  // pg_terminate_backend.
  Forensics fx({});
  for (uint64_t i = 0; i < 4; ++i) {
    fx.on_event(close_event("server", 400 + i, 1'000 + static_cast<int64_t>(i) * 2'000, "server",
                            "server_eof", 1'000, 60'000, "57P02"));
  }
  EXPECT_TRUE(of_kind(fx.evaluate(at_ms(10'000)).all, "server_terminated").empty());
}
