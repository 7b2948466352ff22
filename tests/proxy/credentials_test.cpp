// Credentials without plaintext, against a real PostgreSQL 15 (scram-sha-256
// for TCP; md5 for the md5 roles): SCRAM pass-through with secrets copied
// from pg_authid into auth_file, md5 hashes towards an md5 server, auth_query
// through pg_shadow and through a SECURITY DEFINER function with its cache,
// and the causes named when a server cannot be logged in to.
#include <fmt/format.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "http_get.hpp"
#include "pgwarden/wire/auth.hpp"
#include "stack.hpp"

namespace pgw::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kScramPw = "Scram-Pw-7391";
constexpr const char* kMd5Pw = "Md5-Pw-2846";
constexpr const char* kLookupPw = "Lookup-Pw-5120";
constexpr const char* kFnPw = "Fn-Pw-6673";
constexpr const char* kQueriedPw = "Queried-Pw-4408";
constexpr const char* kPlainPw = "Plain-Pw-3315";
constexpr const char* kEnvPw = "Env-Pw-9182";
constexpr const char* kFilePw = "File-Pw-2207";
constexpr const char* kWrongPw = "Wrong-Pw-0000";

class Credentials : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    pg_ = std::make_unique<PgCluster>(
        PgClusterOptions{.settings = {{"max_connections", "60"}, {"log_connections", "on"}},
                         .hba_tcp_lines = "host all md5user 127.0.0.1/32 md5\n"
                                          "host all all 127.0.0.1/32 scram-sha-256"});
    pg_->psql(fmt::format("create role scrammy login password '{}'", kScramPw));
    pg_->psql(fmt::format(
        "set password_encryption = 'md5'; create role md5user login password '{}'", kMd5Pw));
    pg_->psql(fmt::format("create role lookup superuser login password '{}'", kLookupPw));
    pg_->psql(fmt::format("create role lookup_fn login password '{}'", kFnPw));
    pg_->psql(fmt::format("create role queried login password '{}'", kQueriedPw));
    pg_->psql(fmt::format("create role plainuser login password '{}'", kPlainPw));
    pg_->psql(fmt::format("create role envuser login password '{}'", kEnvPw));
    pg_->psql(fmt::format("create role fileuser login password '{}'", kFilePw));
    pg_->psql("create database app");
    // The SECURITY DEFINER way: a non-superuser may read one user's secret
    // through a function that also counts its calls.
    pg_->psql(
        "create table auth_calls(n int not null); insert into auth_calls values (0);"
        "create function user_secret(u name) returns table(usename name, passwd text) "
        "language plpgsql security definer set search_path = pg_catalog as $$ begin "
        "update public.auth_calls set n = n + 1; "
        "return query select s.usename, s.passwd from pg_shadow s where s.usename = u; end $$;"
        "revoke all on function user_secret(name) from public;"
        "grant execute on function user_secret(name) to lookup_fn;"
        // The same, slowly: clients arriving meanwhile share its answer.
        "create function slow_secret(u name) returns table(usename name, passwd text) "
        "language sql security definer set search_path = pg_catalog as $$ "
        "select pg_sleep(0.8); select * from public.user_secret(u) $$;"
        "revoke all on function slow_secret(name) from public;"
        "grant execute on function slow_secret(name) to lookup_fn;",
        "app");
  }
  static void TearDownTestSuite() { pg_.reset(); }

 protected:
  static PgCluster& pg() { return *pg_; }
  static std::string rolpassword(const std::string& role) {
    std::string s =
        pg().psql(fmt::format("select rolpassword from pg_authid where rolname = '{}'", role));
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  }
  static int auth_calls() { return std::stoi(pg().psql("select n from auth_calls", "app")); }
  // A directory with an auth_file of (user, secret) lines.
  std::filesystem::path auth_dir(const std::vector<std::pair<std::string, std::string>>& users) {
    char tmpl[] = "/tmp/pgwarden-creds-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dirs_.emplace_back(tmpl);
    std::ofstream f(dirs_.back() / "userlist.txt");
    for (auto& [u, s] : users) f << '"' << u << "\" \"" << s << "\"\n";
    return dirs_.back();
  }
  std::string database_section(int port = 0) const {
    return fmt::format("[databases.app]\nhost = \"127.0.0.1\"\nport = {}\n",
                       port ? port : pg().port());
  }
  // Looks users up as `auth_user` (its password `pw`); `extra`: more [proxy]
  // keys; an admin listener on `admin` when set; the database on `port`.
  std::string auth_query_config(const std::string& auth_user, const std::string& pw,
                                const std::string& extra = "", int admin = 0, int port = 0) const {
    return fmt::format(
        "auth_type = \"scram-sha-256\"\nauth_user = \"{}\"\n{}{}{}[users.{}]\npassword = \"{}\"\n",
        auth_user, extra, admin ? fmt::format("[admin]\nlisten = \"127.0.0.1:{}\"\n", admin) : "",
        database_section(port), auth_user, pw);
  }
  void TearDown() override {
    for (auto& d : dirs_) std::filesystem::remove_all(d);
  }

  // Logs in through the proxy and returns current_user, or the error.
  static PgResult who(const ProxyProcess& px, const std::string& user, const std::string& pw) {
    auto c = pq_connect(px.conninfo(user, pw, "app"));
    if (PQstatus(c.get()) != CONNECTION_OK) {
      PgResult r;
      r.message = PQerrorMessage(c.get());
      return r;
    }
    return pq_exec(c.get(), "select current_user");
  }

  static inline std::unique_ptr<PgCluster> pg_;
  std::vector<std::filesystem::path> dirs_;
};

