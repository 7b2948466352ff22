// Authentication hardening: empty passwords, trust for listed users only, no
// database/user enumeration before authentication, pools only after a login,
// client limits counted from accept, and deadlines on the proxy's own queries.
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "http_get.hpp"
#include "pgwarden/wire/auth.hpp"
#include "pgwarden/wire/codec.hpp"
#include "stack.hpp"

namespace pgw::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

// What a hand-driven login saw: unlike libpq it can send an empty password
// and it keeps the SCRAM salt the proxy offered.
struct RawLogin {
  bool ready = false;           // ReadyForQuery arrived: logged in
  bool asked_password = false;  // the proxy asked for a password (any method)
  std::optional<wire::ErrorFields> error;
  std::string scram_salt;  // base64, from server-first
  std::string scram_iterations;
};

// Reads one backend message from `fd` into `f` (its bytes kept in `buf`).
bool read_frame(int fd, std::string& buf, wire::Frame& f, double seconds = 10) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    auto st = wire::next_frame(buf, 1 << 20, f);
    if (st == wire::FrameStatus::ok) return true;
    if (st == wire::FrameStatus::bad_length) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char tmp[4096];
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
  }
}

std::string scram_attr(std::string_view msg, char key) {
  const std::string prefix = std::string(1, key) + "=";
  size_t pos = 0;
  while (pos <= msg.size()) {
    size_t comma = msg.find(',', pos);
    std::string_view part = msg.substr(pos, comma == msg.npos ? msg.npos : comma - pos);
    if (part.starts_with(prefix)) return std::string(part.substr(2));
    if (comma == msg.npos) break;
    pos = comma + 1;
  }
  return "";
}

RawLogin raw_login(int port, const std::string& user, const std::string& password,
                   const std::string& db) {
  RawLogin r;
  int fd = raw_connect(port);
  if (fd < 0) return r;
  std::string out;
  wire::startup_message(out, {{"user", user}, {"database", db}});
  ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
  std::string buf;
  std::unique_ptr<wire::ScramClient> scram;
  for (;;) {
    wire::Frame f;
    if (!read_frame(fd, buf, f)) break;
    const char type = f.type;
    std::string body(f.body);
    buf.erase(0, f.size);
    out.clear();
    if (type == 'E') {
      wire::ErrorFields e;
      wire::parse_error_fields(body, e);
      r.error = e;
      break;
    }
    if (type == 'Z') {
      r.ready = true;
      wire::terminate(out);
      ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
      break;
    }
    if (type != 'R') continue;
    uint32_t code = 0;
    std::string_view data;
    if (!wire::parse_auth_request(body, code, data)) break;
    if (code == 3) {
      r.asked_password = true;
      wire::password_message(out, password);
    } else if (code == 5) {
      r.asked_password = true;
      wire::password_message(out, wire::md5_response(user, password, data));
    } else if (code == 10) {
      r.asked_password = true;
      scram = std::make_unique<wire::ScramClient>(password);
      wire::sasl_initial_response(out, "SCRAM-SHA-256", scram->client_first());
    } else if (code == 11 && scram) {
      r.scram_salt = scram_attr(data, 's');
      r.scram_iterations = scram_attr(data, 'i');
      std::string final_msg, err;
      if (!scram->on_server_first(data, final_msg, err)) break;
      wire::sasl_response(out, final_msg);
    }
    if (!out.empty()) ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
  }
  ::close(fd);
  return r;
}

std::string refused_for(const std::string& user) {
  return fmt::format("password authentication failed for user \"{}\"", user);
}

class AuthHardening : public ProxyTest {
 protected:
  // [databases.forced] logs in to the server as app whatever the client's
  // user name: what a client gets in is decided by client authentication alone.
  std::string forced_db() const {
    return "[databases.forced]\nhost = \"127.0.0.1\"\nport = " + std::to_string(pg().port()) +
           "\ndbname = \"app\"\nuser = \"app\"\npassword = \"app-pw\"\n";
  }
};

// ---- 1. empty passwords

class EmptyPassword : public AuthHardening, public ::testing::WithParamInterface<std::string> {};

