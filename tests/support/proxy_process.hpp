#pragma once
// Runs the real `pgwarden proxy` binary for a test: a config file written to a
// temp dir, a free port on 127.0.0.1, events as JSON lines in a file; stopped
// by PID (SIGTERM, then SIGKILL) when the object goes away.
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace pgw::test {

class ProxyProcess {
 public:
  // `config_body`: TOML without [proxy].listen (added here). Extra CLI args optional.
  explicit ProxyProcess(const std::string& config_body, std::vector<std::string> args = {});
  ~ProxyProcess();
  ProxyProcess(const ProxyProcess&) = delete;
  ProxyProcess& operator=(const ProxyProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string conninfo(const std::string& user, const std::string& password,
                       const std::string& db) const;
  // Every event so far, parsed.
  std::vector<nlohmann::json> events() const;
  // The same, once the (asynchronous) event file has been quiet for a while:
  // for counting what a finished workload produced. The quiet time must
  // outlast the file sink's 1 s flush_interval, which can hold a part-filled
  // batch back, with room for a slow (ASan, loaded) machine.
  std::vector<nlohmann::json> settled_events(double quiet_seconds = 2.5) const;
  // Waits (up to `seconds`) until an event matching all given fields appears.
  nlohmann::json wait_event(const nlohmann::json& match, double seconds = 10) const;
  std::string stderr_text() const;
  std::filesystem::path config_path() const { return dir_ / "pgwarden.toml"; }
  std::filesystem::path dir() const { return dir_; }
  void stop();
  // Waits up to `seconds` for the process to exit on its own; true if it did.
  bool exited_within(double seconds);

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = 0;
};

// Path of the pgwarden binary under test (PGWARDEN_BIN).
std::string pgwarden_bin();
// A raw TCP connection to 127.0.0.1:port for malformed-input tests.
int raw_connect(int port);
// Reads until the peer closes or `seconds` pass; returns the bytes.
std::string read_all(int fd, double seconds);
// The same, but also returns as soon as the bytes read contain `marker`.
std::string read_until(int fd, std::string_view marker, double seconds);

}  // namespace pgw::test
