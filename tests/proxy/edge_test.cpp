// Bad input, authentication, limits and timeouts: each ends with a precise
// SQLSTATE and message for the client, a cause in the event stream, and the
// other sessions untouched.
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "pgwarden/wire/codec.hpp"
#include "stack.hpp"

using namespace pgw::test;
namespace wire = pgw::wire;

namespace {
// The first ErrorResponse in `bytes`, if any.
std::optional<wire::ErrorFields> first_error(const std::string& bytes) {
  std::string_view rest = bytes;
  while (!rest.empty()) {
    wire::Frame f;
    if (wire::next_frame(rest, 1 << 20, f) != wire::FrameStatus::ok) break;
    if (f.type == 'E') {
      wire::ErrorFields e;
      wire::parse_error_fields(f.body, e);
      return e;
    }
    rest.remove_prefix(f.size);
  }
  return std::nullopt;
}

std::string send_and_read(int port, const std::string& bytes, double seconds = 3) {
  int fd = raw_connect(port);
  EXPECT_GE(fd, 0);
  ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string out = read_all(fd, seconds);
  ::close(fd);
  return out;
}

std::string startup(const std::string& user, const std::string& db) {
  std::string s;
  wire::startup_message(s, {{"user", user}, {"database", db}});
  return s;
}
}  // namespace

TEST_F(ProxyTest, MalformedStartupPacketsGetPreciseErrors) {
  start_proxy("");
  auto bystander = client();
  ASSERT_EQ(PQstatus(bystander.get()), CONNECTION_OK);

  std::string huge;
  wire::put_u32(huge, 20000);
  wire::put_u32(huge, wire::kProtocol3);
  auto e = first_error(send_and_read(proxy().port(), huge));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->sqlstate, "08P01");
  EXPECT_EQ(e->message, "invalid length of startup packet (20000 bytes)");

  std::string v2;
  wire::put_u32(v2, 8);
  wire::put_u32(v2, 0x00020000);
  e = first_error(send_and_read(proxy().port(), v2));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->sqlstate, "0A000");
  EXPECT_NE(e->message.find("unsupported frontend protocol 2.0"), std::string::npos);

  e = first_error(send_and_read(proxy().port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->sqlstate, "08P01");

  std::string ssl;
  wire::put_u32(ssl, 8);
  wire::put_u32(ssl, wire::kSslRequest);
  EXPECT_EQ(send_and_read(proxy().port(), ssl, 0.5), "N");

  // Vanishing mid-authentication.
  int fd = raw_connect(proxy().port());
  std::string s = startup("app", "app");
  ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
  read_all(fd, 0.3);
  ::close(fd);
  auto ev = proxy().wait_event(
      {{"event", "client.close"}, {"state", "authenticating"}, {"cause", "client_eof"}});
  EXPECT_FALSE(ev.is_null());
  EXPECT_TRUE(
      proxy().wait_event({{"event", "client.close"}, {"cause", "protocol_violation"}}).is_object());
  EXPECT_TRUE(proxy()
                  .wait_event({{"event", "client.close"}, {"cause", "unsupported_protocol"}})
                  .is_object());
  EXPECT_EQ(pq_exec(bystander.get(), "select 'untouched'").value, "untouched");
}

TEST_F(ProxyTest, AbsurdMessageLengthAfterLoginEndsOnlyThatClient) {
  start_proxy("auth_type = \"trust\"\n");
  auto bystander = client();
  int fd = raw_connect(proxy().port());
  std::string s = startup("app", "app");
  ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
  const std::string ready("Z\0\0\0\5I", 6);
  std::string greeting = read_until(fd, ready, 10);
  ASSERT_NE(greeting.find(ready), std::string::npos);
  std::string bad = "Q";
  wire::put_u32(bad, 0xfffffff0u);
  ::send(fd, bad.data(), bad.size(), MSG_NOSIGNAL);
  auto e = first_error(read_all(fd, 2));
  ::close(fd);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->severity, "FATAL");
  EXPECT_EQ(e->sqlstate, "08P01");
  EXPECT_NE(e->message.find("invalid message length -16"), std::string::npos) << e->message;
  EXPECT_EQ(pq_exec(bystander.get(), "select 'untouched'").value, "untouched");
}

