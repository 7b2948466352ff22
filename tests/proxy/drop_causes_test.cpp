// Every way a connection ends, produced for real against PostgreSQL 15 and
// asserted in the three places a user looks: the event stream, /metrics and
// the admin API (/api/drops). Each case names the initiator, the cause, the
// state, the SQLSTATE and what the client felt.
#include <fmt/format.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "http_get.hpp"
#include "pgwarden/wire/codec.hpp"
#include "stack.hpp"

namespace pgw::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

class Drops : public ProxyTest {
 public:
  using ProxyTest::client;  // the provoking lambdas below drive clients
  using ProxyTest::proxy;

 protected:
  void start(const std::string& extra, const std::string& mode = "transaction") {
    admin_port_ = free_port();
    start_proxy(extra + fmt::format("\n[admin]\nlisten = \"127.0.0.1:{}\"\n", admin_port_), mode);
  }

  // Waits for the close event, then checks /metrics and /api/drops agree.
  json expect_drop(const json& match) {
    json ev = proxy().wait_event(match);
    EXPECT_FALSE(ev.is_null()) << "no event like " << match.dump() << "\n" << proxy().stderr_text();
    if (ev.is_null()) return ev;
    const std::string side = ev.value("side", ""), initiator = ev.value("initiator", ""),
                      cause = ev.value("cause", "");
    auto metrics = http_get(admin_port_, "/metrics");
    EXPECT_EQ(metrics.status, 200);
    auto series =
        fmt::format("pgwarden_connection_closes_total{{side=\"{}\",initiator=\"{}\",cause=\"{}\"}}",
                    side, initiator, cause);
    EXPECT_GE(metric_value(metrics.body, series).value_or(0), 1) << series;
    auto drops = http_get(admin_port_, "/api/drops?cause=" + cause);
    EXPECT_EQ(drops.status, 200) << drops.body;
    bool listed = false;
    const json listed_events = json::parse(drops.body)["events"];
    for (auto& d : listed_events)
      listed |= d["conn_id"] == ev["conn_id"] && d["event"] == ev["event"];
    EXPECT_TRUE(listed) << "conn " << ev["conn_id"] << " not in /api/drops?cause=" << cause << ": "
                        << drops.body;
    return ev;
  }

  std::string metrics_text() { return http_get(admin_port_, "/metrics").body; }
  int admin_port_ = 0;
};

std::string backend_pid(PGconn* c) {
  return pq_exec(c, "SELECT pg_backend_pid()").value;
}

// A session-mode client that LISTENs holds state no other server connection
// can be given: a lost link ends it as PostgreSQL would (a client without such
// state is rescued instead, rescue_test.cpp).
void hold_session_state(PGconn* c) {
  ASSERT_TRUE(pq_exec(c, "LISTEN drops").ok);
}

TEST_F(Drops, PgTerminateBackendIsTheServersFatal57P01) {
  start("", "session");
  auto c = client();
  hold_session_state(c.get());
  std::string pid = backend_pid(c.get());
  pg().psql("SELECT pg_terminate_backend(" + pid + ")");
  auto server = expect_drop({{"event", "server.close"}, {"backend_pid", std::stoi(pid)}});
  EXPECT_EQ(server["initiator"], "server");
  EXPECT_EQ(server["cause"], "server_fatal");
  EXPECT_EQ(server["sqlstate"], "57P01");
  EXPECT_EQ(server["client_impact"], "disconnected");
  auto cl = expect_drop({{"event", "client.close"}, {"cause", "server_fatal"}});
  EXPECT_EQ(cl["sqlstate"], "57P01");
  EXPECT_EQ(cl["state"], "idle");
  EXPECT_EQ(cl["client_impact"], "disconnected");
  auto r = pq_exec(c.get(), "SELECT 1");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(std::string(PQerrorMessage(c.get()))
                .find("terminating connection due to administrator command"),
            std::string::npos)
      << PQerrorMessage(c.get());
}

