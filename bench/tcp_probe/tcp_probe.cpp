// tcp_probe: the two numbers a byte relay is judged by, on loopback, with
// nothing in the way but the relay (bench/relay_vs_socat.sh).
//   tcp_probe serve PORT            echo ('E' first byte) or sink ('S') server
//   tcp_probe rtt HOST PORT N SIZE  N round trips of SIZE bytes: p50/p99 in µs
//   tcp_probe push HOST PORT MIB    MIB mebibytes to the sink and its receipt: MiB/s
// Blocking sockets, TCP_NODELAY, one thread per served connection.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

void no_delay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool read_exact(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = ::recv(fd, p, n, 0);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

int connect_to(const char* host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host, &a.sin_addr) != 1) die("inet_pton");
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("connect");
  no_delay(fd);
  return fd;
}

void serve_one(int fd) {
  no_delay(fd);
  char mode = 0;
  if (!read_exact(fd, &mode, 1)) {
    ::close(fd);
    return;
  }
  std::vector<char> buf(1 << 20);
  uint64_t total = 0;
  for (;;) {
    ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
    if (r <= 0) break;
    total += static_cast<uint64_t>(r);
    if (mode == 'E' && !write_all(fd, buf.data(), static_cast<size_t>(r))) break;
  }
  if (mode == 'S') write_all(fd, reinterpret_cast<const char*>(&total), sizeof total);
  ::close(fd);
}

int serve(int port) {
  int l = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("bind");
  if (::listen(l, 64) != 0) die("listen");
  for (;;) {
    int fd = ::accept(l, nullptr, nullptr);
    if (fd < 0) continue;
    std::thread(serve_one, fd).detach();
  }
}

int rtt(const char* host, int port, int n, size_t size) {
  int fd = connect_to(host, port);
  std::string msg(size, 'x');
  msg[0] = 'E';  // the first byte picks echo; the rest of the first message is echoed
  std::vector<char> back(size);
  if (!write_all(fd, msg.data(), size) || !read_exact(fd, back.data(), size - 1)) die("warm-up");
  std::vector<double> us;
  us.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    if (!write_all(fd, msg.data(), size) || !read_exact(fd, back.data(), size)) die("round trip");
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  std::printf("p50_us=%.1f p99_us=%.1f\n", us[us.size() / 2], us[us.size() * 99 / 100]);
  ::close(fd);
  return 0;
}

int push(const char* host, int port, uint64_t mib) {
  int fd = connect_to(host, port);
  std::vector<char> chunk(1 << 20, 'y');
  auto t0 = Clock::now();
  if (!write_all(fd, "S", 1)) die("send");
  for (uint64_t i = 0; i < mib; ++i)
    if (!write_all(fd, chunk.data(), chunk.size())) die("send");
  ::shutdown(fd, SHUT_WR);
  uint64_t received = 0;  // the sink's receipt: everything arrived
  if (!read_exact(fd, reinterpret_cast<char*>(&received), sizeof received)) die("receipt");
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (received != mib << 20) {
    std::fprintf(stderr, "sink received %llu of %llu bytes\n",
                 static_cast<unsigned long long>(received),
                 static_cast<unsigned long long>(mib << 20));
    return 1;
  }
  std::printf("mib_per_s=%.0f\n", static_cast<double>(mib) / secs);
  ::close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "serve" && argc == 3) return serve(std::atoi(argv[2]));
  if (cmd == "rtt" && argc == 6)
    return rtt(argv[2], std::atoi(argv[3]), std::atoi(argv[4]),
               static_cast<size_t>(std::atoi(argv[5])));
  if (cmd == "push" && argc == 5)
    return push(argv[2], std::atoi(argv[3]), std::strtoull(argv[4], nullptr, 10));
  std::fprintf(stderr, "usage: tcp_probe serve PORT | rtt HOST PORT N SIZE | push HOST PORT MIB\n");
  return 2;
}
