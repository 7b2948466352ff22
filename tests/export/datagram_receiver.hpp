#pragma once
// Syslog collectors for tests: a UDP socket on 127.0.0.1 and a unix datagram
// socket in a temp dir (removed on destruction).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace pgw::test {

class DatagramReceiver {
 public:
  static DatagramReceiver udp();          // 127.0.0.1, a free port
  static DatagramReceiver unix_socket();  // a socket file in a fresh temp dir
  ~DatagramReceiver();
  DatagramReceiver(DatagramReceiver&& o) noexcept;
  DatagramReceiver(const DatagramReceiver&) = delete;
  DatagramReceiver& operator=(const DatagramReceiver&) = delete;

  // "udp://127.0.0.1:PORT" or "unix:/tmp/.../log"
  const std::string& address() const { return address_; }
  // The next datagram, or nullopt after a bounded wait.
  std::optional<std::string> receive(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  DatagramReceiver() = default;
  int fd_ = -1;
  std::string address_, dir_;
};

}  // namespace pgw::test