class AuthModes : public ProxyTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(AuthModes, RightPasswordInWrongPasswordOut) {
  start_proxy("auth_type = \"" + GetParam() + "\"\n");
  auto ok = client();
  ASSERT_EQ(PQstatus(ok.get()), CONNECTION_OK) << PQerrorMessage(ok.get());
  EXPECT_EQ(pq_exec(ok.get(), "select current_user").value, "app");
  auto bad = pq_connect(proxy().conninfo("app", "not-the-password", "app"));
  EXPECT_EQ(PQstatus(bad.get()), CONNECTION_BAD);
  EXPECT_NE(std::string(PQerrorMessage(bad.get()))
                .find("password authentication failed for user \"app\""),
            std::string::npos);
  auto ev = proxy().wait_event({{"event", "client.close"}, {"cause", "auth_failed"}});
  ASSERT_TRUE(ev.is_object());
  EXPECT_EQ(ev["sqlstate"], "28P01");
}

INSTANTIATE_TEST_SUITE_P(Methods, AuthModes,
                         ::testing::Values("scram-sha-256", "md5", "cleartext"));

TEST_F(ProxyTest, MaxClientConnRefusesWithTooManyConnections) {
  start_proxy("max_client_conn = 2\n");
  auto a = client(), b = client();
  ASSERT_EQ(PQstatus(b.get()), CONNECTION_OK);
  auto c = client();
  EXPECT_EQ(PQstatus(c.get()), CONNECTION_BAD);
  EXPECT_NE(std::string(PQerrorMessage(c.get())).find("max_client_conn = 2"), std::string::npos);
  auto ev = proxy().wait_event({{"event", "client.close"}, {"cause", "max_client_conn"}});
  ASSERT_TRUE(ev.is_object());
  EXPECT_EQ(ev["sqlstate"], "53300");
}

TEST_F(ProxyTest, ProxyTimeoutsNameTheirCause) {
  start_proxy(
      "[timeouts]\nclient_idle_timeout = \"1s\"\nidle_transaction_timeout = \"1s\"\n"
      "query_timeout = \"1s\"\nclient_login_timeout = \"1s\"\n");
  auto idle = client(), in_tx = client(), slow = client();
  ASSERT_TRUE(pq_exec(in_tx.get(), "begin").ok);
  auto r = pq_exec(slow.get(), "select pg_sleep(4)");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("query_timeout (1s)"), std::string::npos) << "[" << r.message << "]";
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  r = pq_exec(idle.get(), "select 1");
  EXPECT_FALSE(r.ok);
  r = pq_exec(in_tx.get(), "select 1");
  EXPECT_FALSE(r.ok);
  int fd = raw_connect(proxy().port());
  auto e = first_error(read_all(fd, 3));
  ::close(fd);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->sqlstate, "57014");
  struct Want {
    const char* cause;
    const char* sqlstate;
    const char* state;
  };
  for (Want w : {Want{"client_idle_timeout", "57P05", "idle"},
                 Want{"idle_transaction_timeout", "25P03", "in_transaction"},
                 Want{"query_timeout", "57014", "active"},
                 Want{"client_login_timeout", "57014", "authenticating"}}) {
    auto ev = proxy().wait_event({{"event", "client.close"}, {"cause", w.cause}});
    ASSERT_TRUE(ev.is_object()) << w.cause;
    EXPECT_EQ(ev["sqlstate"], w.sqlstate) << w.cause;
    EXPECT_EQ(ev["state"], w.state) << w.cause;
    EXPECT_EQ(ev["initiator"], "proxy") << w.cause;
  }
  // The query that overran took its server connection with it.
  auto sv = proxy().wait_event({{"event", "server.close"}, {"cause", "query_timeout"}});
  EXPECT_TRUE(sv.is_object());
}

TEST_F(ProxyTest, ServerTerminationReachesTheSessionClientWithItsSqlstate) {
  // A session whose state cannot be rebuilt elsewhere (LISTEN) ends as it
  // would on PostgreSQL; one without such state is rescued (rescue_test.cpp).
  start_proxy("", "session");
  auto c = client("application_name=victim");
  ASSERT_TRUE(pq_exec(c.get(), "LISTEN news").ok);
  pg().psql(
      "select pg_terminate_backend(pid) from pg_stat_activity where "
      "application_name = 'victim'");
  auto ev = proxy().wait_event({{"event", "server.close"}, {"cause", "server_fatal"}});
  ASSERT_TRUE(ev.is_object());
  EXPECT_EQ(ev["sqlstate"], "57P01");
  EXPECT_EQ(ev["initiator"], "server");
  EXPECT_EQ(ev["client_impact"], "disconnected");
  auto r = pq_exec(c.get(), "select 1");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("terminating connection due to administrator command"),
            std::string::npos)
      << r.message;
}