int count_events(const std::vector<json>& evs, const json& match) {
  int n = 0;
  for (auto& ev : evs) {
    bool all = true;
    for (auto& [k, v] : match.items()) all = all && ev.contains(k) && ev[k] == v;
    n += all ? 1 : 0;
  }
  return n;
}

TEST_F(Credentials, ScramPassThroughWithSecretFromPgAuthid) {
  const std::string secret = rolpassword("scrammy");
  ASSERT_TRUE(secret.starts_with("SCRAM-SHA-256$")) << secret;
  auto dir = auth_dir({{"scrammy", secret}});
  ProxyProcess px(
      fmt::format("pool_mode = \"transaction\"\nauth_type = \"scram-sha-256\"\n"
                  "auth_file = \"{}\"\n{}",
                  (dir / "userlist.txt").string(), database_section()));
  EXPECT_EQ(who(px, "scrammy", kScramPw).value, "scrammy");
  auto wrong = who(px, "scrammy", kWrongPw);
  EXPECT_FALSE(wrong.ok);
  EXPECT_NE(wrong.message.find("password authentication failed for user \"scrammy\""),
            std::string::npos)
      << wrong.message;
  // Two clients in transactions at once: the second server link logs in
  // with the same keys.
  auto a = pq_connect(px.conninfo("scrammy", kScramPw, "app"));
  auto b = pq_connect(px.conninfo("scrammy", kScramPw, "app"));
  ASSERT_TRUE(pq_exec(a.get(), "begin").ok);
  ASSERT_TRUE(pq_exec(b.get(), "begin").ok);
  auto pid_a = pq_exec(a.get(), "select pg_backend_pid()");
  auto pid_b = pq_exec(b.get(), "select pg_backend_pid()");
  ASSERT_TRUE(pid_a.ok && pid_b.ok) << pid_a.message << pid_b.message;
  EXPECT_NE(pid_a.value, pid_b.value);
  EXPECT_EQ(pq_exec(b.get(), "select current_user").value, "scrammy");
  pq_exec(a.get(), "commit");
  pq_exec(b.get(), "commit");
  auto evs = px.settled_events(1.5);
  EXPECT_GE(count_events(evs, {{"event", "server.open"}, {"user", "scrammy"}}), 2);
  EXPECT_EQ(count_events(evs, {{"event", "server.connect_failed"}}), 0);
}

