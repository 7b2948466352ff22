#include "socket_util.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace pgw::exporter {

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  reset(o.release());
  return *this;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

AddrInfoList resolve(const std::string& host, uint16_t port, int socktype, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) {
    error = fmt::format("cannot resolve {}: {}", host, gai_strerror(rc));
    return nullptr;
  }
  return AddrInfoList(found);
}

bool wait_for(int fd, short events, Deadline deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return true;  // let the following call report the error
  }
}

UniqueFd connect_tcp(const std::string& host, uint16_t port, Deadline deadline, std::string& error,
                     bool& timed_out) {
  timed_out = false;
  auto addrs = resolve(host, port, SOCK_STREAM, error);
  if (!addrs) return {};
  for (addrinfo* a = addrs.get(); a; a = a->ai_next) {
    UniqueFd fd(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
      error = fmt::format("socket: {}", std::strerror(errno));
      continue;
    }
    if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) == 0) return fd;
    if (errno != EINPROGRESS) {
      error = fmt::format("cannot connect: {}", std::strerror(errno));
      continue;
    }
    if (!wait_for(fd.get(), POLLOUT, deadline)) {
      timed_out = true;
      error = "connecting";
      return {};
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error == 0) return fd;
    error = fmt::format("cannot connect: {}", std::strerror(so_error));
  }
  return {};
}

std::string seconds(std::chrono::milliseconds d) {
  return fmt::format("{}s", static_cast<double>(d.count()) / 1000.0);
}

}  // namespace pgw::exporter
