// Event sinks through the real proxy: a dead Loki endpoint never slows
// clients, its drops are counted in /metrics and announced once it is back;
// SIGUSR1 makes the file sink reopen its path after logrotate's rename.
#include <fmt/format.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "../export/http_receiver.hpp"
#include "http_get.hpp"
#include "stack.hpp"

namespace pgw::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

class Sinks : public ProxyTest {};

TEST_F(Sinks, DeadLokiCostsClientsNothingAndItsDropsAreCountedAndAnnounced) {
  const int loki_port = free_port();  // nothing listens here yet
  const int admin_port = free_port();
  const std::string sink = fmt::format("loki:http://127.0.0.1:{}/loki/api/v1/push", loki_port);
  start_proxy(
      fmt::format("[admin]\nlisten = \"127.0.0.1:{}\"\n[[events.sink]]\ntype = \"loki\"\n"
                  "url = \"http://127.0.0.1:{}/loki/api/v1/push\"\nqueue_size = 5\nbatch_size = 5\n"
                  "flush_interval = \"50ms\"\ntimeout = \"500ms\"\n",
                  admin_port, loki_port));
  // 20 connections = 40+ events into a queue of 5 whose endpoint is down.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(pq_exec(client().get(), "SELECT 1").value, "1");
  std::string m;
  std::optional<double> dropped;
  for (int i = 0; i < 50; ++i) {
    m = http_get(admin_port, "/metrics").body;
    dropped = metric_value(m, "pgwarden_sink_events_dropped_total{sink=\"" + sink + "\"}");
    if (dropped && *dropped > 0) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(dropped) << m;
  EXPECT_GE(*dropped, 20.0);
  EXPECT_EQ(metric_value(m, "pgwarden_sink_up{sink=\"" + sink + "\"}"), 0.0);
  auto failing = proxy().wait_event({{"event", "sink.failing"}, {"sink", sink}});
  EXPECT_NE(failing["message"].get<std::string>().find("127.0.0.1"), std::string::npos)
      << failing.dump();

  // Loki comes back: the sink delivers again and says how much it lost.
  HttpReceiver loki(static_cast<uint16_t>(loki_port));
  auto recovered = proxy().wait_event({{"event", "sink.recovered"}, {"sink", sink}}, 20);
  ASSERT_FALSE(recovered.is_null()) << proxy().stderr_text();
  EXPECT_GE(recovered["count"].get<int>(), 20) << recovered.dump();
  ASSERT_TRUE(loki.wait_for_requests(1, 15s));
  auto push = json::parse(loki.requests().back().body);
  EXPECT_TRUE(push.contains("streams")) << push.dump();
  EXPECT_EQ(metric_value(http_get(admin_port, "/metrics").body,
                         "pgwarden_sink_up{sink=\"" + sink + "\"}"),
            1.0);
}

TEST_F(Sinks, Sigusr1ReopensTheEventFileAfterARename) {
  start_proxy("");
  EXPECT_EQ(pq_exec(client().get(), "SELECT 1").value, "1");
  proxy().settled_events();
  const auto file = proxy().dir() / "events.jsonl";
  const auto rotated = proxy().dir() / "events.jsonl.1";
  std::filesystem::rename(file, rotated);
  ASSERT_EQ(::kill(proxy().pid(), SIGUSR1), 0);
  std::this_thread::sleep_for(300ms);
  auto c = client("application_name=after-rotate");
  EXPECT_EQ(pq_exec(c.get(), "SELECT 2").value, "2");
  auto opened =
      proxy().wait_event({{"event", "client.open"}, {"application_name", "after-rotate"}});
  EXPECT_FALSE(opened.is_null()) << "no event in the reopened file";
  std::ifstream old(rotated);
  std::string all((std::istreambuf_iterator<char>(old)), {});
  EXPECT_EQ(all.find("after-rotate"), std::string::npos);  // went to the new file only
  EXPECT_NE(all.find("client.open"), std::string::npos);   // the old events stayed put
}

}  // namespace
}  // namespace pgw::test
