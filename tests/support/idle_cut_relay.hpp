#pragma once
// A TCP relay on 127.0.0.1 that behaves like a NAT gateway or load balancer
// with an idle timeout: a connection with no bytes in either direction for
// `idle_cut` is reset (RST towards the client side, close towards the
// target). Used to reproduce "connections die after N s idle" for real.
#include <atomic>
#include <chrono>
#include <thread>

namespace pgw::test {

class IdleCutRelay {
 public:
  IdleCutRelay(int target_port, std::chrono::milliseconds idle_cut);
  ~IdleCutRelay();
  IdleCutRelay(const IdleCutRelay&) = delete;
  IdleCutRelay& operator=(const IdleCutRelay&) = delete;
  int port() const { return port_; }
  int cuts() const { return cuts_.load(); }

 private:
  void run();
  int target_port_;
  std::chrono::milliseconds idle_cut_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> cuts_{0};
  std::thread thread_;
};

}  // namespace pgw::test
