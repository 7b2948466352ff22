// The Toxiproxy-compatible API's JSON and status codes (src/admin/faults_api.cpp)
// over a real relay, without HTTP: each request goes straight to faults_api().
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "pgwarden/admin/faults_api.hpp"
#include "pgwarden/faults/relay.hpp"
#include "pgwarden/observe/bus.hpp"
#include "pgwarden/observe/metrics.hpp"

using nlohmann::json;
using pgw::admin::HttpRequest;
using pgw::admin::HttpResponse;

namespace {

class FaultsApiTest : public ::testing::Test {
 protected:
  void SetUp() override { relay_.start(); }
  HttpResponse call(const std::string& method, const std::string& path,
                    const std::string& body = {}) {
    HttpRequest r;
    r.method = method;
    r.path = path;
    r.body = body;
    return pgw::admin::faults_api(relay_, r);
  }
  json body(const HttpResponse& r) { return json::parse(r.body); }
  // A proxy to a port nobody listens on: the API never connects upstream.
  HttpResponse create(const std::string& name) {
    return call(
        "POST", "/proxies",
        json{{"name", name}, {"listen", "127.0.0.1:0"}, {"upstream", "127.0.0.1:1"}}.dump());
  }

  pgw::observe::EventBus bus_;
  pgw::observe::Registry metrics_;
  pgw::faults::Relay relay_{bus_, metrics_, 1};
};

}  // namespace

