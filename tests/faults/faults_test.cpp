// `pgwarden faults` end to end: the real binary, an echo server, and each
// toxic measured on the wire from a raw client socket.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http_get.hpp"
#include "pg_cluster.hpp"
#include "proxy_process.hpp"

using namespace pgw::test;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// An echo server on 127.0.0.1 in this process: every connection gets back
// what it sends, and is closed when its client half-closes.
class EchoServer {
 public:
  EchoServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 64) != 0)
      throw std::runtime_error("echo server: bind/listen failed");
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~EchoServer() {
    stop_ = true;
    accept_thread_.join();
    std::lock_guard lock(mu_);
    for (auto& t : conns_) t.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  int accepted() const { return accepted_; }
  size_t received() const { return received_; }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++accepted_;
      std::lock_guard lock(mu_);
      conns_.emplace_back([this, c] { echo(c); });
    }
  }
  void echo(int c) {
    int one = 1;
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char buf[65536];
    while (!stop_) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      received_ += static_cast<size_t>(n);
      for (ssize_t off = 0; off < n;) {
        ssize_t w = ::send(c, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
        if (w <= 0) break;
        off += w;
      }
    }
    ::close(c);
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::atomic<size_t> received_{0};
  std::thread accept_thread_;
  std::mutex mu_;
  std::vector<std::thread> conns_;
};

