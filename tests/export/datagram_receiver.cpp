#include "datagram_receiver.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <utility>

namespace pgw::test {

DatagramReceiver DatagramReceiver::udp() {
  DatagramReceiver r;
  r.fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(r.fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    throw std::runtime_error("udp receiver: bind failed");
  socklen_t len = sizeof sa;
  ::getsockname(r.fd_, reinterpret_cast<sockaddr*>(&sa), &len);
  r.address_ = "udp://127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
  return r;
}

DatagramReceiver DatagramReceiver::unix_socket() {
  DatagramReceiver r;
  std::string tmpl = (std::filesystem::temp_directory_path() / "pgwarden-syslog-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  r.dir_ = tmpl;
  std::string path = r.dir_ + "/log";
  r.fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.data(), path.size());
  if (::bind(r.fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    throw std::runtime_error("unix receiver: bind failed");
  r.address_ = "unix:" + path;
  return r;
}

DatagramReceiver::DatagramReceiver(DatagramReceiver&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      address_(std::move(o.address_)),
      dir_(std::exchange(o.dir_, "")) {}

DatagramReceiver::~DatagramReceiver() {
  if (fd_ >= 0) ::close(fd_);
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

std::optional<std::string> DatagramReceiver::receive(std::chrono::milliseconds timeout) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
  char buf[65536];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace pgw::test