TEST_F(Drops, ServerIdleSessionTimeoutIs57P05) {
  start("", "session");
  auto c = client();
  ASSERT_TRUE(pq_exec(c.get(), "SET idle_session_timeout = '300ms'").ok);
  auto server = expect_drop({{"event", "server.close"}, {"sqlstate", "57P05"}});
  EXPECT_EQ(server["cause"], "server_fatal");
  EXPECT_EQ(server["initiator"], "server");
  auto cl = expect_drop({{"event", "client.close"}, {"sqlstate", "57P05"}});
  EXPECT_EQ(cl["client_impact"], "disconnected");
}

TEST_F(Drops, ServerIdleInTransactionTimeoutIs25P03) {
  start("");
  auto c = client();
  ASSERT_TRUE(pq_exec(c.get(), "BEGIN").ok);
  ASSERT_TRUE(pq_exec(c.get(), "SET LOCAL idle_in_transaction_session_timeout = '300ms'").ok);
  auto server = expect_drop({{"event", "server.close"}, {"sqlstate", "25P03"}});
  EXPECT_EQ(server["state"], "in_transaction");
  EXPECT_EQ(server["client_impact"], "disconnected");
  auto cl = expect_drop({{"event", "client.close"}, {"sqlstate", "25P03"}});
  EXPECT_EQ(cl["cause"], "server_fatal");
  EXPECT_EQ(cl["state"], "in_transaction");
}

TEST_F(Drops, StatementTimeoutIsAnErrorNotADrop) {
  start("");
  auto c = client();
  auto r = pq_exec(c.get(), "SET statement_timeout = '100ms'; SELECT pg_sleep(2)");
  EXPECT_EQ(r.sqlstate, "57014");
  EXPECT_EQ(pq_exec(c.get(), "SELECT 5").value, "5");  // the connection lives on
  EXPECT_EQ(
      metric_value(metrics_text(), "pgwarden_errors_total{sqlstate=\"57014\",source=\"server\"}"),
      1.0);
  for (auto& e : proxy().settled_events())  // (the harness's readiness probe has no user)
    EXPECT_FALSE(e["event"] == "client.close" && e.contains("user")) << e.dump();
}

TEST_F(Drops, ServerProcessKilledIsServerEof) {
  start("", "session");
  auto c = client();
  hold_session_state(c.get());
  std::string pid = backend_pid(c.get());
  ASSERT_EQ(::kill(std::stoi(pid), SIGKILL), 0);
  auto server = expect_drop({{"event", "server.close"}, {"backend_pid", std::stoi(pid)}});
  EXPECT_EQ(server["cause"], "server_eof");
  EXPECT_EQ(server["initiator"], "server");
  auto cl = expect_drop({{"event", "client.close"}, {"cause", "server_eof"}});
  EXPECT_EQ(cl["sqlstate"], "08006");  // pgwarden's message names the lost link
  EXPECT_NE(cl["message"].get<std::string>().find("lost (server_eof"), std::string::npos)
      << cl["message"];
  // The postmaster restarts after the crash; let it settle for the next test.
  for (int i = 0; i < 100 && pq_exec(client().get(), "SELECT 1").value != "1"; ++i)
    std::this_thread::sleep_for(100ms);
}

