// client_exit: every client connection of one peer closing in one moment is
// the app's process exiting (zero-cache stopped, a deploy), not a cut; its
// closes must not feed idle_cut or fixed_age.
#include <gtest/gtest.h>

#include "forensics_test_events.hpp"

using namespace pgw::observe;
using namespace pgw::test::forensics;

namespace {

// A client close from `host`, each connection on its own source port.
ConnectionEvent client_close_from(const std::string& host, uint64_t id, int64_t ts_ms,
                                  const std::string& cause, int64_t idle_ms, int64_t age_ms) {
  ConnectionEvent e = close_event("client", id, ts_ms, "client", cause, idle_ms, age_ms);
  e.peer = host + ":" + std::to_string(40'000 + id);
  e.application_name = "zero-cache";
  return e;
}

}  // namespace

TEST(ForensicsClientExit, ElevenClosesFromOnePeerWithinMsAreAnExitNotAnIdleCut) {
  // zero-cache stopped: its pools' 11 connections, all idle for 8 s, close
  // within 4 ms. Today's false alarm was an idle_cut at 8 s.
  Forensics fx({});
  for (uint64_t i = 0; i < 11; ++i) {
    fx.on_event(client_close_from("10.0.0.7", 100 + i, 5'000 + static_cast<int64_t>(i % 5),
                                  "client_eof", 8'000 + static_cast<int64_t>(i) * 20,
                                  60'000 + static_cast<int64_t>(i) * 1'000));
  }
  auto all = fx.evaluate(at_ms(10'000)).all;
  ASSERT_EQ(all.size(), 1u);
  const Finding& f = all[0];
  EXPECT_EQ(f.kind, "client_exit");
  EXPECT_EQ(f.key, "client_exit/10.0.0.7/2027-01-15T08:00:05Z");
  EXPECT_EQ(f.peer, "10.0.0.7");
  EXPECT_EQ(f.value, 11);
  EXPECT_EQ(f.count, 11u);
  EXPECT_EQ(f.application_name, "zero-cache");
  EXPECT_EQ(f.summary,
            "11 client connections from 10.0.0.7 (application zero-cache) closed within 4 ms at "
            "2027-01-15T08:00:05Z (client_eof×11): the app's process exited or was stopped; "
            "nothing cut them.");
  EXPECT_NE(f.fix.find("the app's own log"), std::string::npos) << f.fix;
}

TEST(ForensicsClientExit, AnExitLeavesTheOtherPeersIdleCutStanding) {
  // A real cut of another peer's connections at 240 s, spread over minutes,
  // while the exiting peer's closes (at the same idle age, by chance) are
  // left out of its evidence.
  Forensics fx({});
  for (uint64_t i = 0; i < 3; ++i) {
    fx.on_event(client_close_from("10.0.0.9", 200 + i, static_cast<int64_t>(i) * 60'000,
                                  "client_eof", 240'000 + static_cast<int64_t>(i) * 300, 900'000));
  }
  for (uint64_t i = 0; i < 5; ++i) {
    fx.on_event(client_close_from("10.0.0.7", 300 + i, 200'000 + static_cast<int64_t>(i),
                                  "client_eof", 240'200, 500'000));
  }
  auto all = fx.evaluate(at_ms(210'000)).all;
  auto cuts = of_kind(all, "idle_cut");
  ASSERT_EQ(cuts.size(), 1u);
  EXPECT_EQ(cuts[0].count, 3u);
  EXPECT_EQ(cuts[0].conn_ids, (std::vector<uint64_t>{200, 201, 202}));
  ASSERT_EQ(of_kind(all, "client_exit").size(), 1u);
  EXPECT_EQ(of_kind(all, "client_exit")[0].count, 5u);
}

TEST(ForensicsClientExit, AnExitIsNotFixedAgeEvidence) {
  // Something retires connections at 30 min (four of them, spread over
  // time); an app that exits with three connections opened together at its
  // start-up adds three closes of the same age, which are no evidence of it.
  Forensics fx({});
  const int64_t idle_ms[] = {2'000, 30'000, 75'000, 140'000};
  for (uint64_t i = 0; i < 4; ++i) {
    fx.on_event(client_close_from("10.0.0.8", 400 + i, static_cast<int64_t>(i) * 45'000,
                                  "client_terminate", idle_ms[i], 1'800'000));
  }
  for (uint64_t i = 0; i < 3; ++i) {
    fx.on_event(client_close_from("10.0.0.7", 410 + i, 200'000 + static_cast<int64_t>(i) * 3,
                                  "client_terminate", idle_ms[i] + 500, 1'800'300));
  }
  auto all = fx.evaluate(at_ms(210'000)).all;
  auto ages = of_kind(all, "fixed_age");
  ASSERT_EQ(ages.size(), 1u);
  EXPECT_EQ(ages[0].count, 4u);
  EXPECT_EQ(ages[0].conn_ids, (std::vector<uint64_t>{400, 401, 402, 403}));
  EXPECT_EQ(of_kind(all, "client_exit").size(), 1u);
}

TEST(ForensicsClientExit, ClosesSpreadOverTimeAreNoExit) {
  // An app-side pool idle timeout retires one connection at a time: an
  // idle cut on the client side, never an exit.
  Forensics fx({});
  for (uint64_t i = 0; i < 4; ++i) {
    fx.on_event(client_close_from("10.0.0.7", 500 + i, static_cast<int64_t>(i) * 2'000,
                                  "client_eof", 30'000 + static_cast<int64_t>(i) * 10, 90'000));
  }
  auto all = fx.evaluate(at_ms(10'000)).all;
  EXPECT_TRUE(of_kind(all, "client_exit").empty());
  EXPECT_EQ(of_kind(all, "idle_cut").size(), 1u);
}

TEST(ForensicsClientExit, SimultaneousResetsAreACutNotAnExit) {
  // A middlebox that resets connections which went idle together resets
  // them together: RSTs are its signature, an exiting process closes with
  // FIN or Terminate.
  Forensics fx({});
  for (uint64_t i = 0; i < 4; ++i) {
    fx.on_event(client_close_from("10.0.0.7", 600 + i, 1'000 + static_cast<int64_t>(i),
                                  "peer_reset", 350'000, 400'000));
  }
  auto all = fx.evaluate(at_ms(2'000)).all;
  EXPECT_TRUE(of_kind(all, "client_exit").empty());
  EXPECT_EQ(of_kind(all, "idle_cut").size(), 1u);
}

TEST(ForensicsClientExit, ClosesFromDifferentPeersOrTooFewAreNoExit) {
  Forensics fx({});
  // Three peers, one close each, in the same millisecond.
  for (uint64_t i = 0; i < 3; ++i) {
    fx.on_event(client_close_from("10.0.0." + std::to_string(20 + i), 700 + i, 1'000, "client_eof",
                                  5'000, 50'000));
  }
  // Two closes of one peer: below min_count.
  for (uint64_t i = 0; i < 2; ++i) {
    fx.on_event(client_close_from("10.0.0.30", 710 + i, 2'000, "client_eof", 5'000, 50'000));
  }
  EXPECT_TRUE(of_kind(fx.evaluate(at_ms(3'000)).all, "client_exit").empty());
}
