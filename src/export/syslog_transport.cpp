#include "pgwarden/export/syslog_transport.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "pgwarden/core/config.hpp"
#include "severity.hpp"
#include "socket_util.hpp"

namespace pgw::exporter {

namespace {

std::string local_hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "-";
  return buf;
}

}  // namespace

std::optional<SyslogAddress> parse_syslog_address(std::string_view text, std::string& error) {
  SyslogAddress a;
  if (text.starts_with("unix:")) {
    a.path = std::string(text.substr(5));
    if (a.path.empty() || a.path.size() >= sizeof(sockaddr_un::sun_path)) {
      error = fmt::format("syslog address {}: expected unix:PATH (at most {} bytes)", text,
                          sizeof(sockaddr_un::sun_path) - 1);
      return std::nullopt;
    }
    return a;
  }
  if (text.starts_with("udp://")) {
    std::string hp(text.substr(6));
    // The port is optional: 514, the syslog port.
    bool has_port = hp.starts_with('[') ? hp.find("]:") != std::string::npos
                                        : hp.find(':') != std::string::npos;
    if (!has_port) hp += ":514";
    auto parsed = parse_host_port(hp);
    if (!parsed || parsed->host.empty() || parsed->port == 0) {
      error = fmt::format("syslog address {}: expected udp://HOST[:PORT]", text);
      return std::nullopt;
    }
    a.udp = true;
    a.host = parsed->host;
    a.port = parsed->port;
    return a;
  }
  error = fmt::format("syslog address {}: expected unix:PATH or udp://HOST[:PORT]", text);
  return std::nullopt;
}

std::string syslog_line(const observe::ConnectionEvent& e, const std::string& json, int facility,
                        const std::string& hostname, const std::string& app_name, long pid) {
  int severity = severity_of(e) == Severity::warning ? 4 : 6;
  return fmt::format("<{}>1 {} {} {} {} - - {}", facility * 8 + severity, observe::format_ts(e.ts),
                     hostname, app_name, pid, json);
}

SyslogTransport::SyslogTransport(SyslogOptions opts)
    : opts_(std::move(opts)), pid_(static_cast<long>(::getpid())) {
  std::string error;
  auto a = parse_syslog_address(opts_.address, error);
  if (!a) throw std::invalid_argument(error);
  address_ = *a;
  hostname_ = opts_.hostname.empty() ? local_hostname() : opts_.hostname;
}

SyslogTransport::~SyslogTransport() {
  reopen();
}

void SyslogTransport::reopen() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool SyslogTransport::connect(std::string& error) {
  UniqueFd fd;
  if (!address_.udp) {
    fd.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, address_.path.data(), address_.path.size());
    if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      error = fmt::format("syslog unix:{}: {}", address_.path, std::strerror(errno));
      return false;
    }
  } else {
    std::string why;
    auto addrs = resolve(address_.host, address_.port, SOCK_DGRAM, why);
    if (!addrs) {
      error = "syslog " + why;
      return false;
    }
    fd.reset(::socket(addrs->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd || ::connect(fd.get(), addrs->ai_addr, addrs->ai_addrlen) != 0) {
      error =
          fmt::format("syslog udp://{}:{}: {}", address_.host, address_.port, std::strerror(errno));
      return false;
    }
  }
  fd_ = fd.release();
  return true;
}

bool SyslogTransport::deliver(const std::vector<observe::SerializedEvent>& batch,
                              std::string& error) {
  if (fd_ < 0 && !connect(error)) return false;
  for (auto& ev : batch) {
    std::string line =
        syslog_line(ev.event, ev.json, opts_.facility, hostname_, opts_.app_name, pid_);
    // MSG_DONTWAIT: a stalled syslogd fails this try instead of blocking the sink thread.
    if (::send(fd_, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
      error = fmt::format("syslog {}: {}", opts_.address, std::strerror(errno));
      reopen();
      return false;
    }
  }
  return true;
}

}  // namespace pgw::exporter