TEST_F(Credentials, CleartextClientAuthAgainstScramSecretAlsoLendsKeys) {
  auto dir = auth_dir({{"scrammy", rolpassword("scrammy")}});
  ProxyProcess px(fmt::format("auth_type = \"cleartext\"\nauth_file = \"{}\"\n{}",
                              (dir / "userlist.txt").string(), database_section()));
  EXPECT_EQ(who(px, "scrammy", kScramPw).value, "scrammy");
  EXPECT_FALSE(who(px, "scrammy", kWrongPw).ok);
}

TEST_F(Credentials, ScramSecretWithAnotherSaltIsNamed) {
  // The right password, but not the server's verifier: the client's proof
  // fits pgwarden's secret, and its keys cannot log in to the server.
  const std::string other =
      wire::ScramSecret::from_password(kScramPw, "0123456789abcdef", 4096).str();
  auto dir = auth_dir({{"scrammy", other}});
  ProxyProcess px(fmt::format("auth_type = \"scram-sha-256\"\nauth_file = \"{}\"\n{}",
                              (dir / "userlist.txt").string(), database_section()));
  auto c = pq_connect(px.conninfo("scrammy", kScramPw, "app"));
  EXPECT_NE(PQstatus(c.get()), CONNECTION_OK);
  const std::string msg = PQerrorMessage(c.get());
  EXPECT_NE(msg.find("pg_authid"), std::string::npos) << msg;
  auto ev = px.wait_event({{"event", "server.connect_failed"}});
  EXPECT_EQ(ev["cause"], "server_scram_secret_mismatch") << ev.dump();
  EXPECT_EQ(ev["sqlstate"], "28P01") << ev.dump();
  auto closed = px.wait_event({{"event", "client.close"}, {"user", "scrammy"}});
  EXPECT_EQ(closed["cause"], "server_scram_secret_mismatch") << closed.dump();
}

TEST_F(Credentials, WarmUpWaitsForKeysInsteadOfFailingLogins) {
  // trust towards clients: nobody proves the password, so no keys exist and
  // min_pool_size must not spin failing logins.
  auto dir = auth_dir({{"scrammy", rolpassword("scrammy")}});
  ProxyProcess px(fmt::format("auth_type = \"trust\"\nmin_pool_size = 2\nauth_file = \"{}\"\n{}",
                              (dir / "userlist.txt").string(), database_section()));
  auto c = pq_connect(px.conninfo("scrammy", "any", "app"));  // trust: not checked
  EXPECT_NE(PQstatus(c.get()), CONNECTION_OK);
  const std::string msg = PQerrorMessage(c.get());
  EXPECT_NE(msg.find("only a SCRAM secret"), std::string::npos) << msg;
  std::this_thread::sleep_for(1500ms);  // the janitor's warm-up runs every 200 ms
  auto evs = px.settled_events(1.5);
  EXPECT_EQ(count_events(evs, {{"event", "server.connect_failed"},
                               {"cause", "server_password_unavailable"}}),
            1);
  EXPECT_EQ(count_events(evs, {{"event", "server.connect_failed"}}), 1);
  EXPECT_EQ(count_events(evs, {{"event", "server.open"}}), 0);
}

TEST_F(Credentials, NoPasswordTowardsAServerThatAsksIsNamed) {
  // trust admits an unlisted user, for whom pgwarden knows no password.
  ProxyProcess px(
      fmt::format("auth_type = \"trust\"\nauth_trust_any_user = true\n{}", database_section()));
  auto c = pq_connect(px.conninfo("scrammy", "any", "app"));
  EXPECT_NE(PQstatus(c.get()), CONNECTION_OK);
  const std::string msg = PQerrorMessage(c.get());
  EXPECT_NE(msg.find("asks for SCRAM-SHA-256 authentication, and pgwarden holds no password for "
                     "user \"scrammy\""),
            std::string::npos)
      << msg;
  auto ev = px.wait_event({{"event", "server.connect_failed"}});
  EXPECT_EQ(ev["cause"], "server_password_unavailable") << ev.dump();
  EXPECT_EQ(ev["sqlstate"], "28P01") << ev.dump();
}

