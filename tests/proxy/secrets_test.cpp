// No secret is ever printed: passwords given in the config file, in an
// environment variable, in a file and in --backend go through good and bad
// logins, a server that refuses pgwarden's password, the console, the admin
// API and /metrics; then the event file, the debug log and every answer are
// searched for them.
#include <fmt/format.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "http_get.hpp"
#include "stack.hpp"

using namespace pgw::test;

namespace {

constexpr const char* kInFile = "Zebra-InFile-7781";
constexpr const char* kInEnv = "Zebra-InEnv-5527";
constexpr const char* kInConfig = "Zebra-InConfig-9034";
constexpr const char* kWrongForServer = "Zebra-WrongForServer-1166";
constexpr const char* kTriedByClient = "Zebra-TriedByClient-3390";

class Secrets : public ProxyTest {
 protected:
  // A temporary directory holding `pw` with kInFile in it.
  static std::filesystem::path proxy_dir_for_secrets() {
    char tmpl[] = "/tmp/pgwarden-secrets-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    std::filesystem::path dir = tmpl;
    std::ofstream(dir / "pw") << kInFile << "\n";
    return dir;
  }
};

TEST_F(Secrets, NoPasswordAppearsInEventsLogsConsoleApiOrMetrics) {
  pg().psql(fmt::format("create role vault login password '{}'", kInEnv));
  pg().psql(fmt::format("create role filed login password '{}'", kInFile));
  pg().psql("grant connect on database app to vault, filed");
  const auto dir = proxy_dir_for_secrets();
  ::setenv("PGWARDEN_TEST_VAULT_PW", kInEnv, 1);
  const int admin = free_port();
  std::string out;
  {
    ProxyProcess px(
        fmt::format("pool_mode = \"transaction\"\nauth_type = \"scram-sha-256\"\n"
                    "[admin]\nlisten = \"127.0.0.1:{admin}\"\nadmin_users = [\"vault\"]\n"
                    "[databases.app]\nhost = \"127.0.0.1\"\nport = {port}\n"
                    "[databases.broken]\nhost = \"127.0.0.1\"\nport = {port}\ndbname = \"app\"\n"
                    "user = \"vault\"\npassword = \"{wrong}\"\n"
                    "[users.vault]\npassword_env = \"PGWARDEN_TEST_VAULT_PW\"\n"
                    "[users.filed]\npassword_file = \"{file}\"\n"
                    "[users.plain]\npassword = \"{plain}\"\n",
                    fmt::arg("admin", admin), fmt::arg("port", pg().port()),
                    fmt::arg("wrong", kWrongForServer), fmt::arg("file", (dir / "pw").string()),
                    fmt::arg("plain", kInConfig)),
        {"--log-level", "debug"});
    // Good logins through each way of giving the password.
    for (auto [user, pw] : {std::pair{"vault", kInEnv}, std::pair{"filed", kInFile}}) {
      auto c = pq_connect(px.conninfo(user, pw, "app"));
      auto r = pq_exec(c.get(), "select current_user");
      EXPECT_EQ(r.value, user) << r.message;
      out += r.message;
    }
    // A client with a wrong password; a user the server does not know; a
    // server that refuses pgwarden's password.
    for (auto [user, pw, db] :
         {std::tuple{"vault", kTriedByClient, "app"}, std::tuple{"plain", kInConfig, "app"},
          std::tuple{"vault", kInEnv, "broken"}}) {
      auto c = pq_connect(px.conninfo(user, pw, db));
      out += PQerrorMessage(c.get());
      if (PQstatus(c.get()) == CONNECTION_OK) out += pq_exec(c.get(), "select 1").message;
    }
    out += operator_views(px, "vault", kInEnv, admin);
    for (const auto& ev : px.settled_events(1.5)) out += ev.dump() + "\n";
    out += px.stderr_text();
  }
  {
    // The password in a --backend URL, with a client that gets it wrong.
    ProxyProcess px(
        "auth_type = \"scram-sha-256\"\n",
        {"--backend", fmt::format("postgres://vault:{}@127.0.0.1:{}/app", kInEnv, pg().port()),
         "--log-level", "debug"});
    auto good = pq_connect(px.conninfo("vault", kInEnv, "app"));
    EXPECT_EQ(pq_exec(good.get(), "select 1").value, "1");
    auto bad = pq_connect(px.conninfo("vault", kTriedByClient, "app"));
    out += PQerrorMessage(bad.get());
    for (const auto& ev : px.settled_events(1.5)) out += ev.dump() + "\n";
    out += px.stderr_text();
  }
  ::unsetenv("PGWARDEN_TEST_VAULT_PW");
  std::filesystem::remove_all(dir);
  ASSERT_NE(out.find("password authentication failed"), std::string::npos)
      << "the bad logins did not happen: " << out.substr(0, 2000);
  for (const char* secret : {kInFile, kInEnv, kInConfig, kWrongForServer, kTriedByClient})
    EXPECT_EQ(out.find(secret), std::string::npos) << secret << " was printed";
}

}  // namespace
