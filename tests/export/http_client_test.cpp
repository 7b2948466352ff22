#include <gtest/gtest.h>

#include "http_receiver.hpp"
#include "pgwarden/export/http_client.hpp"
#include "pgwarden/export/http_url.hpp"

using namespace pgw::exporter;
using pgw::test::HttpReceiver;
using namespace std::chrono_literals;

TEST(HttpUrl, ParsesHostPortAndPath) {
  std::string error;
  auto u = parse_http_url("http://loki.internal:3100/loki/api/v1/push", error);
  ASSERT_TRUE(u) << error;
  EXPECT_EQ(u->host, "loki.internal");
  EXPECT_EQ(u->port, 3100);
  EXPECT_EQ(u->target, "/loki/api/v1/push");

  u = parse_http_url("http://collector", error);
  ASSERT_TRUE(u) << error;
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/");
  EXPECT_EQ(u->str(), "http://collector/");

  u = parse_http_url("http://[::1]:4318/v1/logs?x=1", error);
  ASSERT_TRUE(u) << error;
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 4318);
  EXPECT_EQ(u->target, "/v1/logs?x=1");
  EXPECT_EQ(u->authority(), "[::1]:4318");
}

TEST(HttpUrl, RefusesWhatItCannotSpeak) {
  std::string error;
  EXPECT_FALSE(parse_http_url("https://loki:3100/", error));
  EXPECT_EQ(error, "https://loki:3100/: https is not supported yet (no TLS); use http://");
  EXPECT_FALSE(parse_http_url("ftp://x/", error));
  EXPECT_EQ(error, "ftp://x/: expected http://HOST[:PORT][/PATH]");
  EXPECT_FALSE(parse_http_url("http://host:99999/", error));
  EXPECT_EQ(error, "http://host:99999/: bad port \"99999\"");
  EXPECT_FALSE(parse_http_url("http:///path", error));
  EXPECT_EQ(error, "http:///path: no host");
  EXPECT_FALSE(parse_http_url("http://[::1:80/", error));
}

TEST(HttpPost, SendsBodyHeadersAndSucceedsOn2xx) {
  HttpReceiver rx;
  std::string error;
  ASSERT_TRUE(http_post(rx.url("/hook?a=b"), "application/json", R"({"x":1})", 5s, error,
                        {{"X-Scope-OrgID", "tenant-1"}}))
      << error;
  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/hook?a=b");
  EXPECT_EQ(reqs[0].body, R"({"x":1})");
  EXPECT_EQ(reqs[0].headers["content-type"], "application/json");
  EXPECT_EQ(reqs[0].headers["x-scope-orgid"], "tenant-1");
  EXPECT_EQ(reqs[0].headers["host"], "127.0.0.1:" + std::to_string(rx.port()));
}

TEST(HttpPost, RefusedPortNamesTheUrl) {
  uint16_t port;
  {
    HttpReceiver rx;
    port = rx.port();
  }
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/push";
  std::string error;
  EXPECT_FALSE(http_post(url, "application/json", "{}", 5s, error));
  EXPECT_EQ(error, "POST " + url + ": cannot connect: Connection refused");
}

TEST(HttpPost, ServerErrorCarriesStatusAndBodySnippet) {
  HttpReceiver rx;
  rx.set_mode(HttpReceiver::Mode::error500);
  rx.set_error_body("ingester unavailable");
  std::string error;
  EXPECT_FALSE(http_post(rx.url("/push"), "application/json", "{}", 5s, error));
  EXPECT_EQ(error,
            "POST " + rx.url("/push") + ": HTTP 500 Internal Server Error: ingester unavailable");

  rx.set_error_body(std::string(300, 'x'));
  EXPECT_FALSE(http_post(rx.url("/push"), "application/json", "{}", 5s, error));
  EXPECT_EQ(error, "POST " + rx.url("/push") +
                       ": HTTP 500 Internal Server Error: " + std::string(200, 'x'));
}

TEST(HttpPost, StallingServerTimesOut) {
  HttpReceiver rx;
  rx.set_mode(HttpReceiver::Mode::stall);
  std::string error;
  EXPECT_FALSE(http_post(rx.url("/push"), "application/json", "{}", 300ms, error));
  EXPECT_EQ(error, "POST " + rx.url("/push") + ": timeout after 0.3s waiting for the response");
  EXPECT_EQ(rx.requests().size(), 1u);
}

TEST(HttpPost, HttpsIsRefusedClearly) {
  std::string error;
  EXPECT_FALSE(http_post("https://127.0.0.1:1/x", "application/json", "{}", 1s, error));
  EXPECT_EQ(error, "POST https://127.0.0.1:1/x: https is not supported yet (no TLS); use http://");
}
