#pragma once
// Small POSIX socket helpers shared by the exporters: an owning fd, name
// resolution and waits with a deadline.
#include <netdb.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace pgw::exporter {

using Deadline = std::chrono::steady_clock::time_point;

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

struct AddrInfoFree {
  void operator()(addrinfo* a) const { freeaddrinfo(a); }
};
using AddrInfoList = std::unique_ptr<addrinfo, AddrInfoFree>;

// Returns null and sets `error` when the name does not resolve.
AddrInfoList resolve(const std::string& host, uint16_t port, int socktype, std::string& error);

// Waits for `events` (POLLIN/POLLOUT) until the deadline; false on timeout.
bool wait_for(int fd, short events, Deadline deadline);

// A connected non-blocking TCP socket, or an empty one with `error` set;
// `timed_out` tells a deadline from a refusal.
UniqueFd connect_tcp(const std::string& host, uint16_t port, Deadline deadline, std::string& error,
                     bool& timed_out);

// "0.25s", "5s": durations in errors.
std::string seconds(std::chrono::milliseconds d);

}  // namespace pgw::exporter