TEST_P(EmptyPassword, RefusedUnlessAllowed) {
  const std::string method = "auth_type = \"" + GetParam() + "\"\n";
  const std::string users = "[users.empty]\npassword = \"\"\n[users.nopw]\npool_size = 2\n";
  start_proxy(method + forced_db() + users);
  for (std::string user : {"empty", "nopw"}) {
    auto r = raw_login(proxy().port(), user, "", "forced");
    EXPECT_FALSE(r.ready) << user << " logged in with an empty password";
    EXPECT_TRUE(r.asked_password) << user;
    ASSERT_TRUE(r.error) << user;
    EXPECT_EQ(r.error->severity, "FATAL");
    EXPECT_EQ(r.error->sqlstate, "28P01");
    EXPECT_EQ(r.error->message, refused_for(user));
    auto ev = proxy().wait_event({{"event", "client.close"}, {"user", user}});
    ASSERT_TRUE(ev.is_object()) << user;
    EXPECT_EQ(ev["cause"], "empty_password") << ev.dump();
    EXPECT_EQ(ev["sqlstate"], "28P01");
  }
  // The configured password still works.
  auto ok = pq_connect(proxy().conninfo("app", "app-pw", "forced"));
  EXPECT_EQ(PQstatus(ok.get()), CONNECTION_OK) << PQerrorMessage(ok.get());

  start_proxy(method + "auth_allow_empty_password = true\n" + forced_db() + users);
  for (std::string user : {"empty", "nopw"}) {
    auto r = raw_login(proxy().port(), user, "", "forced");
    EXPECT_TRUE(r.ready) << user << ": " << (r.error ? r.error->message : "no answer");
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, EmptyPassword,
                         ::testing::Values("scram-sha-256", "md5", "cleartext"));

// ---- 3. trust only for listed users

TEST_F(AuthHardening, TrustLetsInListedUsersOnly) {
  start_proxy("auth_type = \"trust\"\n" + forced_db());
  auto listed = pq_connect(proxy().conninfo("app", "anything", "forced"));
  ASSERT_EQ(PQstatus(listed.get()), CONNECTION_OK) << PQerrorMessage(listed.get());

  auto r = raw_login(proxy().port(), "mallory", "", "forced");
  EXPECT_FALSE(r.ready) << "an unlisted user got in with trust";
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->sqlstate, "28P01");
  EXPECT_EQ(r.error->message, refused_for("mallory"));
  auto ev = proxy().wait_event({{"event", "client.close"}, {"user", "mallory"}});
  ASSERT_TRUE(ev.is_object());
  EXPECT_EQ(ev["cause"], "unknown_user") << ev.dump();

  // Opting in accepts any name.
  start_proxy("auth_type = \"trust\"\nauth_trust_any_user = true\n" + forced_db());
  auto any = pq_connect(proxy().conninfo("mallory", "any", "forced"));
  ASSERT_EQ(PQstatus(any.get()), CONNECTION_OK) << PQerrorMessage(any.get());
  EXPECT_EQ(pq_exec(any.get(), "select current_user").value, "app");
}

// ---- 4. no enumeration before authentication

class NoEnumeration : public AuthHardening, public ::testing::WithParamInterface<std::string> {};

TEST_P(NoEnumeration, UnknownDatabaseAndUserLookLikeAWrongPassword) {
  start_proxy("auth_type = \"" + GetParam() + "\"\n");
  struct Case {
    std::string user, password, db, cause;
  };
  for (const Case& c : {Case{"app", "wrong-pw", "app", "auth_failed"},
                        Case{"app", "app-pw", "nosuchdb", "unknown_database"},
                        Case{"ghost", "app-pw", "app", "unknown_user"},
                        Case{"ghost", "app-pw", "nosuchdb", "unknown_user"}}) {
    const std::string what = c.user + "@" + c.db;
    auto r = raw_login(proxy().port(), c.user, c.password, c.db);
    EXPECT_FALSE(r.ready) << what;
    EXPECT_TRUE(r.asked_password) << what << ": refused before the password exchange";
    ASSERT_TRUE(r.error) << what;
    EXPECT_EQ(r.error->severity, "FATAL") << what;
    EXPECT_EQ(r.error->sqlstate, "28P01") << what;
    EXPECT_EQ(r.error->message, refused_for(c.user)) << what;
    // The real reason is in the event stream only.
    auto ev = proxy().wait_event(
        {{"event", "client.close"}, {"user", c.user}, {"database", c.db}, {"cause", c.cause}});
    ASSERT_TRUE(ev.is_object()) << what;
    EXPECT_EQ(ev["sqlstate"], "28P01") << what;
    if (c.cause == "unknown_database") {
      EXPECT_NE(ev["message"].get<std::string>().find("\"nosuchdb\" is not configured"),
                std::string::npos)
          << ev.dump();
    }
  }
  if (GetParam() == "scram-sha-256") {
    // An unknown user is offered the same salt every time, like a real one:
    // comparing two attempts does not tell them apart.
    auto ghost1 = raw_login(proxy().port(), "ghost", "x", "app");
    auto ghost2 = raw_login(proxy().port(), "ghost", "y", "app");
    auto real1 = raw_login(proxy().port(), "app", "x", "app");
    auto real2 = raw_login(proxy().port(), "app", "y", "app");
    ASSERT_FALSE(ghost1.scram_salt.empty());
    EXPECT_EQ(ghost1.scram_salt, ghost2.scram_salt);
    EXPECT_EQ(real1.scram_salt, real2.scram_salt);
    EXPECT_NE(ghost1.scram_salt, real1.scram_salt);
    EXPECT_EQ(ghost1.scram_iterations, real1.scram_iterations);
    EXPECT_NE(raw_login(proxy().port(), "ghost2", "x", "app").scram_salt, ghost1.scram_salt);
  }
  // libpq sees the same text for all of them.
  auto c = pq_connect(proxy().conninfo("app", "app-pw", "nosuchdb"));
  EXPECT_NE(std::string(PQerrorMessage(c.get())).find(refused_for("app")), std::string::npos)
      << PQerrorMessage(c.get());
}