// The real `pgwarden faults`, on a free API port, events in a file; stopped
// by PID.
class FaultsProcess {
 public:
  explicit FaultsProcess(const std::string& config = {},
                         const std::vector<std::string>& flags = {}) {
    char tmpl[] = "/tmp/pgwarden-faults-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    api_port_ = free_port();
    std::vector<std::string> args = {pgwarden_bin(), "faults",
                                     "--api",        "127.0.0.1:" + std::to_string(api_port_),
                                     "--events",     "file:" + (dir_ / "events.jsonl").string()};
    if (!config.empty()) {
      std::ofstream(dir_ / "faults.toml") << config;
      args.push_back("--config");
      args.push_back((dir_ / "faults.toml").string());
    }
    args.insert(args.end(), flags.begin(), flags.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      int err = ::open((dir_ / "stderr.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(err, 2);
      ::dup2(err, 1);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    std::string why = "pgwarden faults API did not answer: ";
    for (int i = 0; i < 500; ++i) {
      if (http_get(api_port_, "/version", 1).status == 200) return;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        why = "pgwarden faults exited at start: ";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    why += stderr_text();
    stop();  // no destructor runs after a throwing constructor
    throw std::runtime_error(why);
  }
  ~FaultsProcess() { stop(); }
  // Stops the process (SIGTERM, then SIGKILL) and removes its directory.
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      if (!wait_process_gone(pid_, 5)) ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = 0;
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  int api_port() const { return api_port_; }
  HttpReply api(const std::string& method, const std::string& path, const std::string& body = {}) {
    return http_request(api_port_, method, path, body);
  }
  // Creates a proxy to `upstream_port` and returns the port it listens on.
  int create_proxy(const std::string& name, int upstream_port) {
    auto r = api("POST", "/proxies",
                 json{{"name", name},
                      {"listen", "127.0.0.1:0"},
                      {"upstream", "127.0.0.1:" + std::to_string(upstream_port)}}
                     .dump());
    if (r.status != 201)
      throw std::runtime_error("create proxy: " + std::to_string(r.status) + " " + r.body);
    return port_of(json::parse(r.body)["listen"]);
  }
  void add_toxic(const std::string& proxy, const json& toxic) {
    auto r = api("POST", "/proxies/" + proxy + "/toxics", toxic.dump());
    if (r.status != 200) throw std::runtime_error("add toxic: " + r.body);
  }
  static int port_of(const std::string& listen) {
    return std::stoi(listen.substr(listen.rfind(':') + 1));
  }
  std::vector<json> events() const {
    std::vector<json> out;
    std::ifstream in(dir_ / "events.jsonl");
    std::string line;
    while (std::getline(in, line))
      if (!line.empty()) out.push_back(json::parse(line));
    return out;
  }
  // Waits until an event with all the given fields appears.
  json wait_event(const json& match, double seconds = 10) const {
    auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < deadline) {
      for (const auto& e : events()) {
        bool all = true;
        for (auto& [k, v] : match.items()) all = all && e.contains(k) && e[k] == v;
        if (all) return e;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return nullptr;
  }
  std::string stderr_text() const {
    std::ifstream in(dir_ / "stderr.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  fs::path dir_;
  int api_port_ = 0;
  pid_t pid_ = 0;
};

void send_all(int fd, const std::string& data) {
  for (size_t off = 0; off < data.size();) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << "send failed: " << std::strerror(errno);
    off += static_cast<size_t>(n);
  }
}

// What one recv() after another returns until `total` bytes, EOF, an error or
// the deadline: each piece's size, and errno when it ended in an error.
struct Received {
  std::vector<size_t> pieces;
  size_t bytes = 0;
  bool eof = false;
  int error = 0;
};
Received receive(int fd, size_t total, double seconds) {
  Received r;
  auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  char buf[65536];
  while (r.bytes < total) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      r.error = errno;
      break;
    }
    if (n == 0) {
      r.eof = true;
      break;
    }
    r.pieces.push_back(static_cast<size_t>(n));
    r.bytes += static_cast<size_t>(n);
  }
  return r;
}

int connect_nodelay(int port) {
  int fd = raw_connect(port);
  if (fd >= 0) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

class Faults : public ::testing::Test {
 protected:
  EchoServer echo_;
  FaultsProcess faults_;
};

}  // namespace

TEST_F(Faults, WithoutToxicsBytesGoBothWaysUnchanged) {
  int port = faults_.create_proxy("echo", echo_.port());
  int fd = connect_nodelay(port);
  ASSERT_GE(fd, 0);
  std::string data(1 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 251);
  std::thread writer([&] { send_all(fd, data); });
  std::string back;
  char buf[65536];
  while (back.size() < data.size()) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    back.append(buf, static_cast<size_t>(n));
  }
  writer.join();
  EXPECT_TRUE(back == data) << back.size();
  ::close(fd);
}

TEST_F(Faults, LatencyDelaysTheAnswerByTheToxicsMilliseconds) {
  int port = faults_.create_proxy("echo", echo_.port());
  faults_.add_toxic("echo",
                    {{"type", "latency"}, {"attributes", {{"latency", 300}, {"jitter", 20}}}});
  int fd = connect_nodelay(port);
  ASSERT_GE(fd, 0);
  auto t0 = Clock::now();
  send_all(fd, "ping");
  auto r = receive(fd, 4, 5);
  double took = seconds_since(t0);
  EXPECT_EQ(r.bytes, 4u);
  EXPECT_GE(took, 0.275);
  EXPECT_LT(took, 1.5);
  // Removed: the next round trip is fast again.
  ASSERT_EQ(faults_.api("DELETE", "/proxies/echo/toxics/latency_downstream").status, 204);
  t0 = Clock::now();
  send_all(fd, "pong");
  EXPECT_EQ(receive(fd, 4, 5).bytes, 4u);
  EXPECT_LT(seconds_since(t0), 0.2);
  ::close(fd);
}

TEST_F(Faults, BandwidthHoldsTheRate) {
  int port = faults_.create_proxy("echo", echo_.port());
  // 100 KB/s downstream: 60 000 bytes take about 0.6 s.
  faults_.add_toxic("echo", {{"type", "bandwidth"}, {"attributes", {{"rate", 100}}}});
  int fd = connect_nodelay(port);
  ASSERT_GE(fd, 0);
  auto t0 = Clock::now();
  send_all(fd, std::string(60'000, 'b'));
  auto r = receive(fd, 60'000, 10);
  double took = seconds_since(t0);
  EXPECT_EQ(r.bytes, 60'000u);
  EXPECT_GE(took, 0.45);
  EXPECT_LT(took, 2.0);
  ::close(fd);
}

TEST_F(Faults, SlicerDeliversSmallPieces) {
  int port = faults_.create_proxy("echo", echo_.port());
  // Pieces of at most 10 bytes, 30 ms apart: each recv() sees one piece.
  faults_.add_toxic(
      "echo", {{"type", "slicer"},
               {"attributes", {{"average_size", 10}, {"size_variation", 0}, {"delay", 30000}}}});
  int fd = connect_nodelay(port);
  ASSERT_GE(fd, 0);
  send_all(fd, std::string(80, 's'));
  auto r = receive(fd, 80, 10);
  EXPECT_EQ(r.bytes, 80u);
  EXPECT_GE(r.pieces.size(), 6u);
  for (size_t p : r.pieces) EXPECT_LE(p, 10u);
  ::close(fd);
}

TEST_F(Faults, ResetPeerResetsTheConnectionAfterTheNextData) {
  int port = faults_.create_proxy("echo", echo_.port());
  faults_.add_toxic("echo", {{"type", "reset_peer"}, {"attributes", {{"timeout", 100}}}});
  int fd = connect_nodelay(port);
  ASSERT_GE(fd, 0);
  auto t0 = Clock::now();
  send_all(fd, "hello");
  auto r = receive(fd, 1, 5);
  EXPECT_EQ(r.bytes, 0u);
  EXPECT_EQ(r.error, ECONNRESET) << "eof=" << r.eof;
  EXPECT_GE(seconds_since(t0), 0.09);
  ::close(fd);
  auto e = faults_.wait_event({{"event", "fault.close"}, {"toxic_type", "reset_peer"}});
  ASSERT_FALSE(e.is_null());
  EXPECT_EQ(e["source"], "faults");
  EXPECT_EQ(e["cause"], "fault_injected");
  EXPECT_EQ(e["proxy"], "echo");
}

TEST_F(Faults, LimitDataForwardsExactlyTheLimitThenCloses) {
  int port = faults_.create_proxy("echo", echo_.port());
  faults_.add_toxic("echo",
                    {{"name", "cap"}, {"type", "limit_data"}, {"attributes", {{"bytes", 1000}}}});
  int fd = connect_nodelay(port);
  ASSERT_GE(fd, 0);
  send_all(fd, std::string(5000, 'x'));
  auto r = receive(fd, 100'000, 5);
  EXPECT_EQ(r.bytes, 1000u);
  EXPECT_TRUE(r.eof || r.error == ECONNRESET);
  ::close(fd);
  // The fault is an event and a counted metric.
  auto injected = faults_.wait_event({{"event", "fault.injected"}, {"toxic", "cap"}});
  ASSERT_FALSE(injected.is_null());
  EXPECT_EQ(injected["toxic_type"], "limit_data");
  EXPECT_EQ(injected["stream"], "downstream");
  EXPECT_GT(injected.value("conn_id", 0), 0);
  EXPECT_TRUE(injected["peer"].get<std::string>().starts_with("127.0.0.1:"));
  auto closed = faults_.wait_event({{"event", "fault.close"}, {"toxic", "cap"}});
  ASSERT_FALSE(closed.is_null());
  EXPECT_EQ(closed["conn_id"], injected["conn_id"]);
  auto metrics = http_get(faults_.api_port(), "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metric_value(
                metrics.body,
                "pgwarden_faults_closes_total{proxy=\"echo\",toxic=\"cap\",type=\"limit_data\"}"),
            1.0)
      << metrics.body;
  EXPECT_EQ(metric_value(metrics.body,
                         "pgwarden_faults_injected_total{proxy=\"echo\",toxic=\"cap\","
                         "type=\"limit_data\",stream=\"downstream\"}"),
            1.0);
  EXPECT_EQ(metric_value(metrics.body, "pgwarden_faults_connections_total{proxy=\"echo\"}"), 1.0);
}

TEST_F(Faults, TimeoutDropsTheDataThenClosesAfterTheTimeout) {
  int port = faults_.create_proxy("echo", echo_.port());
  faults_.add_toxic("echo", {{"type", "timeout"}, {"attributes", {{"timeout", 400}}}});
  int fd = connect_nodelay(port);
  ASSERT_GE(fd, 0);
  auto t0 = Clock::now();
  send_all(fd, "anyone there?");
  auto r = receive(fd, 100, 5);
  double took = seconds_since(t0);
  EXPECT_EQ(r.bytes, 0u);
  EXPECT_TRUE(r.eof);
  EXPECT_GE(took, 0.3);
  EXPECT_LT(took, 2.0);
  ::close(fd);
}

TEST_F(Faults, RemovingATimeoutToxicClosesTheConnectionsItHeld) {
  int port = faults_.create_proxy("echo", echo_.port());
  faults_.add_toxic("echo", {{"type", "timeout"}, {"attributes", {{"timeout", 0}}}});
  int fd = connect_nodelay(port);
  ASSERT_GE(fd, 0);
  send_all(fd, "lost");
  EXPECT_EQ(receive(fd, 4, 0.3).bytes, 0u);  // a black hole: no answer, no close
  ASSERT_EQ(faults_.api("DELETE", "/proxies/echo/toxics/timeout_downstream").status, 204);
  auto r = receive(fd, 4, 3);
  EXPECT_EQ(r.bytes, 0u);
  EXPECT_TRUE(r.eof);
  ::close(fd);
}

TEST_F(Faults, SlowCloseHoldsTheCloseForTheDelay) {
  int port = faults_.create_proxy("echo", echo_.port());
  faults_.add_toxic("echo", {{"type", "slow_close"}, {"attributes", {{"delay", 500}}}});
  int fd = connect_nodelay(port);
  ASSERT_GE(fd, 0);
  send_all(fd, "bye");
  EXPECT_EQ(receive(fd, 3, 5).bytes, 3u);  // data is not delayed
  auto t0 = Clock::now();
  ::shutdown(fd, SHUT_WR);  // the echo server closes; its EOF is held
  auto r = receive(fd, 1, 5);
  EXPECT_TRUE(r.eof);
  EXPECT_GE(seconds_since(t0), 0.45);
  EXPECT_LT(seconds_since(t0), 2.0);
  ::close(fd);
}

TEST_F(Faults, UpstreamToxicsActOnWhatTheClientSends) {
  int port = faults_.create_proxy("echo", echo_.port());
  faults_.add_toxic(
      "echo", {{"type", "limit_data"}, {"stream", "upstream"}, {"attributes", {{"bytes", 10}}}});
  int fd = connect_nodelay(port);
  ASSERT_GE(fd, 0);
  send_all(fd, std::string(100, 'u'));
  auto r = receive(fd, 100, 5);  // the relay closes once 10 bytes went up
  EXPECT_LE(r.bytes, 10u);
  EXPECT_TRUE(r.eof || r.error == ECONNRESET);
  ::close(fd);
  for (int i = 0; i < 100 && echo_.received() < 10; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(echo_.received(), 10u);  // exactly 10 bytes reached the server
}

TEST_F(Faults, ToxicityZeroNeverActsAndOneAlwaysDoes) {
  int port = faults_.create_proxy("echo", echo_.port());
  faults_.add_toxic("echo",
                    {{"type", "latency"}, {"toxicity", 0}, {"attributes", {{"latency", 1000}}}});
  for (int i = 0; i < 5; ++i) {
    int fd = connect_nodelay(port);
    ASSERT_GE(fd, 0);
    auto t0 = Clock::now();
    send_all(fd, "q");
    EXPECT_EQ(receive(fd, 1, 5).bytes, 1u);
    EXPECT_LT(seconds_since(t0), 0.5);
    ::close(fd);
  }
  ASSERT_EQ(faults_
                .api("PATCH", "/proxies/echo/toxics/latency_downstream",
                     R"({"toxicity": 1.0, "attributes": {"latency": 200}})")
                .status,
            200);
  int fd = connect_nodelay(port);
  auto t0 = Clock::now();
  send_all(fd, "q");
  EXPECT_EQ(receive(fd, 1, 5).bytes, 1u);
  EXPECT_GE(seconds_since(t0), 0.18);
  ::close(fd);
}

TEST_F(Faults, DisablingClosesConnectionsAndRefusesNewOnes) {
  int port = faults_.create_proxy("echo", echo_.port());
  int fd = connect_nodelay(port);
  ASSERT_GE(fd, 0);
  send_all(fd, "up");
  ASSERT_EQ(receive(fd, 2, 5).bytes, 2u);
  ASSERT_EQ(faults_.api("POST", "/proxies/echo", R"({"enabled": false})").status, 200);
  auto r = receive(fd, 1, 5);
  EXPECT_TRUE(r.eof || r.error == ECONNRESET);
  ::close(fd);
  EXPECT_LT(raw_connect(port), 0);  // refused
  ASSERT_EQ(faults_.api("POST", "/proxies/echo", R"({"enabled": true})").status, 200);
  fd = connect_nodelay(port);  // the same port again
  ASSERT_GE(fd, 0);
  send_all(fd, "back");
  EXPECT_EQ(receive(fd, 4, 5).bytes, 4u);
  ::close(fd);
  EXPECT_FALSE(
      faults_.wait_event({{"event", "fault.proxy_disabled"}, {"proxy", "echo"}}).is_null());
  EXPECT_FALSE(
      faults_.wait_event({{"event", "fault.close"}, {"message", "proxy disabled"}}).is_null());
}

namespace {
// An echo through the relay on `port` comes back no sooner than `seconds`.
void expect_answer_delayed(int port, double seconds) {
  int fd = connect_nodelay(port);
  ASSERT_GE(fd, 0);
  auto t0 = Clock::now();
  send_all(fd, "abc");
  EXPECT_EQ(receive(fd, 3, 5).bytes, 3u);
  EXPECT_GE(seconds_since(t0), seconds);
  ::close(fd);
}
}  // namespace

TEST(FaultsConfig, ToxicsDeclaredInTheConfigActFromTheStart) {
  EchoServer echo;
  int listen_port = free_port();
  FaultsProcess faults(
      "[[proxies]]\nname = \"echo\"\nlisten = \"127.0.0.1:" + std::to_string(listen_port) +
      "\"\nupstream = \"127.0.0.1:" + std::to_string(echo.port()) +
      "\"\n\n[[proxies.toxics]]\ntype = \"latency\"\nattributes = { latency = 250 }\n");
  auto p = json::parse(faults.api("GET", "/proxies/echo").body);
  EXPECT_EQ(p["listen"], "127.0.0.1:" + std::to_string(listen_port));
  ASSERT_EQ(p["toxics"].size(), 1u);
  EXPECT_EQ(p["toxics"][0]["name"], "latency_downstream");
  expect_answer_delayed(listen_port, 0.23);
}

TEST(FaultsConfig, ProxiesAndToxicsGivenAsFlagsActFromTheStart) {
  EchoServer echo;
  int listen_port = free_port();
  FaultsProcess faults({}, {"--proxy",
                            "echo,127.0.0.1:" + std::to_string(listen_port) +
                                ",127.0.0.1:" + std::to_string(echo.port()),
                            "--toxic", "echo,latency,latency=250,name=slow"});
  auto p = json::parse(faults.api("GET", "/proxies/echo").body);
  ASSERT_EQ(p["toxics"].size(), 1u) << p.dump();
  EXPECT_EQ(p["toxics"][0]["name"], "slow");
  EXPECT_EQ(p["toxics"][0]["attributes"]["latency"], 250);
  expect_answer_delayed(listen_port, 0.23);

  // A mistake in a flag is named, and nothing starts.
  std::string out;
  int status =
      run_command(pgwarden_bin() + " faults --api 127.0.0.1:" + std::to_string(free_port()) +
                      " --toxic nowhere,latency 2>&1",
                  &out);
  EXPECT_EQ(status, 2) << out;
  EXPECT_NE(out.find("--toxic \"nowhere,latency\": no proxy \"nowhere\""), std::string::npos)
      << out;
}

TEST(FaultsConfig, ABrokenConfigNamesFileLineAndColumnAndExitsNonZero) {
  char tmpl[] = "/tmp/pgwarden-faults-cfg-XXXXXX";
  ASSERT_TRUE(::mkdtemp(tmpl));
  fs::path dir = tmpl;
  fs::path cfg = dir / "broken.toml";
  std::ofstream(cfg) << "[[proxies]]\nname = \"pg\"\nupstream = \"127.0.0.1:5432\"\n\n"
                        "[[proxies.toxics]]\ntype = \"latency\"\nattributes = { latency = 10, "
                        "jitter = \"lots\" }\n";
  std::string out;
  int status =
      run_command(pgwarden_bin() + " faults --api 127.0.0.1:" + std::to_string(free_port()) +
                      " --config " + cfg.string() + " 2>&1",
                  &out);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find(cfg.string() + ":7:"), std::string::npos) << out;
  EXPECT_NE(out.find("'proxies[0].toxics[0].attributes.jitter' must be an integer"),
            std::string::npos)
      << out;
  fs::remove_all(dir);
}

TEST_F(Faults, ToxiproxyNodeClientDrivesEveryEndpoint) {
  std::string out;
  int status =
      run_command(std::string("cd ") + PGWARDEN_TESTS_NODE_DIR +
                      " && TOXIPROXY_URL=http://127.0.0.1:" + std::to_string(faults_.api_port()) +
                      " ECHO_PORT=" + std::to_string(echo_.port()) +
                      " timeout 60 node faults_toxiproxy_client.mjs 2>&1",
                  &out);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("ok"), std::string::npos) << out;
}

namespace {

// A PostgreSQL server for the PostgreSQL-aware toxics, and libpq helpers.
class FaultsPg : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    PgClusterOptions opts;
    opts.settings["wal_level"] = "logical";  // for the replication stream test
    pg_ = std::make_unique<PgCluster>(opts);
  }
  static void TearDownTestSuite() { pg_.reset(); }

 protected:
  void SetUp() override { port_ = faults_.create_proxy("pg", pg_->port()); }
  std::string conninfo() const {
    return "host=127.0.0.1 port=" + std::to_string(port_) +
           " user=postgres password=" + pg_->options().password +
           " dbname=postgres connect_timeout=5";
  }
  // Connects; on failure returns nullptr and the error in *error.
  PGconn* connect(std::string* error = nullptr) {
    PGconn* c = PQconnectdb(conninfo().c_str());
    if (PQstatus(c) == CONNECTION_OK) return c;
    if (error) *error = PQerrorMessage(c);
    PQfinish(c);
    return nullptr;
  }
  // Runs one statement: "" on success, else libpq's error message.
  static std::string exec(PGconn* c, const std::string& sql) {
    PGresult* r = PQexec(c, sql.c_str());
    auto st = PQresultStatus(r);
    std::string out = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK ? "" : PQerrorMessage(c);
    PQclear(r);
    return out;
  }

  static inline std::unique_ptr<PgCluster> pg_;
  FaultsProcess faults_;
  int port_ = 0;
};

}  // namespace

TEST_F(FaultsPg, LibpqThroughTheRelayWithoutToxicsAndWithLatency) {
  PGconn* c = connect();
  ASSERT_NE(c, nullptr);
  PGresult* r = PQexec(c, "SELECT 40 + 2");
  ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK);
  EXPECT_STREQ(PQgetvalue(r, 0, 0), "42");
  PQclear(r);
  PQfinish(c);
  faults_.add_toxic("pg", {{"type", "latency"}, {"attributes", {{"latency", 100}}}});
  auto t0 = Clock::now();
  c = connect();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(exec(c, "SELECT 'slow'"), "");
  // A SCRAM login and a query are several server answers, each 100 ms late.
  EXPECT_GE(seconds_since(t0), 0.3);
  PQfinish(c);
}

TEST_F(FaultsPg, LoginAnsweredWithTheChosenFatal) {
  struct Case {
    const char* type;
    const char* sqlstate;
    const char* message;
  };
  for (const Case& c :
       {Case{"pg_too_many_connections", "53300", "sorry, too many clients already"},
        Case{"pg_starting_up", "57P03", "the database system is starting up"},
        Case{"pg_auth_failed", "28P01", "password authentication failed for user \"postgres\""}}) {
    faults_.add_toxic("pg", {{"name", "login"}, {"type", c.type}});
    std::string error;
    PGconn* conn = connect(&error);
    EXPECT_EQ(conn, nullptr) << c.type;
    if (conn) PQfinish(conn);
    EXPECT_NE(error.find(std::string("FATAL:  ") + c.message), std::string::npos) << error;
    auto e = faults_.wait_event({{"event", "fault.close"}, {"toxic_type", c.type}});
    ASSERT_FALSE(e.is_null()) << c.type;
    EXPECT_EQ(e["sqlstate"], c.sqlstate);
    ASSERT_EQ(faults_.api("DELETE", "/proxies/pg/toxics/login").status, 204);
  }
  PGconn* conn = connect();  // and without the toxic, logins work again
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(exec(conn, "SELECT 1"), "");
  PQfinish(conn);
}

TEST_F(FaultsPg, KillMidQueryCutsARunningQueryButNotAShortOne) {
  faults_.add_toxic("pg", {{"type", "pg_kill_mid_query"}, {"attributes", {{"delay", 300}}}});
  PGconn* c = connect();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(exec(c, "SELECT 1"), "");  // answered within 300 ms: untouched
  auto t0 = Clock::now();
  std::string err = exec(c, "SELECT pg_sleep(3)");
  EXPECT_NE(err, "");
  EXPECT_LT(seconds_since(t0), 2.0);
  EXPECT_EQ(PQstatus(c), CONNECTION_BAD) << err;
  PQfinish(c);
  EXPECT_FALSE(faults_.wait_event({{"event", "fault.close"}, {"toxic_type", "pg_kill_mid_query"}})
                   .is_null());
}

TEST_F(FaultsPg, KillInTransactionCutsAnOpenTransaction) {
  faults_.add_toxic("pg", {{"type", "pg_kill_in_transaction"}, {"attributes", {{"delay", 200}}}});
  PGconn* c = connect();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(exec(c, "SELECT 1"), "");  // outside a transaction: untouched
  EXPECT_EQ(exec(c, "BEGIN"), "");
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_NE(exec(c, "SELECT 1"), "");
  EXPECT_EQ(PQstatus(c), CONNECTION_BAD);
  PQfinish(c);
}

TEST_F(FaultsPg, IdleSessionsGetFatal57P01) {
  faults_.add_toxic("pg", {{"type", "pg_terminate_idle"}, {"attributes", {{"idle", 300}}}});
  PGconn* c = connect();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(exec(c, "SELECT 1"), "");
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  std::string err = exec(c, "SELECT 1");
  EXPECT_NE(err.find("terminating connection due to administrator command"), std::string::npos)
      << err;
  PQfinish(c);
  auto e = faults_.wait_event({{"event", "fault.close"}, {"toxic_type", "pg_terminate_idle"}});
  ASSERT_FALSE(e.is_null());
  EXPECT_EQ(e["sqlstate"], "57P01");
}

TEST_F(FaultsPg, IdleCutResetsConnectionsIdleForTheGivenTime) {
  faults_.add_toxic("pg", {{"type", "idle_cut"}, {"attributes", {{"idle", 300}}}});
  PGconn* busy = connect();
  PGconn* idle = connect();
  ASSERT_NE(busy, nullptr);
  ASSERT_NE(idle, nullptr);
  // One connection keeps talking every 100 ms; the other is silent.
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(exec(busy, "SELECT 1"), "") << i;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(exec(idle, "SELECT 1"), "");
  EXPECT_EQ(exec(busy, "SELECT 1"), "");
  PQfinish(busy);
  PQfinish(idle);
}

TEST_F(FaultsPg, StallReplicationStopsOnlyTheReplicationStream) {
  pg_->psql("SELECT pg_create_logical_replication_slot('faults_stall', 'test_decoding')");
  pg_->psql("CREATE TABLE IF NOT EXISTS stall_t(i int)");
  PGconn* repl = PQconnectdb((conninfo() + " replication=database").c_str());
  ASSERT_EQ(PQstatus(repl), CONNECTION_OK) << PQerrorMessage(repl);
  PGresult* r = PQexec(repl, "START_REPLICATION SLOT faults_stall LOGICAL 0/0");
  ASSERT_EQ(PQresultStatus(r), PGRES_COPY_BOTH) << PQerrorMessage(repl);
  PQclear(r);
  // Counts the CopyData messages that arrive within `seconds`.
  auto copy_data_within = [&](double seconds) {
    int n = 0;
    auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < deadline) {
      char* buf = nullptr;
      int len = PQgetCopyData(repl, &buf, 1);
      if (len > 0) {
        ++n;
        PQfreemem(buf);
        continue;
      }
      if (len < 0) break;
      pollfd p{PQsocket(repl), POLLIN, 0};
      ::poll(&p, 1, 50);
      PQconsumeInput(repl);
    }
    return n;
  };
  pg_->psql("INSERT INTO stall_t VALUES (1)");
  EXPECT_GT(copy_data_within(1.5), 0);  // the stream flows
  faults_.add_toxic("pg", {{"type", "pg_stall_replication"}});
  copy_data_within(0.3);  // what was already on its way
  pg_->psql("INSERT INTO stall_t VALUES (2)");
  EXPECT_EQ(copy_data_within(1.5), 0);       // stalled: not even keepalives
  EXPECT_EQ(PQstatus(repl), CONNECTION_OK);  // but not closed
  // Ordinary sessions through the same proxy are not affected.
  PGconn* c = connect();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(exec(c, "SELECT 1"), "");
  PQfinish(c);
  PQfinish(repl);
}
