// The admin listener: /metrics checked by promtool and scraped by a real
// Prometheus server, and the JSON API checked against real traffic.
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "http_get.hpp"
#include "stack.hpp"

namespace pgw::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

class AdminApi : public ProxyTest {
 protected:
  void start(const std::string& extra = "") {
    admin_port_ = free_port();
    start_proxy(extra + fmt::format("\n[admin]\nlisten = \"127.0.0.1:{}\"\n", admin_port_));
  }
  json get_json(const std::string& target) {
    auto r = http_get(admin_port_, target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    EXPECT_EQ(r.content_type, "application/json") << target;
    return r.status == 200 ? json::parse(r.body) : json();
  }
  int admin_port_ = 0;
};

// An RFC 3339 time one second ago, for ?since=.
std::string observe_now() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() - 1s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string temp_dir(const char* name) {
  std::string tmpl = std::string("/tmp/pgwarden-") + name + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

TEST_F(AdminApi, MetricsAndApiDescribeTheLiveTraffic) {
  start();
  const std::string before = observe_now();
  auto a = client("application_name=worker");
  for (int i = 0; i < 10; ++i) ASSERT_EQ(pq_exec(a.get(), "SELECT 1").value, "1");
  auto b = client();
  ASSERT_TRUE(pq_exec(b.get(), "BEGIN").ok);
  std::string b_pid = pq_exec(b.get(), "SELECT pg_backend_pid()").value;
  auto c = client();

  auto scrape = http_get(admin_port_, "/metrics");
  ASSERT_EQ(scrape.status, 200);
  EXPECT_EQ(scrape.content_type, "text/plain; version=0.0.4; charset=utf-8");
  const std::string& m = scrape.body;
  // 10 SELECTs, BEGIN and pg_backend_pid(): 12 requests; 10 finished transactions.
  EXPECT_EQ(metric_value(m, "pgwarden_query_duration_seconds_count{pool=\"app/app\"}"), 12.0);
  EXPECT_EQ(metric_value(m, "pgwarden_transaction_duration_seconds_count{pool=\"app/app\"}"), 10.0);
  EXPECT_EQ(metric_value(m, "pgwarden_client_connections{pool=\"app/app\",state=\"idle\"}"), 2.0);
  EXPECT_EQ(
      metric_value(m, "pgwarden_client_connections{pool=\"app/app\",state=\"in_transaction\"}"),
      1.0);
  EXPECT_EQ(metric_value(m, "pgwarden_server_connections{pool=\"app/app\",state=\"active\"}"), 1.0);
  EXPECT_EQ(metric_value(m, "pgwarden_connections_opened_total{side=\"client\"}"), 3.0);
  EXPECT_GT(metric_value(m, "pgwarden_client_received_bytes_total{pool=\"app/app\"}").value_or(0),
            0);
  EXPECT_EQ(metric_value(m, "pgwarden_pool_size{pool=\"app/app\"}"), 20.0);

  // promtool lints the live scrape: names, types, HELP, units.
  std::string dir = temp_dir("scrape");
  std::ofstream(dir + "/metrics.txt") << m;
  std::string out;
  int rc = run_command("promtool check metrics < " + dir + "/metrics.txt 2>&1", &out);
  std::filesystem::remove_all(dir);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "") << out;

  auto pools = get_json("/api/pools");
  ASSERT_EQ(pools.size(), 1u) << pools.dump();
  EXPECT_EQ(pools[0]["pool"], "app/app");
  EXPECT_EQ(pools[0]["servers"]["active"], 1);
  EXPECT_EQ(pools[0]["clients"]["in_transaction"], 1);
  EXPECT_EQ(pools[0]["clients"]["idle"], 2);
  EXPECT_EQ(pools[0]["paused"], false);

  auto clients = get_json("/api/clients");
  EXPECT_EQ(clients.size(), 3u) << clients.dump();
  auto servers = get_json("/api/servers")["servers"];
  json b_server;
  for (auto& s : servers)
    if (std::to_string(s["backend_pid"].get<int>()) == b_pid) b_server = s;
  ASSERT_FALSE(b_server.is_null()) << servers.dump();
  EXPECT_EQ(b_server["state"], "active");
  json b_client;
  for (auto& cl : clients)
    if (cl.contains("server_conn_id") && cl["server_conn_id"] == b_server["conn_id"]) b_client = cl;
  EXPECT_EQ(b_client["state"], "in_transaction") << clients.dump();

  auto opens = get_json("/api/events?event=client.open&since=" + before);
  EXPECT_EQ(opens["count"], 3) << opens.dump();
  EXPECT_EQ(opens["events"][0]["application_name"], "worker");
  auto none = get_json("/api/events?since=2999-01-01T00:00:00Z");
  EXPECT_EQ(none["count"], 0);
  auto bad = http_get(admin_port_, "/api/events?since=yesterday");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("since=yesterday: expected an RFC 3339 time"), std::string::npos)
      << bad.body;
  EXPECT_EQ(http_get(admin_port_, "/api/nothing").status, 404);
  EXPECT_EQ(get_json("/healthz")["status"], "ok");
}

TEST_F(AdminApi, RealPrometheusScrapesTheProxy) {
  start();
  pq_exec(client().get(), "SELECT 1");
  std::string dir = temp_dir("prometheus");
  int web_port = free_port();
  std::ofstream(dir + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: pgwarden\n"
      << "    static_configs:\n      - targets: ['127.0.0.1:" << admin_port_ << "']\n";
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string log = dir + "/prometheus.log";
    FILE* f = std::freopen(log.c_str(), "w", stderr);
    (void)f;
    ::execlp("prometheus", "prometheus", ("--config.file=" + dir + "/prometheus.yml").c_str(),
             ("--storage.tsdb.path=" + dir + "/data").c_str(),
             ("--web.listen-address=127.0.0.1:" + std::to_string(web_port)).c_str(),
             static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_GT(pid, 0);
  json result;
  for (int i = 0; i < 150; ++i) {
    auto r = http_get(web_port, "/api/v1/query?query=pgwarden_build_info", 2);
    if (r.status == 200) {
      result = json::parse(r.body)["data"]["result"];
      if (!result.empty()) break;
    }
    std::this_thread::sleep_for(200ms);
  }
  auto up = http_get(web_port, "/api/v1/query?query=up%7Bjob%3D%22pgwarden%22%7D", 2);
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::string log;
  run_command("tail -5 " + dir + "/prometheus.log", &log);
  std::filesystem::remove_all(dir);
  ASSERT_EQ(result.size(), 1u) << "Prometheus never stored pgwarden_build_info\n" << log;
  EXPECT_EQ(result[0]["metric"]["job"], "pgwarden");
  EXPECT_EQ(result[0]["value"][1], "1");
  ASSERT_EQ(up.status, 200) << log;
  EXPECT_EQ(json::parse(up.body)["data"]["result"][0]["value"][1], "1") << up.body;
}

}  // namespace
}  // namespace pgw::test
