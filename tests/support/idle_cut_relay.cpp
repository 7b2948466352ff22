#include "idle_cut_relay.hpp"

#include "proxy_process.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <vector>

namespace pgw::test {

namespace {
using Clock = std::chrono::steady_clock;

struct Pair {
  int client = -1, target = -1;
  Clock::time_point last = Clock::now();
};

void reset_and_close(int fd) {
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

// Moves what `from` has to `to`; false when `from` is done or broken.
bool pump(int from, int to) {
  char buf[65536];
  ssize_t n = ::recv(from, buf, sizeof buf, MSG_DONTWAIT);
  if (n <= 0) return false;
  for (ssize_t off = 0; off < n;) {
    ssize_t w = ::send(to, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
    if (w <= 0) return false;
    off += w;
  }
  return true;
}
}  // namespace

IdleCutRelay::IdleCutRelay(int target_port, std::chrono::milliseconds idle_cut)
    : target_port_(target_port), idle_cut_(idle_cut) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("relay: cannot listen");
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { run(); });
}

IdleCutRelay::~IdleCutRelay() {
  stopping_ = true;
  thread_.join();
  ::close(listen_fd_);
}

void IdleCutRelay::run() {
  std::vector<Pair> pairs;
  while (!stopping_) {
    std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
    for (auto& p : pairs) {
      fds.push_back({p.client, POLLIN, 0});
      fds.push_back({p.target, POLLIN, 0});
    }
    ::poll(fds.data(), fds.size(), 20);
    // A pair accepted now was not polled: it joins after this round.
    std::vector<Pair> alive;
    if (fds[0].revents & POLLIN) {
      int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      int t = c >= 0 ? raw_connect(target_port_) : -1;
      if (c >= 0 && t >= 0)
        alive.push_back({c, t, Clock::now()});
      else if (c >= 0)
        ::close(c);
    }
    const auto now = Clock::now();
    for (size_t i = 0; i < pairs.size(); ++i) {
      Pair p = pairs[i];
      bool ok = true;
      const auto& cf = fds[1 + 2 * i];
      const auto& tf = fds[2 + 2 * i];
      if (cf.revents & (POLLIN | POLLHUP | POLLERR)) {
        ok = pump(p.client, p.target);
        p.last = now;
      }
      if (ok && (tf.revents & (POLLIN | POLLHUP | POLLERR))) {
        ok = pump(p.target, p.client);
        p.last = now;
      }
      if (!ok) {
        ::close(p.client);
        ::close(p.target);
      } else if (now - p.last >= idle_cut_) {
        reset_and_close(p.client);  // what the side that comes back sees: a reset
        ::close(p.target);
        ++cuts_;
      } else {
        alive.push_back(p);
      }
    }
    pairs.swap(alive);
  }
  for (auto& p : pairs) {
    ::close(p.client);
    ::close(p.target);
  }
}

}  // namespace pgw::test