TEST_F(FaultsApiTest, ProxyLifecycleWithToxiproxyStatusCodes) {
  auto r = create("pg");
  ASSERT_EQ(r.status, 201) << r.body;
  json p = body(r);
  EXPECT_EQ(p["name"], "pg");
  EXPECT_EQ(p["upstream"], "127.0.0.1:1");
  EXPECT_EQ(p["enabled"], true);  // the default
  EXPECT_EQ(p["toxics"], json::array());
  // The bound port replaces port 0.
  std::string listen = p["listen"];
  EXPECT_TRUE(listen.starts_with("127.0.0.1:"));
  EXPECT_NE(listen, "127.0.0.1:0");

  r = create("pg");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(body(r), (json{{"error", "proxy already exists"}, {"status", 409}}));

  r = call("GET", "/proxies");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(body(r).is_object());  // keyed by name, as Toxiproxy answers
  EXPECT_EQ(body(r)["pg"]["listen"], listen);

  r = call("PATCH", "/proxies/pg", R"({"enabled": false})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(body(r)["enabled"], false);
  EXPECT_EQ(body(r)["listen"], listen);                     // untouched fields stay
  r = call("POST", "/proxies/pg", R"({"enabled": true})");  // POST updates too
  EXPECT_EQ(body(r)["enabled"], true);

  EXPECT_EQ(call("DELETE", "/proxies/pg").status, 204);
  r = call("GET", "/proxies/pg");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(body(r), (json{{"error", "proxy not found"}, {"status", 404}}));
  EXPECT_EQ(call("DELETE", "/proxies/pg").status, 404);
}

TEST_F(FaultsApiTest, BadProxyBodies) {
  auto r = call("POST", "/proxies", R"({"listen": "127.0.0.1:0", "upstream": "x:1"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(body(r)["error"], "missing required field: name");
  r = call("POST", "/proxies", R"({"name": "a"})");
  EXPECT_EQ(body(r)["error"], "missing required field: upstream");
  r = call("POST", "/proxies", "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(body(r)["error"].get<std::string>().starts_with("bad request body"));
  r = call("POST", "/proxies", "");
  EXPECT_EQ(r.status, 400);
  r = call("POST", "/proxies", R"({"name": 5, "upstream": "x:1"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(call("PUT", "/proxies/a").status, 405);
}

TEST_F(FaultsApiTest, ToxicLifecycleDefaultsAndErrors) {
  ASSERT_EQ(create("pg").status, 201);
  auto r = call("POST", "/proxies/pg/toxics",
                R"({"type": "latency", "attributes": {"latency": 100, "unknown": 1}})");
  ASSERT_EQ(r.status, 200) << r.body;  // Toxiproxy answers 200 here, not 201
  EXPECT_EQ(body(r), (json{{"name", "latency_downstream"},
                           {"type", "latency"},
                           {"stream", "downstream"},
                           {"toxicity", 1.0},
                           {"attributes", {{"latency", 100}, {"jitter", 0}}}}));
  r = call("POST", "/proxies/pg/toxics", R"({"type": "latency"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(body(r)["error"], "toxic already exists");
  r = call("POST", "/proxies/pg/toxics", R"({"type": "lag"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(body(r)["error"], "invalid toxic type");
  r = call("POST", "/proxies/pg/toxics", R"({"type": "latency", "stream": "sideways"})");
  EXPECT_EQ(body(r)["error"], "stream was invalid, can be either upstream or downstream");
  r = call("POST", "/proxies/pg/toxics", R"({"type": "bandwidth", "attributes": {"rate": 1.5}})");
  EXPECT_EQ(r.status, 400);
  r = call("POST", "/proxies/nope/toxics", R"({"type": "latency"})");
  EXPECT_EQ(r.status, 404);
  r = call("POST", "/proxies/pg/toxics",
           R"({"name": "cut", "type": "limit_data", "stream": "upstream", "toxicity": 0.25,
               "attributes": {"bytes": 10}})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(body(r)["toxicity"], 0.25);

  // Upstream toxics are listed before downstream ones.
  r = call("GET", "/proxies/pg/toxics");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(body(r).size(), 2u);
  EXPECT_EQ(body(r)[0]["name"], "cut");
  EXPECT_EQ(body(r)[1]["name"], "latency_downstream");
  EXPECT_EQ(body(call("GET", "/proxies/pg"))["toxics"].size(), 2u);

  r = call("PATCH", "/proxies/pg/toxics/latency_downstream",
           R"({"attributes": {"jitter": 5}, "toxicity": 0.5})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(body(r)["attributes"], (json{{"latency", 100}, {"jitter", 5}}));
  EXPECT_EQ(body(r)["toxicity"], 0.5);
  EXPECT_EQ(body(call("GET", "/proxies/pg/toxics/latency_downstream"))["attributes"]["jitter"], 5);
  EXPECT_EQ(call("GET", "/proxies/pg/toxics/none").status, 404);
  EXPECT_EQ(body(call("GET", "/proxies/pg/toxics/none"))["error"], "toxic not found");
  EXPECT_EQ(call("DELETE", "/proxies/pg/toxics/cut").status, 204);
  EXPECT_EQ(call("DELETE", "/proxies/pg/toxics/cut").status, 404);

  // /reset: every toxic gone, every proxy enabled.
  call("POST", "/proxies/pg", R"({"enabled": false})");
  EXPECT_EQ(call("POST", "/reset").status, 204);
  json p = body(call("GET", "/proxies/pg"));
  EXPECT_EQ(p["toxics"], json::array());
  EXPECT_EQ(p["enabled"], true);
}

TEST_F(FaultsApiTest, PopulateCreatesKeepsAndReportsErrors) {
  auto r = call("POST", "/populate",
                R"([{"name": "a", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"},
                    {"name": "b", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:2",
                     "enabled": false}])");
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_EQ(body(r)["proxies"].size(), 2u);
  EXPECT_EQ(body(r)["proxies"][1]["enabled"], false);
  // Same listen and upstream: kept (with its toxics).
  std::string listen = body(r)["proxies"][0]["listen"];
  call("POST", "/proxies/a/toxics", R"({"type": "timeout"})");
  r = call("POST", "/populate",
           json::array({{{"name", "a"}, {"listen", listen}, {"upstream", "127.0.0.1:1"}}}).dump());
  ASSERT_EQ(r.status, 201);
  EXPECT_EQ(body(r)["proxies"][0]["toxics"].size(), 1u);
  // A bad entry: the ones before it are created and reported with the error.
  r = call("POST", "/populate",
           R"([{"name": "c", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:3"},
               {"name": "d", "listen": "127.0.0.1:0"}])");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(body(r)["error"], "missing required field: upstream");
  EXPECT_EQ(body(r)["proxies"].size(), 1u);
  EXPECT_EQ(call("GET", "/proxies/c").status, 200);
  EXPECT_EQ(call("POST", "/populate", R"({"x": 1})").status, 400);
}

TEST_F(FaultsApiTest, VersionAndUnknownPaths) {
  auto r = call("GET", "/version");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(body(r).contains("version"));
  EXPECT_EQ(call("GET", "/proxies/a/b").status, 404);
  EXPECT_EQ(call("GET", "/nothing").status, 404);
}

TEST_F(FaultsApiTest, EveryChangeIsAnEventFromFaults) {
  ASSERT_EQ(create("pg").status, 201);
  call("POST", "/proxies/pg/toxics", R"({"type": "latency"})");
  call("DELETE", "/proxies/pg/toxics/latency_downstream");
  call("POST", "/proxies/pg", R"({"enabled": false})");
  std::vector<std::string> names;
  for (const auto& e : bus_.recent(100)) {
    EXPECT_EQ(e.source, "faults");
    EXPECT_EQ(e.proxy, "pg");
    names.push_back(e.event);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"fault.proxy_created", "fault.toxic_added",
                                             "fault.toxic_removed", "fault.proxy_disabled"}));
}