INSTANTIATE_TEST_SUITE_P(Methods, NoEnumeration,
                         ::testing::Values("scram-sha-256", "md5", "cleartext"));

// ---- 5. pools and metric series only after a login

TEST_F(AuthHardening, BogusLoginsCreateNoPoolsSeriesOrProbes) {
  const int admin_port = free_port();
  start_proxy(fmt::format(
      "[admin]\nlisten = \"127.0.0.1:{}\"\nadmin_users = [\"app\"]\nheadroom_interval = "
      "\"300ms\"\n",
      admin_port));
  auto legit = client();
  ASSERT_EQ(pq_exec(legit.get(), "select 1").value, "1");

  // Names that sort before "app": the capacity probe takes the first pool of
  // a backend, and must never take one that never logged in.
  std::mt19937_64 rng(std::random_device{}());
  for (int i = 0; i < 200; ++i) {
    std::string user = fmt::format("aaa-bogus-{:x}-{}", rng(), i);
    auto c = pq_connect(proxy().conninfo(user, "guess", "app"));
    ASSERT_EQ(PQstatus(c.get()), CONNECTION_BAD) << user;
  }

  auto console = pq_connect(proxy().conninfo("app", "app-pw", "pgbouncer"));
  ASSERT_EQ(PQstatus(console.get()), CONNECTION_OK) << PQerrorMessage(console.get());
  PGresult* pools = PQexec(console.get(), "SHOW POOLS");
  ASSERT_EQ(PQresultStatus(pools), PGRES_TUPLES_OK);
  EXPECT_EQ(PQntuples(pools), 1) << "SHOW POOLS lists pools of users who never logged in";
  PQclear(pools);

  std::this_thread::sleep_for(1s);  // a few probes
  auto scrape = http_get(admin_port, "/metrics");
  ASSERT_EQ(scrape.status, 200);
  EXPECT_EQ(scrape.body.find("bogus"), std::string::npos) << "a metric series names a bogus user";
  const std::string backend = "127.0.0.1:" + std::to_string(pg().port());
  EXPECT_EQ(metric_value(scrape.body, "pgwarden_server_probe_up{backend=\"" + backend + "\"}"),
            1.0);
  EXPECT_EQ(http_get(admin_port, "/api/pools").body.find("bogus"), std::string::npos);
}

// ---- 6. client limits from accept

TEST_F(AuthHardening, MaxClientConnCountsSocketsFromAccept) {
  start_proxy("max_client_conn = 3\n");
  std::vector<int> silent;
  for (int i = 0; i < 3; ++i) silent.push_back(raw_connect(proxy().port()));
  std::this_thread::sleep_for(200ms);
  auto r = raw_login(proxy().port(), "app", "app-pw", "app");
  EXPECT_FALSE(r.ready) << "three unauthenticated sockets did not count against max_client_conn";
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->sqlstate, "53300");
  EXPECT_NE(r.error->message.find("max_client_conn = 3"), std::string::npos) << r.error->message;
  auto c = client();
  EXPECT_EQ(PQstatus(c.get()), CONNECTION_BAD);
  EXPECT_NE(std::string(PQerrorMessage(c.get())).find("max_client_conn = 3"), std::string::npos)
      << PQerrorMessage(c.get());
  auto ev = proxy().wait_event({{"event", "client.close"}, {"cause", "max_client_conn"}});
  ASSERT_TRUE(ev.is_object());
  EXPECT_EQ(ev["sqlstate"], "53300");
  EXPECT_EQ(ev["state"], "authenticating");
  // Operators still reach the admin console of a full proxy.
  auto console = pq_connect(proxy().conninfo("app", "app-pw", "pgbouncer"));
  ASSERT_EQ(PQstatus(console.get()), CONNECTION_OK) << PQerrorMessage(console.get());
  EXPECT_TRUE(pq_exec(console.get(), "SHOW CLIENTS").ok);

  // Closing them frees the slots.
  for (int fd : silent) ::close(fd);
  Conn ok(nullptr, &PQfinish);
  for (int i = 0; i < 50; ++i) {
    ok = client();
    if (PQstatus(ok.get()) == CONNECTION_OK) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(PQstatus(ok.get()), CONNECTION_OK) << PQerrorMessage(ok.get());
}