TEST_F(Drops, ACrashRestartIsServerCrashAndEachClientWithItsLinkIsOneDrop) {
  // SIGKILL of one backend (the OOM killer's signature): it closes without a
  // word, and the postmaster ends every other session with WARNING 57P02.
  start("[forensics]\nevaluate_every = \"300ms\"\n", "session");
  std::vector<Conn> clients;
  std::vector<std::string> pids;
  for (int i = 0; i < 6; ++i) {
    clients.push_back(client());
    hold_session_state(clients.back().get());  // so that each client drops with its link
    pids.push_back(backend_pid(clients.back().get()));
  }
  pg().psql("checkpoint");  // the test server commits asynchronously
  ASSERT_EQ(::kill(std::stoi(pids[0]), SIGKILL), 0);

  auto finding = proxy().wait_event({{"event", "forensics.finding"}, {"cause", "server_crash"}});
  ASSERT_TRUE(finding.is_object()) << proxy().stderr_text();
  const std::string message = finding["message"];
  // Six clients and their six links: six drops, not twelve.
  EXPECT_EQ(message.rfind("6 connections dropped", 0), 0u) << message;
  EXPECT_NE(message.find("1 closed without a word"), std::string::npos) << message;
  EXPECT_NE(message.find("OOM killer or a kill -9"), std::string::npos) << message;

  auto killed = expect_drop({{"event", "server.close"}, {"backend_pid", std::stoi(pids[0])}});
  EXPECT_EQ(killed["cause"], "server_eof");
  EXPECT_FALSE(killed.contains("sqlstate")) << killed.dump();
  auto warned = expect_drop({{"event", "server.close"}, {"backend_pid", std::stoi(pids[1])}});
  EXPECT_EQ(warned["cause"], "server_crash");
  EXPECT_EQ(warned["initiator"], "server");
  EXPECT_EQ(warned["sqlstate"], "57P02");
  EXPECT_NE(warned["message"].get<std::string>().find("crash of another server process"),
            std::string::npos)
      << warned.dump();
  auto cl = expect_drop({{"event", "client.close"}, {"cause", "server_crash"}});
  EXPECT_EQ(cl["sqlstate"], "08006");
  EXPECT_EQ(cl["client_impact"], "disconnected");
  int crash_closes = 0;
  for (auto& e : proxy().settled_events())
    crash_closes += e["event"] == "server.close" && e.value("cause", "") == "server_crash";
  EXPECT_EQ(crash_closes, 5);
  wait_server_ready();
}

// A logged-in raw client (trust auth), for ending the TCP connection by hand.
int raw_login(int port) {
  int fd = raw_connect(port);
  std::string s;
  wire::startup_message(s, {{"user", "app"}, {"database", "app"}});
  ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
  std::string got;
  char buf[4096];
  while (got.find('Z') == std::string::npos || got.size() < 6) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return fd;
}

TEST_F(Drops, AnIdlePooledLinkEndedByACrashRestartIsServerCrash) {
  // Two links idle in the pool; one backend is SIGKILLed. The other's last
  // words, WARNING 57P02, wait unread on its socket until it is next lent.
  start("");
  auto a = client();
  auto b = client();
  ASSERT_TRUE(pq_exec(a.get(), "BEGIN").ok);
  ASSERT_TRUE(pq_exec(b.get(), "BEGIN").ok);
  const std::string killed = backend_pid(a.get()), warned = backend_pid(b.get());
  ASSERT_TRUE(pq_exec(a.get(), "COMMIT").ok);
  ASSERT_TRUE(pq_exec(b.get(), "COMMIT").ok);
  pg().psql("checkpoint");  // the test server commits asynchronously
  ASSERT_EQ(::kill(std::stoi(killed), SIGKILL), 0);
  wait_server_ready();

  EXPECT_EQ(pq_exec(a.get(), "SELECT 7").value, "7");  // on a new link
  auto close = expect_drop({{"event", "server.close"}, {"backend_pid", std::stoi(warned)}});
  EXPECT_EQ(close["cause"], "server_crash");
  EXPECT_EQ(close["initiator"], "server");
  EXPECT_EQ(close["sqlstate"], "57P02");
}

TEST_F(Drops, ClientResetIsPeerReset) {
  start("auth_type = \"trust\"\n");
  int fd = raw_login(proxy().port());
  linger l{1, 0};
  ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
  ::close(fd);  // RST
  auto cl = expect_drop({{"event", "client.close"}, {"cause", "peer_reset"}});
  EXPECT_EQ(cl["initiator"], "client");
  EXPECT_EQ(cl["errno"], ECONNRESET);
  EXPECT_EQ(cl["client_impact"], "none");
}

TEST_F(Drops, ClientHalfCloseIsClientEof) {
  start("auth_type = \"trust\"\n");
  int fd = raw_login(proxy().port());
  ::shutdown(fd, SHUT_WR);
  // (The harness's own readiness probe is a client_eof while authenticating.)
  auto cl = expect_drop({{"event", "client.close"}, {"cause", "client_eof"}, {"user", "app"}});
  EXPECT_EQ(cl["initiator"], "client");
  EXPECT_EQ(cl["state"], "idle");
  ::close(fd);
}

