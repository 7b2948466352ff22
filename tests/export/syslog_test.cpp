#include <gtest/gtest.h>
#include <unistd.h>

#include "datagram_receiver.hpp"
#include "pgwarden/export/sink_factory.hpp"
#include "pgwarden/export/syslog_transport.hpp"

using namespace pgw;
using namespace pgw::exporter;
using pgw::test::DatagramReceiver;
using namespace std::chrono_literals;

namespace {

observe::SerializedEvent serialized(observe::ConnectionEvent e) {
  std::string line = observe::to_json(e);
  return {std::move(e), std::move(line)};
}

std::vector<observe::SerializedEvent> open_and_server_close() {
  observe::ConnectionEvent open;
  open.ts = observe::SystemClock::time_point(std::chrono::microseconds(1'700'000'000'123'456));
  open.event = "client.open";
  open.conn_id = 5;
  observe::ConnectionEvent close = open;
  close.event = "server.close";
  close.side = "server";
  close.initiator = "network";
  close.cause = "keepalive_timeout";
  return {serialized(open), serialized(close)};
}

void expect_rfc5424(DatagramReceiver& rx, const std::vector<observe::SerializedEvent>& batch) {
  std::string pid = std::to_string(::getpid());
  auto first = rx.receive();
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, "<134>1 2023-11-14T22:13:20.123456Z testhost pgwarden " + pid + " - - " +
                        batch[0].json);  // local0.info
  auto second = rx.receive();
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, "<132>1 2023-11-14T22:13:20.123456Z testhost pgwarden " + pid + " - - " +
                         batch[1].json);  // local0.warning: the network ended it
}

}  // namespace

TEST(Syslog, SendsRfc5424OverUdp) {
  auto rx = DatagramReceiver::udp();
  SyslogOptions o;
  o.address = rx.address();
  o.hostname = "testhost";
  SyslogTransport t(o);
  auto batch = open_and_server_close();
  std::string error;
  ASSERT_TRUE(t.deliver(batch, error)) << error;
  expect_rfc5424(rx, batch);
}

TEST(Syslog, SendsRfc5424OverAUnixDatagramSocket) {
  auto rx = DatagramReceiver::unix_socket();
  SyslogOptions o;
  o.address = rx.address();
  o.hostname = "testhost";
  SyslogTransport t(o);
  auto batch = open_and_server_close();
  std::string error;
  ASSERT_TRUE(t.deliver(batch, error)) << error;
  expect_rfc5424(rx, batch);
}

TEST(Syslog, FacilityChangesPri) {
  observe::ConnectionEvent e;
  e.ts = observe::SystemClock::time_point(std::chrono::seconds(0));
  e.event = "client.close";
  e.initiator = "client";
  EXPECT_EQ(syslog_line(e, "{}", 1, "h", "pgwarden", 7),
            "<14>1 1970-01-01T00:00:00.000000Z h pgwarden 7 - - {}");
  e.event = "sink.failing";
  EXPECT_EQ(syslog_line(e, "{}", 23, "h", "pgwarden", 7).substr(0, 6), "<188>1");
}

TEST(Syslog, MissingSocketFailsDeliveryWithTheReason) {
  SyslogOptions o;
  o.address = "unix:/nonexistent-pgwarden-dir/log";
  SyslogTransport t(o);
  std::string error;
  EXPECT_FALSE(t.deliver(open_and_server_close(), error));
  EXPECT_EQ(error, "syslog unix:/nonexistent-pgwarden-dir/log: No such file or directory");
}

TEST(Syslog, AddressesParse) {
  std::string error;
  auto a = parse_syslog_address("udp://[::1]", error);
  ASSERT_TRUE(a) << error;
  EXPECT_TRUE(a->udp);
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 514);
  a = parse_syslog_address("udp://logs.internal:5514", error);
  ASSERT_TRUE(a) << error;
  EXPECT_EQ(a->host, "logs.internal");
  EXPECT_EQ(a->port, 5514);
  EXPECT_FALSE(parse_syslog_address("tcp://x:1", error));
  EXPECT_EQ(error, "syslog address tcp://x:1: expected unix:PATH or udp://HOST[:PORT]");
}

TEST(Syslog, FullPathThroughTheBus) {
  auto rx = DatagramReceiver::udp();
  observe::EventBus bus;
  auto cfg = parse_sink_spec("syslog:" + rx.address());
  cfg.flush_interval = 1ms;
  bus.add_sink(make_sink(cfg, bus));
  observe::ConnectionEvent e;
  e.event = "client.open";
  e.conn_id = 9;
  bus.publish(e);
  auto got = rx.receive();
  ASSERT_TRUE(got);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::string header =
      std::string(" ") + host + " pgwarden " + std::to_string(::getpid()) + " - - ";
  EXPECT_EQ(got->rfind("<134>1 ", 0), 0u);
  EXPECT_NE(got->find(header + observe::to_json(e)), std::string::npos);
}