TEST(ServerAuth, Md5PasswordsOnTheServer) {
  // A server that stores md5 passwords and asks for md5 (pg_hba "md5").
  PgCluster md5({.settings = {{"password_encryption", "md5"}}, .auth_method = "md5"});
  md5.psql("create role legacy login password 'legacy-pw'");
  ASSERT_EQ(md5.psql("select left(rolpassword, 3) from pg_authid where rolname = 'legacy'"), "md5");
  ProxyProcess px("[databases.postgres]\nport = " + std::to_string(md5.port()) +
                  "\n[users.legacy]\npassword = \"legacy-pw\"\n");
  auto c = pq_connect(px.conninfo("legacy", "legacy-pw", "postgres"));
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  EXPECT_EQ(pq_exec(c.get(), "select current_user").value, "legacy");
  auto ev = px.wait_event({{"event", "server.open"}});
  EXPECT_TRUE(ev.is_object());
}

TEST_F(ProxyTest, ServerIdleTimeoutAndDatabaseLimit) {
  start_proxy(
      "default_pool_size = 5\n[timeouts]\nserver_idle_timeout = \"1s\"\n"
      "query_wait_timeout = \"1s\"\n"
      "[databases.limited]\nhost = \"127.0.0.1\"\nport = " +
      std::to_string(pg().port()) + "\ndbname = \"app\"\nmax_db_connections = 1\n");
  // max_db_connections = 1: a second client of that database waits, then times out.
  auto a = pq_connect(proxy().conninfo("app", "app-pw", "limited"));
  auto b = pq_connect(proxy().conninfo("app", "app-pw", "limited"));
  ASSERT_TRUE(pq_exec(a.get(), "begin").ok);
  ASSERT_TRUE(pq_exec(a.get(), "select 1").ok);
  auto r = pq_exec(b.get(), "select 1");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.sqlstate, "53000");
  ASSERT_TRUE(pq_exec(a.get(), "commit").ok);
  EXPECT_TRUE(pq_exec(b.get(), "select 1").ok);
  // Idle server connections are closed after server_idle_timeout.
  auto ev = proxy().wait_event({{"event", "server.close"}, {"cause", "idle_timeout"}}, 6);
  ASSERT_TRUE(ev.is_object());
  EXPECT_EQ(ev["initiator"], "proxy");
  EXPECT_GE(ev["idle_ms"].get<int>(), 1000);
}

TEST_F(ProxyTest, ServerLifetimeRetiresConnections) {
  start_proxy("[timeouts]\nserver_lifetime = \"1s\"\n");
  auto c = client();
  ASSERT_TRUE(pq_exec(c.get(), "select 1").ok);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  ASSERT_TRUE(pq_exec(c.get(), "select 2").ok);
  auto ev = proxy().wait_event({{"event", "server.close"}, {"cause", "lifetime"}}, 6);
  ASSERT_TRUE(ev.is_object());
  EXPECT_GE(ev["age_ms"].get<int>(), 1000);
}

TEST_F(ProxyTest, UnreachableServerIsNamedToTheClient) {
  int dead_port = free_port();
  start_proxy("[databases.gone]\nhost = \"127.0.0.1\"\nport = " + std::to_string(dead_port) + "\n");
  auto c = pq_connect(proxy().conninfo("app", "app-pw", "gone"));
  EXPECT_EQ(PQstatus(c.get()), CONNECTION_BAD);
  std::string msg = PQerrorMessage(c.get());
  EXPECT_NE(msg.find("could not connect to server 127.0.0.1:" + std::to_string(dead_port)),
            std::string::npos)
      << msg;
  auto ev = proxy().wait_event({{"event", "server.connect_failed"}});
  ASSERT_TRUE(ev.is_object());
  EXPECT_EQ(ev["cause"], "server_connect_failed");
  EXPECT_EQ(ev["sqlstate"], "57P03");  // cannot connect now: drivers back off
  EXPECT_EQ(ev["errno"], ECONNREFUSED);
  // The healthy database next to it is untouched.
  auto ok = client();
  EXPECT_EQ(pq_exec(ok.get(), "select 'fine'").value, "fine");
}
