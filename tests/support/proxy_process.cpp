#include "proxy_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "pg_cluster.hpp"

namespace pgw::test {
namespace fs = std::filesystem;

std::string pgwarden_bin() {
  const char* b = std::getenv("PGWARDEN_BIN");
  if (!b) throw std::runtime_error("PGWARDEN_BIN is not set (run the tests through ctest)");
  return b;
}

int raw_connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string read_all(int fd, double seconds) {
  return read_until(fd, {}, seconds);
}

std::string read_until(int fd, std::string_view marker, double seconds) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) break;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (!marker.empty() && out.find(marker) != std::string::npos) break;
  }
  return out;
}

ProxyProcess::ProxyProcess(const std::string& config_body, std::vector<std::string> args) {
  const std::string bin = pgwarden_bin();  // may throw: before the temp dir exists
  char tmpl[] = "/tmp/pgwarden-proxy-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  port_ = free_port();
  {
    std::ofstream cfg(dir_ / "pgwarden.toml");
    cfg << "[proxy]\nlisten = [\"127.0.0.1:" << port_ << "\"]\n" << config_body << "\n";
  }
  std::vector<std::string> argv_s = {bin,        "proxy",
                                     "--config", (dir_ / "pgwarden.toml").string(),
                                     "--events", "file:" + (dir_ / "events.jsonl").string()};
  for (auto& a : args) argv_s.push_back(a);
  // PGWARDEN_TEST_PROXY_LOG=trace keeps the proxy's log (and its temp dir) for debugging.
  if (const char* lvl = std::getenv("PGWARDEN_TEST_PROXY_LOG")) {
    argv_s.push_back("--log-level");
    argv_s.push_back(lvl);
  }
  pid_ = ::fork();
  if (pid_ == 0) {
    int err = ::open((dir_ / "stderr.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(err, 2);
    ::dup2(err, 1);
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  for (int i = 0; i < 500; ++i) {
    int fd = raw_connect(port_);
    if (fd >= 0) {
      // Wait for the proxy to close this probe too: it counts against
      // max_client_conn from accept, and a test may start at that limit.
      ::shutdown(fd, SHUT_WR);
      read_all(fd, 1);
      ::close(fd);
      return;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = 0;
      throw std::runtime_error("pgwarden proxy exited at start: " + stderr_text());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("pgwarden proxy did not start listening: " + stderr_text());
}

ProxyProcess::~ProxyProcess() {
  stop();
  std::error_code ec;
  if (!std::getenv("PGWARDEN_TEST_PROXY_LOG")) fs::remove_all(dir_, ec);
}

void ProxyProcess::stop() {
  if (pid_ <= 0) return;
  // SIGTERM drains (clients in a transaction get shutdown_grace); a test that
  // left one open is not kept waiting: SIGINT stops at once after 3 s.
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 500; ++i) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = 0;
      return;
    }
    if (i == 300) ::kill(pid_, SIGINT);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = 0;
}

bool ProxyProcess::exited_within(double seconds) {
  if (pid_ <= 0) return true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = 0;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::string ProxyProcess::conninfo(const std::string& user, const std::string& password,
                                   const std::string& db) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=" + user +
         " password=" + password + " dbname=" + db + " sslmode=disable";
}

std::vector<nlohmann::json> ProxyProcess::events() const {
  std::vector<nlohmann::json> out;
  std::ifstream in(dir_ / "events.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

std::vector<nlohmann::json> ProxyProcess::settled_events(double quiet_seconds) const {
  // The event file is written by an asynchronous sink: wait until it has
  // stopped growing, so counts taken after a workload are complete.
  const auto path = dir_ / "events.jsonl";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  auto last_change = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < deadline &&
         std::chrono::steady_clock::now() - last_change <
             std::chrono::duration<double>(quiet_seconds)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto now_size = std::filesystem::file_size(path, ec);
    if (now_size != size) {
      size = now_size;
      last_change = std::chrono::steady_clock::now();
    }
  }
  return events();
}

nlohmann::json ProxyProcess::wait_event(const nlohmann::json& match, double seconds) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  do {
    for (auto& e : events()) {
      bool all = true;
      for (auto& [k, v] : match.items()) {
        if (!e.contains(k) || e[k] != v) {
          all = false;
          break;
        }
      }
      if (all) return e;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < deadline);
  return nullptr;
}

std::string ProxyProcess::stderr_text() const {
  std::ifstream in(dir_ / "stderr.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace pgw::test
