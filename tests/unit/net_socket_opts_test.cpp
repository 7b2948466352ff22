// Socket options on real loopback sockets, read back with getsockopt.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pgwarden/net/socket_opts.hpp"

using namespace pgw;

namespace {
int int_option(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof v;
  EXPECT_EQ(::getsockopt(fd, level, name, &v, &len), 0);
  return v;
}

// A connected TCP socket on 127.0.0.1 (and its listener, closed by the caller).
struct Loopback {
  int listener = -1, client = -1;
  Loopback() {
    listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(listener, 1), 0);
    EXPECT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len), 0);
    client = ::socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  }
  ~Loopback() {
    ::close(client);
    ::close(listener);
  }
};
}  // namespace

TEST(SocketOpts, DefaultKeepaliveSetsADerivedUserTimeout) {
  Loopback s;
  ASSERT_TRUE(net::apply_tcp_options(s.client, Keepalive{}));
  EXPECT_EQ(int_option(s.client, SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_EQ(int_option(s.client, IPPROTO_TCP, TCP_KEEPIDLE), 60);
  EXPECT_EQ(int_option(s.client, IPPROTO_TCP, TCP_KEEPINTVL), 10);
  EXPECT_EQ(int_option(s.client, IPPROTO_TCP, TCP_KEEPCNT), 6);
  // 60 s idle + 6 probes x 10 s.
  EXPECT_EQ(int_option(s.client, IPPROTO_TCP, TCP_USER_TIMEOUT), 120'000);
  EXPECT_EQ(int_option(s.client, IPPROTO_TCP, TCP_NODELAY), 1);
}

TEST(SocketOpts, ExplicitUserTimeoutWinsAndZeroLeavesTheKernelDefault) {
  Loopback s;
  Keepalive ka;
  ka.user_timeout = Millis(7'500);
  ASSERT_TRUE(net::apply_tcp_options(s.client, ka));
  EXPECT_EQ(int_option(s.client, IPPROTO_TCP, TCP_USER_TIMEOUT), 7'500);
  Loopback t;
  ka.user_timeout = Millis(0);
  ASSERT_TRUE(net::apply_tcp_options(t.client, ka));
  EXPECT_EQ(int_option(t.client, IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
}