TEST_F(Credentials, Md5HashTowardsAnMd5Server) {
  const std::string hash = rolpassword("md5user");
  ASSERT_TRUE(hash.starts_with("md5")) << hash;
  auto dir = auth_dir({{"md5user", hash}});
  ProxyProcess px(fmt::format("auth_type = \"md5\"\nauth_file = \"{}\"\n{}",
                              (dir / "userlist.txt").string(), database_section()));
  EXPECT_EQ(who(px, "md5user", kMd5Pw).value, "md5user");
  EXPECT_FALSE(who(px, "md5user", kWrongPw).ok);
}

TEST_F(Credentials, Md5HashTowardsAScramServerIsNamed) {
  auto dir = auth_dir({{"scrammy", wire::md5_hash("scrammy", kScramPw)}});
  ProxyProcess px(fmt::format("auth_type = \"md5\"\nauth_file = \"{}\"\n{}",
                              (dir / "userlist.txt").string(), database_section()));
  auto c = pq_connect(px.conninfo("scrammy", kScramPw, "app"));
  EXPECT_NE(PQstatus(c.get()), CONNECTION_OK);
  const std::string msg = PQerrorMessage(c.get());
  EXPECT_NE(msg.find("asks for SCRAM-SHA-256 authentication, and pgwarden holds only an md5 hash"),
            std::string::npos)
      << msg;
  auto ev = px.wait_event({{"event", "server.connect_failed"}});
  EXPECT_EQ(ev["cause"], "server_password_unavailable") << ev.dump();
}

// /metrics sample or 0 when absent.
double sample(int admin, const std::string& series) {
  return metric_value(http_get(admin, "/metrics").body, series).value_or(0);
}

TEST_F(Credentials, AuthQueryThroughPgShadow) {
  const int admin = free_port();
  ProxyProcess px(auth_query_config("lookup", kLookupPw, "", admin));
  EXPECT_EQ(who(px, "queried", kQueriedPw).value, "queried");
  EXPECT_EQ(who(px, "queried", kQueriedPw).value, "queried");  // from the cache
  auto wrong = who(px, "queried", kWrongPw);
  auto unknown = who(px, "nobody", kWrongPw);
  EXPECT_FALSE(wrong.ok);
  EXPECT_FALSE(unknown.ok);
  // An unknown user reads exactly like a wrong password.
  EXPECT_NE(wrong.message.find("password authentication failed for user \"queried\""),
            std::string::npos)
      << wrong.message;
  EXPECT_NE(unknown.message.find("password authentication failed for user \"nobody\""),
            std::string::npos)
      << unknown.message;
  EXPECT_FALSE(who(px, "nobody", kWrongPw).ok);  // the negative answer is cached too
  EXPECT_EQ(sample(admin, "pgwarden_auth_query_total{result=\"found\"}"), 1);
  EXPECT_EQ(sample(admin, "pgwarden_auth_query_total{result=\"not_found\"}"), 1);
  EXPECT_EQ(sample(admin, "pgwarden_auth_query_cache_hits_total"), 3);
  auto ev = px.wait_event({{"event", "client.close"}, {"user", "nobody"}});
  EXPECT_EQ(ev["cause"], "unknown_user") << ev.dump();
  EXPECT_EQ(ev["sqlstate"], "28P01") << ev.dump();
}

TEST_F(Credentials, AuthQueryThroughSecurityDefinerFunctionCachedWithExpiry) {
  ProxyProcess px(
      auth_query_config("lookup_fn", kFnPw,
                        "auth_query = \"SELECT usename, passwd FROM public.user_secret($1)\"\n"
                        "auth_query_cache_ttl = \"1500ms\"\n"));
  const int before = auth_calls();
  EXPECT_EQ(who(px, "queried", kQueriedPw).value, "queried");
  EXPECT_EQ(auth_calls(), before + 1);
  EXPECT_EQ(who(px, "queried", kQueriedPw).value, "queried");
  EXPECT_FALSE(who(px, "queried", kWrongPw).ok);
  EXPECT_EQ(auth_calls(), before + 1) << "a cache hit asked the server again";
  std::this_thread::sleep_for(1700ms);
  EXPECT_EQ(who(px, "queried", kQueriedPw).value, "queried");
  EXPECT_EQ(auth_calls(), before + 2) << "the cached answer did not expire";
}