TEST_F(Drops, ProxyTimeoutsAndLimitsNameThemselves) {
  struct Case {
    std::string toml, cause, sqlstate;
    std::function<void(Drops&)> provoke;
  };
  std::vector<Case> cases = {
      {"[timeouts]\nclient_idle_timeout = \"300ms\"\n", "client_idle_timeout", "57P05",
       [](Drops& t) {
         auto c = t.client();
         std::this_thread::sleep_for(1s);
       }},
      {"[timeouts]\nidle_transaction_timeout = \"300ms\"\n", "idle_transaction_timeout", "25P03",
       [](Drops& t) {
         auto c = t.client();
         pq_exec(c.get(), "BEGIN");
         std::this_thread::sleep_for(1s);
       }},
      {"[timeouts]\nquery_timeout = \"300ms\"\n", "query_timeout", "57014",
       [](Drops& t) { pq_exec(t.client().get(), "SELECT pg_sleep(3)"); }},
      {"[timeouts]\nclient_login_timeout = \"300ms\"\n", "client_login_timeout", "57014",
       [](Drops& t) {
         int fd = raw_connect(t.proxy().port());
         std::this_thread::sleep_for(1s);
         ::close(fd);
       }},
      {"max_client_conn = 1\n", "max_client_conn", "53300",
       [](Drops& t) {
         auto a = t.client();
         auto b = t.client();
       }},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(c.cause);
    start(c.toml);
    c.provoke(*this);
    auto ev = expect_drop({{"event", "client.close"}, {"cause", c.cause}});
    EXPECT_EQ(ev["initiator"], "proxy");
    EXPECT_EQ(ev["sqlstate"], c.sqlstate);
    EXPECT_EQ(ev["client_impact"], "disconnected");
    EXPECT_EQ(metric_value(metrics_text(), "pgwarden_errors_total{sqlstate=\"" + c.sqlstate +
                                               "\",source=\"proxy\"}"),
              1.0);
  }
  // The wait timeout is a refusal, not a drop: the client stays connected.
  start("default_pool_size = 1\n[timeouts]\nquery_wait_timeout = \"1s\"\n");
  auto holder = client();
  pq_exec(holder.get(), "BEGIN");
  auto waiter = client();
  EXPECT_EQ(pq_exec(waiter.get(), "SELECT 1").sqlstate, "53000");
  auto ev = proxy().wait_event({{"event", "pool.timeout"}});
  EXPECT_EQ(ev["cause"], "query_wait_timeout");
  EXPECT_EQ(ev["client_impact"], "error_returned");
  EXPECT_EQ(metric_value(metrics_text(), "pgwarden_pool_wait_timeouts_total{pool=\"app/app\"}"),
            1.0);
  // A wait longer than events.pool_wait_threshold (100 ms) is an event.
  ASSERT_EQ(PQsendQuery(waiter.get(), "SELECT 3"), 1);
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(pq_exec(holder.get(), "COMMIT").ok, true);
  PGresult* r = PQgetResult(waiter.get());
  EXPECT_STREQ(PQgetvalue(r, 0, 0), "3");
  PQclear(r);
  while ((r = PQgetResult(waiter.get()))) PQclear(r);
  auto wait = proxy().wait_event({{"event", "pool.wait"}});
  EXPECT_GE(wait["wait_ms"].get<int>(), 300) << wait.dump();
  EXPECT_EQ(wait["pool"], "app/app");
}

TEST_F(Drops, ServerIdleTimeoutAndLifetimeAreProxyPolicies) {
  start("[timeouts]\nserver_idle_timeout = \"1s\"\n");
  pq_exec(client().get(), "SELECT 1");
  auto idle = expect_drop({{"event", "server.close"}, {"cause", "idle_timeout"}});
  EXPECT_EQ(idle["initiator"], "proxy");
  start("[timeouts]\nserver_lifetime = \"1s\"\n");
  {
    auto c = client();
    pq_exec(c.get(), "SELECT 1");
    std::this_thread::sleep_for(1200ms);
    pq_exec(c.get(), "SELECT 1");
  }
  auto life = expect_drop({{"event", "server.close"}, {"cause", "lifetime"}});
  EXPECT_EQ(life["initiator"], "proxy");
}