TEST_F(AuthHardening, UnauthenticatedClientsAreCapped) {
  start_proxy("max_unauthenticated_clients = 2\n");
  std::vector<int> silent;
  for (int i = 0; i < 2; ++i) silent.push_back(raw_connect(proxy().port()));
  std::this_thread::sleep_for(200ms);
  auto r = raw_login(proxy().port(), "app", "app-pw", "app");
  EXPECT_FALSE(r.ready);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->sqlstate, "53300");
  EXPECT_NE(r.error->message.find("max_unauthenticated_clients = 2"), std::string::npos)
      << r.error->message;
  auto ev =
      proxy().wait_event({{"event", "client.close"}, {"cause", "max_unauthenticated_clients"}});
  ASSERT_TRUE(ev.is_object());
  EXPECT_EQ(ev["sqlstate"], "53300");
  for (int fd : silent) ::close(fd);
  std::this_thread::sleep_for(300ms);
  // Logged-in clients are not unauthenticated: three at once are fine.
  auto a = client(), b = client(), c = client();
  for (auto* conn : {a.get(), b.get(), c.get()})
    EXPECT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
}

TEST_F(AuthHardening, CancelStillWorksAtMaxClientConn) {
  start_proxy("max_client_conn = 1\n");
  auto c = client();
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK);
  ASSERT_EQ(PQsendQuery(c.get(), "select pg_sleep(20)"), 1);
  std::this_thread::sleep_for(300ms);
  PGcancel* cancel = PQgetCancel(c.get());
  char err[256];
  EXPECT_EQ(PQcancel(cancel, err, sizeof err), 1) << err;
  PQfreeCancel(cancel);
  const auto start = std::chrono::steady_clock::now();
  PGresult* res = PQgetResult(c.get());
  const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  EXPECT_STREQ(state ? state : "", "57014");
  PQclear(res);
  while ((res = PQgetResult(c.get()))) PQclear(res);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST_F(AuthHardening, ClientLoginTimeoutRunsFromAccept) {
  start_proxy("[timeouts]\nclient_login_timeout = \"1s\"\n");
  // A client that keeps sending, one byte of a long startup packet at a time.
  std::string pkt;
  wire::startup_message(pkt, {{"user", "app"}, {"database", "app"}, {"application_name", "slow"}});
  const auto start = std::chrono::steady_clock::now();
  int fd = raw_connect(proxy().port());
  std::string got;
  for (size_t i = 0; i + 1 < pkt.size() && std::chrono::steady_clock::now() - start < 6s; ++i) {
    ::send(fd, pkt.data() + i, 1, MSG_NOSIGNAL);
    got += read_all(fd, 0.2);
    if (!got.empty()) break;
  }
  const auto took = std::chrono::steady_clock::now() - start;
  ::close(fd);
  ASSERT_FALSE(got.empty()) << "still logging in after 6 s";
  EXPECT_LT(took, 2500ms);
  EXPECT_NE(got.find("client_login_timeout (1s)"), std::string::npos) << got;
}

// ---- 8. deadlines on the proxy's own queries

TEST_F(AuthHardening, HealthCheckHasADeadline) {
  start_proxy(
      "server_check_query = \"select pg_sleep(20)\"\n"
      "[timeouts]\nserver_check_delay = 0\n");
  auto c = client();  // the greeting's login opens the first server connection
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(pq_exec(c.get(), "select 'served'").value, "served");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 12s);
  auto ev = proxy().wait_event({{"event", "server.close"}, {"cause", "internal_query_timeout"}});
  ASSERT_TRUE(ev.is_object());
  EXPECT_EQ(ev["initiator"], "proxy");
  EXPECT_NE(ev["message"].get<std::string>().find("internal_query_timeout (5s)"), std::string::npos)
      << ev.dump();
}

TEST_F(AuthHardening, ResetQueryHasADeadline) {
  start_proxy(
      "server_reset_query = \"select pg_sleep(20)\"\n"
      "[timeouts]\ninternal_query_timeout = \"1s\"\n",
      "session");
  {
    auto c = client();
    ASSERT_EQ(pq_exec(c.get(), "select 1").value, "1");
  }
  auto ev = proxy().wait_event({{"event", "server.close"}, {"cause", "internal_query_timeout"}}, 5);
  ASSERT_TRUE(ev.is_object()) << "the reset query ran without a deadline";
  EXPECT_NE(ev["message"].get<std::string>().find("internal_query_timeout (1s)"), std::string::npos)
      << ev.dump();
}

}  // namespace
}  // namespace pgw::test