TEST_F(Credentials, AuthQueryOnceForClientsArrivingTogether) {
  const int admin = free_port();
  ProxyProcess px(auth_query_config(
      "lookup_fn", kFnPw, "auth_query = \"SELECT usename, passwd FROM public.slow_secret($1)\"\n",
      admin));
  const int before = auth_calls();
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i)
    clients.emplace_back([&] { ok += who(px, "queried", kQueriedPw).value == "queried" ? 1 : 0; });
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(auth_calls(), before + 1);
  EXPECT_EQ(sample(admin, "pgwarden_auth_query_total{result=\"found\"}"), 1);
  EXPECT_EQ(sample(admin, "pgwarden_auth_query_cache_hits_total"), 3);
}

// A client of an unlisted user whose lookup fails: FATAL `sqlstate`, cause
// auth_query_failed, a message containing `text`.
void expect_lookup_failure(const ProxyProcess& px, const std::string& sqlstate,
                           const std::string& text) {
  auto c = pq_connect(px.conninfo("queried", kQueriedPw, "app"));
  EXPECT_NE(PQstatus(c.get()), CONNECTION_OK);
  const std::string msg = PQerrorMessage(c.get());
  EXPECT_NE(msg.find("could not look up user \"queried\" with auth_query"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find(text), std::string::npos) << msg;
  auto ev = px.wait_event({{"event", "client.close"}, {"user", "queried"}});
  EXPECT_EQ(ev["cause"], "auth_query_failed") << ev.dump();
  EXPECT_EQ(ev["sqlstate"], sqlstate) << ev.dump();
}

TEST_F(Credentials, AuthQueryFailuresAreNamed) {
  {  // the server is down
    ProxyProcess px(auth_query_config("lookup", kLookupPw, "", 0, free_port()));
    expect_lookup_failure(px, "08006", "server_connect_failed");
  }
  {  // auth_user's own password is refused
    ProxyProcess px(auth_query_config("lookup", kWrongPw));
    expect_lookup_failure(px, "28000", "auth_user \"lookup\" could not log in");
  }
  {  // the query fails (no such function)
    ProxyProcess px(auth_query_config("lookup", kLookupPw,
                                      "auth_query = \"SELECT * FROM no_such_function($1)\"\n"));
    expect_lookup_failure(px, "08006", "the query failed");
  }
}

// Every form a secret takes: the password, the stored md5 hash (and its hex),
// the SCRAM verifier and its StoredKey and ServerKey, and the ClientKey a
// proof reveals (base64, as anything printing them would).
std::vector<std::string> secret_forms(const std::string& user, const std::string& password,
                                      const std::string& stored) {
  std::vector<std::string> out{password};
  if (stored.starts_with("md5")) {
    out.push_back(stored);
    out.push_back(stored.substr(3));
  } else if (auto v = wire::ScramSecret::parse(stored)) {
    out.push_back(stored);
    out.push_back(wire::base64_encode(v->stored_key));
    out.push_back(wire::base64_encode(v->server_key));
    if (auto keys = wire::scram_keys_for_password(*v, password))
      out.push_back(wire::base64_encode(keys->client_key));
  }
  const std::string md5 = wire::md5_hash(user, password);
  out.push_back(md5.substr(3));
  return out;
}

TEST_F(Credentials, NoSecretPrintedOnAnyCredentialPath) {
  const std::string scram_secret = rolpassword("scrammy"), md5_secret = rolpassword("md5user");
  auto dir = auth_dir({{"scrammy", scram_secret}, {"md5user", md5_secret}});
  std::ofstream(dir / "pw") << kFilePw << "\n";
  ::setenv("PGWARDEN_TEST_ENV_PW", kEnvPw, 1);
  std::string seen;
  // Logs in (or fails to); what the client was told is collected too.
  auto login = [&](const ProxyProcess& px, const std::string& user, const std::string& pw,
                   bool expect_ok) {
    auto c = pq_connect(px.conninfo(user, pw, "app"));
    seen += PQerrorMessage(c.get());
    if (PQstatus(c.get()) == CONNECTION_OK) {
      auto r = pq_exec(c.get(), "select current_user");
      seen += r.message;
      EXPECT_EQ(r.value, expect_ok ? user : "") << user << ": " << r.message;
    } else {
      EXPECT_FALSE(expect_ok) << user << ": " << PQerrorMessage(c.get());
    }
  };
  const std::string common = fmt::format("pool_mode = \"transaction\"\nauth_file = \"{}\"\n",
                                         (dir / "userlist.txt").string());
  {
    // SCRAM towards clients: plaintext in the config, password_env,
    // password_file, an auth_file SCRAM secret (pass-through), auth_query.
    const int admin = free_port();
    ProxyProcess px(
        fmt::format("{}auth_type = \"scram-sha-256\"\nauth_user = \"lookup\"\n"
                    "[admin]\nlisten = \"127.0.0.1:{}\"\nadmin_users = [\"plainuser\"]\n{}"
                    "[users.lookup]\npassword = \"{}\"\n[users.plainuser]\npassword = \"{}\"\n"
                    "[users.envuser]\npassword_env = \"PGWARDEN_TEST_ENV_PW\"\n"
                    "[users.fileuser]\npassword_file = \"{}\"\n",
                    common, admin, database_section(), kLookupPw, kPlainPw, (dir / "pw").string()),
        {"--log-level", "debug"});
    for (auto [user, pw] : {std::pair{"plainuser", kPlainPw}, std::pair{"envuser", kEnvPw},
                            std::pair{"fileuser", kFilePw}, std::pair{"scrammy", kScramPw},
                            std::pair{"queried", kQueriedPw}}) {
      login(px, user, pw, true);
      login(px, user, kWrongPw, false);
    }
    login(px, "nobody", kWrongPw, false);
    seen += operator_views(px, "plainuser", kPlainPw, admin);
    for (const auto& ev : px.settled_events(1.5)) seen += ev.dump() + "\n";
    seen += px.stderr_text();
  }
  {
    // md5 towards clients: an auth_file md5 hash towards an md5 server, and
    // an md5 hash towards a SCRAM server (refused with its cause).
    const int admin = free_port();
    ProxyProcess px(fmt::format("{}auth_type = \"md5\"\n[admin]\nlisten = \"127.0.0.1:{}\"\n"
                                "admin_users = [\"plainuser\"]\n{}"
                                "[users.plainuser]\npassword = \"{}\"\n",
                                common, admin, database_section(), kPlainPw),
                    {"--log-level", "debug"});
    login(px, "md5user", kMd5Pw, true);
    login(px, "md5user", kWrongPw, false);
    seen += operator_views(px, "plainuser", kPlainPw, admin);
    for (const auto& ev : px.settled_events(1.5)) seen += ev.dump() + "\n";
    seen += px.stderr_text();
  }
  ::unsetenv("PGWARDEN_TEST_ENV_PW");
  ASSERT_NE(seen.find("password authentication failed"), std::string::npos)
      << "the bad logins did not happen: " << seen.substr(0, 2000);
  ASSERT_NE(seen.find("auth_query"), std::string::npos) << "auth_query was not logged at debug";
  std::vector<std::string> secrets{kWrongPw, kLookupPw};
  for (auto [user, pw, stored] :
       {std::tuple{"scrammy", kScramPw, scram_secret}, std::tuple{"md5user", kMd5Pw, md5_secret},
        std::tuple{"queried", kQueriedPw, rolpassword("queried")},
        std::tuple{"plainuser", kPlainPw, rolpassword("plainuser")},
        std::tuple{"envuser", kEnvPw, rolpassword("envuser")},
        std::tuple{"fileuser", kFilePw, rolpassword("fileuser")}})
    for (auto& form : secret_forms(user, pw, stored)) secrets.push_back(form);
  for (const auto& secret : secrets)
    EXPECT_EQ(seen.find(secret), std::string::npos) << secret << " was printed";
}

}  // namespace
}  // namespace pgw::test
