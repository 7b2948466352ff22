#include "pgwarden/net/socket_opts.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>

namespace pgw::net {

bool apply_tcp_options(int fd, const Keepalive& ka) {
  int one = 1;
  bool ok = ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0;
  if (ka.enabled) {
    ok &= ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) == 0;
    ok &= ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &ka.idle_s, sizeof ka.idle_s) == 0;
    ok &= ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &ka.interval_s, sizeof ka.interval_s) == 0;
    ok &= ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &ka.count, sizeof ka.count) == 0;
  }
  if (ka.user_timeout.count() > 0) {
    unsigned ms = static_cast<unsigned>(ka.user_timeout.count());
    ok &= ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms) == 0;
  }
  return ok;
}

PeekResult peek(int fd, int& err_no) {
  char b;
  ssize_t n = ::recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return PeekResult::readable;
  if (n == 0) return PeekResult::eof;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return PeekResult::idle;
  err_no = errno;
  return PeekResult::error;
}

const char* errno_cause(int err_no) {
  switch (err_no) {
    case ECONNRESET:
      return "peer_reset";
    case EPIPE:
      return "broken_pipe";
    case ETIMEDOUT:
      return "keepalive_timeout";
    case ECONNREFUSED:
      return "connect_refused";
    case EHOSTUNREACH:
    case ENETUNREACH:
      return "unreachable";
    case ECONNABORTED:
      return "connection_aborted";
    default:
      return "network_error";
  }
}

std::string peer_name(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  char host[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  return "";
}

}  // namespace pgw::net