// A server of its own: stopping and filling it must not disturb the others.
class OwnServer : public ::testing::Test {};

TEST_F(OwnServer, FastStopAndMaxConnectionsAreNamed) {
  PgCluster pg({.settings = {{"max_connections", "5"}, {"superuser_reserved_connections", "1"}}});
  pg.psql("CREATE ROLE app LOGIN PASSWORD 'app-pw'");
  pg.psql("CREATE DATABASE app OWNER app");
  // Fill the server directly first: the proxy's capacity probe then never
  // races the connections that fill it.
  std::string direct =
      "host=127.0.0.1 port=" + std::to_string(pg.port()) + " user=app password=app-pw dbname=app";
  std::vector<Conn> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(pq_connect(direct));
    ASSERT_EQ(PQstatus(held.back().get()), CONNECTION_OK) << PQerrorMessage(held.back().get());
  }
  int admin_port = free_port();
  ProxyProcess px(
      fmt::format("pool_mode = \"session\"\n[admin]\nlisten = \"127.0.0.1:{}\"\n"
                  "headroom_interval = \"300ms\"\n[databases.app]\nhost = "
                  "\"127.0.0.1\"\nport = {}\n[users.app]\npassword = \"app-pw\"\n",
                  admin_port, pg.port()));
  // 5 slots, 1 reserved for superusers, 4 taken: the server refuses the login.
  // The pool's first login is refused, so the client's own login fails.
  auto refused = pq_connect(px.conninfo("app", "app-pw", "app"));
  EXPECT_NE(PQstatus(refused.get()), CONNECTION_OK);
  EXPECT_NE(
      std::string(PQerrorMessage(refused.get())).find("remaining connection slots are reserved"),
      std::string::npos)
      << PQerrorMessage(refused.get()) << px.stderr_text();
  auto failed = px.wait_event({{"event", "server.connect_failed"}, {"sqlstate", "53300"}});
  EXPECT_EQ(failed["cause"], "server_login_failed");
  EXPECT_EQ(failed["initiator"], "server");
  // The capacity probe sees the same wall: no headroom.
  const std::string series =
      fmt::format("pgwarden_server_connection_headroom{{backend=\"127.0.0.1:{}\"}}", pg.port());
  std::optional<double> headroom;
  for (int i = 0; i < 50 && headroom != 0.0; ++i) {
    std::this_thread::sleep_for(100ms);
    headroom = metric_value(http_get(admin_port, "/metrics").body, series);
  }
  EXPECT_EQ(headroom, 0.0);
  held.clear();
  for (int i = 0; i < 50 && headroom != 4.0; ++i) {  // 4 free again (the probe counts itself out)
    std::this_thread::sleep_for(100ms);
    headroom = metric_value(http_get(admin_port, "/metrics").body, series);
  }
  EXPECT_EQ(headroom, 4.0);

  // A fast shutdown terminates every backend with 57P01.
  std::vector<Conn> clients;
  for (int i = 0; i < 2; ++i) {
    clients.push_back(pq_connect(px.conninfo("app", "app-pw", "app")));
    hold_session_state(clients.back().get());
  }
  pg.stop("fast");
  auto server = px.wait_event({{"event", "server.close"}, {"sqlstate", "57P01"}});
  EXPECT_EQ(server["cause"], "server_fatal");
  EXPECT_EQ(server["initiator"], "server");
  auto cl = px.wait_event({{"event", "client.close"}, {"sqlstate", "57P01"}});
  EXPECT_EQ(cl["client_impact"], "disconnected");
  json drops;
  for (int i = 0; i < 50; ++i) {
    drops = json::parse(http_get(admin_port, "/api/drops?cause=server_fatal").body);
    if (drops["count"].get<int>() >= 4) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(drops["count"], 4) << drops.dump();  // 2 servers + 2 clients
}

}  // namespace
}  // namespace pgw::test
