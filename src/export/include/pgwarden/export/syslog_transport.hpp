#pragma once
// Events as RFC 5424 syslog messages, one datagram each:
//   <PRI>1 TIMESTAMP HOSTNAME pgwarden PID - - {"ts":...}
// to a unix datagram socket (unix:/dev/log) or a UDP collector (udp://host:port).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pgwarden/observe/sink.hpp"

namespace pgw::exporter {

struct SyslogAddress {
  bool udp = false;
  std::string path;  // unix datagram socket
  std::string host;  // udp
  uint16_t port = 514;
};

// "unix:/dev/log", "udp://host[:port]", "udp://[v6]:port". Nullopt and `error` otherwise.
std::optional<SyslogAddress> parse_syslog_address(std::string_view text, std::string& error);

struct SyslogOptions {
  std::string address = "unix:/dev/log";
  int facility = 16;     // local0
  std::string hostname;  // empty: gethostname()
  std::string app_name = "pgwarden";
};

// The RFC 5424 line for one event. PRI = facility * 8 + severity: warning (4)
// for closes by the server or network and failing sinks, else info (6).
std::string syslog_line(const observe::ConnectionEvent& e, const std::string& json, int facility,
                        const std::string& hostname, const std::string& app_name, long pid);

class SyslogTransport : public observe::Transport {
 public:
  explicit SyslogTransport(SyslogOptions opts);  // throws std::invalid_argument on a bad address
  ~SyslogTransport() override;
  SyslogTransport(const SyslogTransport&) = delete;
  SyslogTransport& operator=(const SyslogTransport&) = delete;

  bool deliver(const std::vector<observe::SerializedEvent>& batch, std::string& error) override;
  // Reconnects on the next delivery (syslogd restarted, /dev/log recreated).
  void reopen() override;

 private:
  bool connect(std::string& error);
  SyslogOptions opts_;
  SyslogAddress address_;
  std::string hostname_;
  long pid_;
  int fd_ = -1;
};

}  // namespace pgw::exporter
