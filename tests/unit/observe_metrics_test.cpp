#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <thread>

#include "pgwarden/observe/metrics.hpp"

using namespace pgw::observe;

TEST(Metrics, ExpositionOfASmallRegistry) {
  Registry r;
  auto& requests = r.counter("test_requests_total", "Requests served.", {"method", "path"});
  requests.with({"POST", "q\"x\\y\nz"}).inc();
  requests.with({"GET", "/a"}).inc(3);
  r.gauge("test_temperature_celsius", "Line one\nback\\slash \"quoted\".").with({}).set(21.5);
  auto& latency = r.histogram("test_latency_seconds", "Latency.", {"pool"},
                              std::vector<double>{0.005, 0.5, 60});
  auto& h = latency.with({"db/app"});
  for (double v : {0.00390625, 0.5, 0.25, 100.0}) h.observe(v);
  r.counter("test_unused_total", "Never incremented.", {"x"});

  EXPECT_EQ(r.exposition(),
            "# HELP test_requests_total Requests served.\n"
            "# TYPE test_requests_total counter\n"
            "test_requests_total{method=\"GET\",path=\"/a\"} 3\n"
            "test_requests_total{method=\"POST\",path=\"q\\\"x\\\\y\\nz\"} 1\n"
            "# HELP test_temperature_celsius Line one\\nback\\\\slash \"quoted\".\n"
            "# TYPE test_temperature_celsius gauge\n"
            "test_temperature_celsius 21.5\n"
            "# HELP test_latency_seconds Latency.\n"
            "# TYPE test_latency_seconds histogram\n"
            "test_latency_seconds_bucket{pool=\"db/app\",le=\"0.005\"} 1\n"
            "test_latency_seconds_bucket{pool=\"db/app\",le=\"0.5\"} 3\n"
            "test_latency_seconds_bucket{pool=\"db/app\",le=\"60\"} 3\n"
            "test_latency_seconds_bucket{pool=\"db/app\",le=\"+Inf\"} 4\n"
            "test_latency_seconds_sum{pool=\"db/app\"} 100.75390625\n"
            "test_latency_seconds_count{pool=\"db/app\"} 4\n"
            "# HELP test_unused_total Never incremented.\n"
            "# TYPE test_unused_total counter\n");
}

TEST(Metrics, UnlabelledHistogramAndCounter) {
  Registry r;
  r.counter("plain_total", "Plain.").with({}).inc(7);
  r.histogram("plain_seconds", "Plain.", {}, std::vector<double>{1}).with({}).observe(2);
  EXPECT_EQ(r.exposition(),
            "# HELP plain_total Plain.\n"
            "# TYPE plain_total counter\n"
            "plain_total 7\n"
            "# HELP plain_seconds Plain.\n"
            "# TYPE plain_seconds histogram\n"
            "plain_seconds_bucket{le=\"1\"} 0\n"
            "plain_seconds_bucket{le=\"+Inf\"} 1\n"
            "plain_seconds_sum 2\n"
            "plain_seconds_count 1\n");
}

