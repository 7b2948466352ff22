#include <gtest/gtest.h>

#include "observe_test_transport.hpp"
#include "pgwarden/observe/bus.hpp"

using namespace pgw;
using namespace pgw::observe;
using namespace std::chrono_literals;
using pgw::test::eventually;
using pgw::test::TestTransport;
using pgw::test::TransportControl;

namespace {

ConnectionEvent event_at(const std::string& name, SystemClock::time_point ts, uint64_t id = 0) {
  ConnectionEvent e;
  e.event = name;
  e.ts = ts;
  e.conn_id = id;
  return e;
}

std::unique_ptr<AsyncSink> test_sink(const std::string& name,
                                     std::shared_ptr<TransportControl> control, EventBus& bus) {
  SinkOptions o;
  o.name = name;
  o.queue_size = 100;
  o.batch_size = 1;
  o.flush_interval = 1ms;
  o.retry_min = 1ms;
  o.retry_max = 4ms;
  return std::make_unique<AsyncSink>(o, std::make_unique<TestTransport>(std::move(control)),
                                     [&bus](ConnectionEvent e) { bus.publish(e); });
}

bool has_line_with(const std::vector<std::string>& lines, const std::string& text) {
  for (auto& l : lines)
    if (l.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST(EventBus, CountsAndKeepsARingOfRecentEvents) {
  EventBus bus;
  bus.set_recent_capacity(3);
  auto t0 = SystemClock::now();
  for (uint64_t i = 1; i <= 5; ++i) bus.publish(event_at("client.open", t0, i));
  ConnectionEvent close = event_at("client.close", t0, 6);
  close.side = "client";
  close.initiator = "client";
  close.cause = "client_eof";
  bus.publish(close);

  auto recent = bus.recent(10);
  ASSERT_EQ(recent.size(), 3u);
  EXPECT_EQ(recent[0].conn_id, 4u);
  EXPECT_EQ(recent[2].conn_id, 6u);
  EXPECT_EQ(bus.recent(1)[0].conn_id, 6u);
  EXPECT_EQ(bus.event_counts(),
            (std::map<std::string, uint64_t>{{"client.close", 1}, {"client.open", 5}}));
  EXPECT_EQ(bus.close_counts(),
            (std::map<CloseKey, uint64_t>{{{"client", "client", "client_eof"}, 1}}));
  bus.set_recent_capacity(1);
  EXPECT_EQ(bus.recent(10).size(), 1u);
}

TEST(EventBus, RecentSinceReturnsTheOldestMatchingFirst) {
  EventBus bus;
  auto t0 = SystemClock::now();
  for (uint64_t i = 0; i < 5; ++i) bus.publish(event_at("server.open", t0 + i * 1s, i));
  auto got = bus.recent_since(t0 + 2s, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].conn_id, 2u);
  EXPECT_EQ(got[1].conn_id, 3u);
  EXPECT_EQ(bus.recent_since(t0 + 2s, 100).size(), 3u);
  EXPECT_TRUE(bus.recent_since(t0 + 10s, 100).empty());
}

TEST(EventBus, ListenersSeeEveryEventAndMayPublish) {
  EventBus bus;
  std::vector<std::string> seen;
  bus.add_listener([&](const ConnectionEvent& e) {
    seen.push_back(e.event);
    if (e.event == "client.close") bus.publish(event_at("derived", e.ts));  // no deadlock
  });
  bus.add_listener([&](const ConnectionEvent& e) { seen.push_back("second:" + e.event); });
  auto t0 = SystemClock::now();
  bus.publish(event_at("client.open", t0));
  bus.publish(event_at("client.close", t0));
  EXPECT_EQ(seen, (std::vector<std::string>{"client.open", "second:client.open", "client.close",
                                            "derived", "second:derived", "second:client.close"}));
  EXPECT_EQ(bus.event_counts()["derived"], 1u);
}

TEST(EventBus, SinkAnnouncementsReachEverySinkIncludingTheFailingOne) {
  auto bad = std::make_shared<TransportControl>();
  auto good = std::make_shared<TransportControl>();
  bad->set_fail(true);
  bad->error = "disk full";
  EventBus bus;
  bus.add_sink(test_sink("bad", bad, bus));
  bus.add_sink(test_sink("good", good, bus));
  bus.publish(event_at("client.open", SystemClock::now(), 7));

  ASSERT_TRUE(eventually([&] { return has_line_with(good->lines(), "sink.failing"); }));
  EXPECT_TRUE(has_line_with(good->lines(), "\"message\":\"event sink bad is failing: disk full\""));
  // The failing sink queued its own announcement behind the stuck event.
  ASSERT_TRUE(eventually([&] { return bus.sink_health()[0].queued == 2; }));
  auto health = bus.sink_health();
  ASSERT_EQ(health.size(), 2u);
  EXPECT_EQ(health[0].name, "bad");
  EXPECT_FALSE(health[0].up);
  EXPECT_EQ(health[0].last_error, "disk full");
  EXPECT_TRUE(health[1].up);

  bad->set_fail(false);
  ASSERT_TRUE(eventually([&] { return has_line_with(good->lines(), "sink.recovered"); }));
  ASSERT_TRUE(bus.flush(10s));
  auto lines = bad->lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find("\"conn_id\":7"), std::string::npos);
  EXPECT_NE(lines[1].find("\"event\":\"sink.failing\""), std::string::npos);
  EXPECT_NE(lines[2].find("\"event\":\"sink.recovered\""), std::string::npos);
  EXPECT_NE(lines[2].find("\"count\":0"), std::string::npos);
  EXPECT_EQ(bus.event_counts()["sink.failing"], 1u);
  EXPECT_EQ(bus.event_counts()["sink.recovered"], 1u);
}
