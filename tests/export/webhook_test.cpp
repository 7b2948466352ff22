// The alert webhook transport against a real local HTTP endpoint, alone and
// behind an AsyncSink the way the monitor uses it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http_receiver.hpp"
#include "pgwarden/export/webhook_transport.hpp"

using namespace pgw;
using namespace pgw::exporter;
using pgw::test::HttpReceiver;
using namespace std::chrono_literals;

namespace {

observe::SerializedEvent notice(const std::string& status) {
  observe::ConnectionEvent e;
  e.event = "alert." + status;
  return {e, R"({"text":"[)" + status + R"(] rule","status":")" + status + R"("})"};
}

}  // namespace

TEST(Webhook, EachNoticeIsItsOwnPostAndFailuresAreReported) {
  HttpReceiver rx;
  std::vector<std::string> failures;
  WebhookTransport t(rx.url("/hook"), 2s,
                     [&failures](const std::string& e) { failures.push_back(e); });
  std::string error;
  ASSERT_TRUE(t.deliver({notice("firing"), notice("resolved")}, error)) << error;
  ASSERT_TRUE(rx.wait_for_requests(2));
  auto reqs = rx.requests();
  EXPECT_EQ(reqs[0].target, "/hook");
  EXPECT_EQ(reqs[0].headers["content-type"], "application/json");
  EXPECT_EQ(nlohmann::json::parse(reqs[0].body)["status"], "firing");
  EXPECT_EQ(nlohmann::json::parse(reqs[1].body)["status"], "resolved");
  EXPECT_TRUE(failures.empty());

  rx.set_error_body("no such channel");
  rx.set_mode(HttpReceiver::Mode::error500);
  EXPECT_FALSE(t.deliver({notice("firing")}, error));
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_NE(failures[0].find("500"), std::string::npos) << failures[0];
  EXPECT_NE(failures[0].find("no such channel"), std::string::npos) << failures[0];
  EXPECT_EQ(error, failures[0]);

  EXPECT_THROW(WebhookTransport("https://hooks.example/x", 1s), std::invalid_argument);
}

TEST(Webhook, AStalledEndpointNeverBlocksThePusherAndIsRetriedInOrder) {
  HttpReceiver rx;
  rx.set_mode(HttpReceiver::Mode::stall);
  observe::SinkOptions o;
  o.name = "webhook:" + rx.url("/hook");
  o.batch_size = 1;
  o.flush_interval = 0ms;
  o.retry_min = 10ms;
  o.retry_max = 20ms;
  std::atomic<int> failed{0};
  observe::AsyncSink sink(o, std::make_unique<WebhookTransport>(
                                 rx.url("/hook"), 1s, [&failed](const std::string&) { ++failed; }));
  auto start = std::chrono::steady_clock::now();
  sink.push(notice("firing").event, notice("firing").json);
  sink.push(notice("resolved").event, notice("resolved").json);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);  // queued, not posted here

  // The stalled attempt times out and counts; once the endpoint answers, both
  // notices arrive, in order.
  for (int i = 0; i < 250 && failed == 0; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_GE(failed.load(), 1);
  rx.set_mode(HttpReceiver::Mode::ok);
  ASSERT_TRUE(sink.flush(10s));
  std::vector<std::string> statuses;
  for (auto& r : rx.requests())
    if (!r.body.empty()) statuses.push_back(nlohmann::json::parse(r.body)["status"]);
  ASSERT_GE(statuses.size(), 2u);
  EXPECT_EQ(statuses[statuses.size() - 2], "firing");
  EXPECT_EQ(statuses.back(), "resolved");
}