TEST(Metrics, NumbersAreSpelledLikeTheGoClient) {
  Registry r;
  auto& g = r.gauge("numbers", "Numbers.", {"k"});
  const std::vector<std::pair<double, std::string>> cases = {
      {0, "0"},
      {0.0001, "0.0001"},
      {0.00001, "1e-05"},
      {0.00025, "0.00025"},
      {2.5, "2.5"},
      {60, "60"},
      {123456, "123456"},
      {1e6, "1e+06"},
      {1234567, "1.234567e+06"},
      {-0.25, "-0.25"},
      {0.1 + 0.2, "0.30000000000000004"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
      {std::nan(""), "NaN"},
  };
  std::string expected = "# HELP numbers Numbers.\n# TYPE numbers gauge\n";
  for (size_t i = 0; i < cases.size(); ++i) {
    std::string key = (i < 10 ? "0" : "") + std::to_string(i);
    g.with({key}).set(cases[i].first);
    expected += "numbers{k=\"" + key + "\"} " + cases[i].second + "\n";
  }
  EXPECT_EQ(r.exposition(), expected);
}

TEST(Metrics, LatencyBucketsPrintAsGoDoes) {
  Registry r;
  r.histogram("wait_seconds", "Wait.", {}).with({});
  std::istringstream in(r.exposition());
  std::vector<std::string> les;
  for (std::string line; std::getline(in, line);) {
    auto start = line.find("le=\"");
    if (start == std::string::npos) continue;
    start += 4;
    les.push_back(line.substr(start, line.find('"', start) - start));
  }
  EXPECT_EQ(les, (std::vector<std::string>{"0.0001", "0.00025", "0.0005", "0.001", "0.0025",
                                           "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
                                           "1", "2.5", "5", "10", "30", "60", "+Inf"}));
}

TEST(Metrics, ConcurrentIncrementsAreExact) {
  Registry r;
  auto& c = r.counter("hits_total", "Hits.", {"k"}).with({"a"});
  auto& g = r.gauge("level", "Level.").with({});
  auto& h = r.histogram("obs_seconds", "Obs.", {}, std::vector<double>{1}).with({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 100'000; ++i) {
        c.inc();
        g.add(0.5);
        h.observe(i % 2 ? 0.5 : 2);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 400'000u);
  EXPECT_EQ(g.value(), 200'000.0);
  auto s = h.snapshot();
  EXPECT_EQ(s.count, 400'000u);
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{200'000, 400'000}));
  EXPECT_EQ(s.sum, 500'000.0);
}

TEST(Metrics, HistogramCountsAreCumulativeAndBoundsInclusive) {
  Histogram h({1, 2, 4});
  for (double v : {0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 4.5, 100.0}) h.observe(v);
  h.observe(std::nan(""));  // counted in +Inf, as the Go client does
  auto s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 4, 6, 9}));
  EXPECT_EQ(s.count, 9u);
  EXPECT_TRUE(std::isnan(s.sum));
  EXPECT_THROW(Histogram({1, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram({2, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram({1, std::numeric_limits<double>::infinity()}), std::invalid_argument);
}

TEST(Metrics, WrongArityThrows) {
  Registry r;
  auto& f = r.counter("pairs_total", "Pairs.", {"a", "b"});
  EXPECT_THROW(f.with({"x"}), std::invalid_argument);
  EXPECT_THROW(f.with({"x", "y", "z"}), std::invalid_argument);
  EXPECT_THROW(r.gauge("solo", "Solo.").with({"x"}), std::invalid_argument);
  EXPECT_NO_THROW(f.with({"x", "y"}).inc());
  EXPECT_EQ(&f.with({"x", "y"}), &f.with({"x", "y"}));
}

TEST(Metrics, RegistryRefusesInvalidNames) {
  Registry r;
  EXPECT_THROW(r.counter("", "h"), std::invalid_argument);
  EXPECT_THROW(r.counter("1st_total", "h"), std::invalid_argument);
  EXPECT_THROW(r.counter("bad-name_total", "h"), std::invalid_argument);
  EXPECT_THROW(r.gauge("g", "h", {"bad-label"}), std::invalid_argument);
  EXPECT_THROW(r.gauge("g", "h", {"9lives"}), std::invalid_argument);
  EXPECT_THROW(r.gauge("g", "h", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(r.gauge("g", "h", {"a", "a"}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h_seconds", "h", {"le"}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h_seconds", "h", {}, {3, 2}), std::invalid_argument);
  EXPECT_NO_THROW(r.gauge("ns:sub_level", "Colons are allowed in names.", {"_ok", "le"}));
}

TEST(Metrics, SameNameReturnsSameFamilyOrThrows) {
  Registry r;
  auto& a = r.counter("dup_total", "Dup.", {"k"});
  EXPECT_EQ(&a, &r.counter("dup_total", "Dup.", {"k"}));
  EXPECT_THROW(r.counter("dup_total", "Dup.", {"other"}), std::invalid_argument);
  EXPECT_THROW(r.gauge("dup_total", "Dup.", {"k"}), std::invalid_argument);
  EXPECT_THROW(r.histogram("dup_total", "Dup.", {"k"}), std::invalid_argument);
}

TEST(Metrics, CollectCallbacksRunFirstAndMayRegister) {
  Registry r;
  auto& pools = r.gauge("pool_size", "Size.", {"pool"});
  pools.with({"old/pool"}).set(1);
  int calls = 0;
  r.on_collect([&] {
    ++calls;
    pools.clear();
    pools.with({"db/app"}).set(20);
    r.gauge("late_gauge", "Registered during collection.").with({}).set(calls);
  });
  EXPECT_EQ(r.exposition(),
            "# HELP pool_size Size.\n"
            "# TYPE pool_size gauge\n"
            "pool_size{pool=\"db/app\"} 20\n"
            "# HELP late_gauge Registered during collection.\n"
            "# TYPE late_gauge gauge\n"
            "late_gauge 1\n");
  r.exposition();
  EXPECT_EQ(calls, 2);
}

namespace {

std::string find_promtool() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    auto candidate = std::filesystem::path(dir) / "promtool";
    if (std::filesystem::exists(candidate)) return candidate.string();
  }
  return {};
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

CommandResult run(const std::string& command) {
  CommandResult result;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return result;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) result.output.append(buf, n);
  int status = pclose(p);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

CommandResult promtool_check_metrics(const std::string& exposition) {
  std::string promtool = find_promtool();
  if (promtool.empty()) {
    ADD_FAILURE() << "promtool not found on PATH: install Debian's prometheus package "
                     "(scripts/install-deps.sh does)";
    return {};
  }
  auto file = std::filesystem::temp_directory_path() /
              ("pgwarden_metrics_" + std::to_string(::getpid()) + ".prom");
  std::ofstream(file) << exposition;
  CommandResult result = run(promtool + " check metrics < " + file.string());
  std::filesystem::remove(file);
  return result;
}

}  // namespace

TEST(Metrics, PromtoolAcceptsARealisticExposition) {
  Registry r;
  const std::string pool = "app/app";
  r.gauge("pgwarden_build_info", "Version of the running pgwarden; always 1.", {"version"})
      .with({"0.1.0"})
      .set(1);
  auto& clients =
      r.gauge("pgwarden_client_connections", "Client connections by state.", {"pool", "state"});
  for (const char* s :
       {"authenticating", "idle", "active", "in_transaction", "copy", "waiting_for_server"})
    clients.with({pool, s}).set(1);
  auto& servers =
      r.gauge("pgwarden_server_connections", "Server connections by state.", {"pool", "state"});
  for (const char* s : {"active", "idle", "opening"}) servers.with({pool, s}).set(2);
  r.gauge("pgwarden_clients_waiting", "Clients waiting for a server connection.", {"pool"})
      .with({pool})
      .set(0);
  r.gauge("pgwarden_pool_size", "Configured server connections per pool.", {"pool"})
      .with({pool})
      .set(20);
  r.gauge("pgwarden_pool_utilization_ratio", "(active + opening) / pool size.", {"pool"})
      .with({pool})
      .set(0.2);
  r.histogram("pgwarden_pool_wait_seconds", "Time clients waited for a server connection.",
              {"pool"})
      .with({pool})
      .observe(0.0003);
  r.counter("pgwarden_pool_wait_timeouts_total", "Clients refused after query_wait_timeout.",
            {"pool"})
      .with({pool})
      .inc();
  r.histogram("pgwarden_transaction_duration_seconds", "Transaction durations.", {"pool"})
      .with({pool})
      .observe(0.02);
  r.histogram("pgwarden_query_duration_seconds", "Query durations.", {"pool"})
      .with({pool})
      .observe(0.004);
  r.counter("pgwarden_client_received_bytes_total", "Bytes received from clients.", {"pool"})
      .with({pool})
      .inc(1234);
  r.counter("pgwarden_client_sent_bytes_total", "Bytes sent to clients.", {"pool"})
      .with({pool})
      .inc(5678);
  r.counter("pgwarden_errors_total", "ErrorResponses by SQLSTATE and source.",
            {"sqlstate", "source"})
      .with({"57P01", "server"})
      .inc();
  r.counter("pgwarden_connection_closes_total", "Connection closes.",
            {"side", "initiator", "cause"})
      .with({"server", "server", "server_fatal"})
      .inc();
  r.counter("pgwarden_connections_opened_total", "Connections opened.", {"side"})
      .with({"client"})
      .inc();
  r.counter("pgwarden_events_total", "Connection events by name.", {"event"})
      .with({"client.open"})
      .inc();
  for (const char* name : {"pgwarden_server_max_connections", "pgwarden_server_backends",
                           "pgwarden_server_connection_headroom", "pgwarden_server_probe_up"})
    r.gauge(name, "Backend probe value.", {"backend"}).with({"db.internal:5432"}).set(1);
  r.gauge("pgwarden_sink_up", "1 when the event sink is delivering.", {"sink"})
      .with({"file"})
      .set(1);
  for (const char* name : {"pgwarden_sink_events_sent_total", "pgwarden_sink_events_dropped_total",
                           "pgwarden_sink_failures_total"})
    r.counter(name, "Event sink counter.", {"sink"}).with({"file"}).inc();
  r.gauge("pgwarden_sink_queue_length", "Events queued for the sink.", {"sink"})
      .with({"file"})
      .set(0);
  r.gauge("pgwarden_alerts_firing", "Alerts firing.", {"alert"}).with({"x"}).set(0);
  r.gauge("pgwarden_forensic_findings", "Forensic findings.", {"kind"}).with({"burst"}).set(0);

  CommandResult result = promtool_check_metrics(r.exposition());
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "");
}

// Guards the test above: promtool does report a lint problem through run().
TEST(Metrics, PromtoolReportsLintProblems) {
  Registry r;
  r.counter("pgwarden_requests", "A counter without _total.").with({}).inc();
  CommandResult result = promtool_check_metrics(r.exposition());
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("_total"), std::string::npos) << result.output;
}
