// The PgBouncer-compatible admin console, checked against a real PgBouncer's
// column names and against what really happens to clients and servers.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <signal.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "pgbouncer_process.hpp"
#include "stack.hpp"

namespace pgw::test {
namespace {

using namespace std::chrono_literals;

struct Table {
  std::vector<std::string> columns;
  std::vector<std::map<std::string, std::string>> rows;
};

Table show(PGconn* c, const std::string& sql) {
  Table t;
  PGresult* r = PQexec(c, sql.c_str());
  EXPECT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << sql << ": " << PQresultErrorMessage(r);
  for (int i = 0; i < PQnfields(r); ++i) t.columns.push_back(PQfname(r, i));
  for (int row = 0; row < PQntuples(r); ++row) {
    std::map<std::string, std::string> m;
    for (int i = 0; i < PQnfields(r); ++i) m[t.columns[i]] = PQgetvalue(r, row, i);
    t.rows.push_back(std::move(m));
  }
  PQclear(r);
  return t;
}

std::map<std::string, std::string> row_for(const Table& t, const std::string& key,
                                           const std::string& value) {
  for (auto& r : t.rows)
    if (r.at(key) == value) return r;
  ADD_FAILURE() << "no row with " << key << " = " << value;
  return {};
}

class Console : public ProxyTest {
 protected:
  Conn console(const std::string& user = "app", const std::string& password = "app-pw") {
    return pq_connect(proxy().conninfo(user, password, "pgbouncer"));
  }
};

TEST_F(Console, ShowAnswersWithPgBouncersColumnsAndTheRealState) {
  start_proxy("[admin]\nadmin_users = [\"app\"]\n");
  auto busy = client();
  ASSERT_TRUE(pq_exec(busy.get(), "BEGIN").ok);
  std::string backend_pid = pq_exec(busy.get(), "SELECT pg_backend_pid()").value;
  auto idle = client("application_name=idle-one");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pq_exec(idle.get(), "SELECT 1").ok);

  auto admin = console();
  ASSERT_EQ(PQstatus(admin.get()), CONNECTION_OK) << PQerrorMessage(admin.get());
  std::map<std::string, Table> ours;
  for (std::string what : {"POOLS", "CLIENTS", "SERVERS", "STATS", "DATABASES"})
    ours[what] = show(admin.get(), "SHOW " + what);

  auto pools = row_for(ours["POOLS"], "database", "app");
  EXPECT_EQ(pools["user"], "app");
  EXPECT_EQ(pools["cl_active"], "2");
  EXPECT_EQ(pools["cl_waiting"], "0");
  EXPECT_EQ(pools["sv_active"], "1");  // held by the open transaction
  EXPECT_EQ(pools["sv_idle"], "1");    // used by the idle client, returned
  EXPECT_EQ(pools["pool_mode"], "transaction");

  auto server = row_for(ours["SERVERS"], "remote_pid", backend_pid);
  EXPECT_EQ(server["type"], "S");
  EXPECT_EQ(server["state"], "active");
  auto busy_client = row_for(ours["CLIENTS"], "link", server["ptr"]);
  EXPECT_EQ(busy_client["user"], "app");
  EXPECT_EQ(busy_client["state"], "active");
  auto idle_client = row_for(ours["CLIENTS"], "application_name", "idle-one");
  EXPECT_EQ(idle_client["link"], "");
  EXPECT_EQ(idle_client["addr"], "127.0.0.1");

  auto stats = row_for(ours["STATS"], "database", "app");
  // 5 SELECTs + BEGIN + SELECT pg_backend_pid(), 5 finished transactions.
  EXPECT_EQ(stats["total_query_count"], "7");
  EXPECT_EQ(stats["total_xact_count"], "5");
  EXPECT_GT(std::stoll(stats["total_received"]), 0);
  EXPECT_GT(std::stoll(stats["total_sent"]), 0);
  EXPECT_EQ(row_for(ours["DATABASES"], "name", "app")["paused"], "0");

  auto version = pq_exec(admin.get(), "SHOW VERSION");
  EXPECT_EQ(version.value.rfind("pgwarden ", 0), 0u) << version.value;
  auto bad = pq_exec(admin.get(), "SHOW MEM");
  EXPECT_EQ(bad.sqlstate, "42601");
  EXPECT_NE(bad.message.find("SHOW MEM is not supported"), std::string::npos) << bad.message;

  if (!PgBouncerProcess::available()) GTEST_FAIL() << "pgbouncer is not installed";
  PgBouncerProcess bouncer(
      "app = host=127.0.0.1 port=" + std::to_string(pg().port()) + " dbname=app",
      "auth_type = trust\nadmin_users = admin\n", "\"admin\" \"\"");
  auto real = pq_connect("host=127.0.0.1 port=" + std::to_string(bouncer.port()) +
                         " user=admin dbname=pgbouncer");
  ASSERT_EQ(PQstatus(real.get()), CONNECTION_OK) << PQerrorMessage(real.get());
  for (auto& [what, table] : ours)
    EXPECT_EQ(table.columns, show(real.get(), "SHOW " + what).columns) << "SHOW " << what;
}

TEST_F(Console, PauseWaitsForTransactionsResumeServesKillDrops) {
  start_proxy("[admin]\nadmin_users = [\"app\"]\n");
  auto a = client();
  ASSERT_TRUE(pq_exec(a.get(), "BEGIN").ok);
  auto admin = console();
  ASSERT_EQ(PQstatus(admin.get()), CONNECTION_OK) << PQerrorMessage(admin.get());

  // PAUSE returns only once the open transaction has given its server back.
  ASSERT_EQ(PQsendQuery(admin.get(), "PAUSE app"), 1);
  std::this_thread::sleep_for(400ms);
  PQconsumeInput(admin.get());
  EXPECT_EQ(PQisBusy(admin.get()), 1) << "PAUSE returned while a transaction was open";
  ASSERT_TRUE(pq_exec(a.get(), "COMMIT").ok);
  PGresult* r = PQgetResult(admin.get());
  EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQresultErrorMessage(r);
  EXPECT_STREQ(PQcmdStatus(r), "PAUSE");
  PQclear(r);
  while ((r = PQgetResult(admin.get()))) PQclear(r);
  proxy().wait_event({{"event", "server.close"}, {"cause", "admin_pause"}});

  // While paused a query waits; RESUME lets it through.
  ASSERT_EQ(PQsendQuery(a.get(), "SELECT 42"), 1);
  std::this_thread::sleep_for(300ms);
  PQconsumeInput(a.get());
  EXPECT_EQ(PQisBusy(a.get()), 1) << "a query ran while the pool was paused";
  EXPECT_EQ(row_for(show(admin.get(), "SHOW DATABASES"), "name", "app")["paused"], "1");
  EXPECT_TRUE(pq_exec(admin.get(), "RESUME app").ok);
  r = PQgetResult(a.get());
  EXPECT_STREQ(PQgetvalue(r, 0, 0), "42");
  PQclear(r);
  while ((r = PQgetResult(a.get()))) PQclear(r);

  // KILL drops the database's clients with a named cause.
  auto k = pq_exec(admin.get(), "KILL app");
  EXPECT_TRUE(k.ok) << k.message;
  auto ev = proxy().wait_event({{"event", "client.close"}, {"cause", "admin_kill"}});
  EXPECT_EQ(ev["initiator"], "proxy");
  EXPECT_EQ(ev["sqlstate"], "57P01");
  EXPECT_EQ(ev["client_impact"], "disconnected");
  auto after = pq_exec(a.get(), "SELECT 1");
  EXPECT_FALSE(after.ok);
  EXPECT_NE(std::string(PQerrorMessage(a.get())).find("KILL app"), std::string::npos)
      << PQerrorMessage(a.get());
  EXPECT_TRUE(pq_exec(admin.get(), "RESUME app").ok);
  auto b = client();
  EXPECT_EQ(pq_exec(b.get(), "SELECT 7").value, "7");
  // Out of a global PAUSE one database cannot be resumed alone.
  ASSERT_TRUE(pq_exec(admin.get(), "PAUSE").ok);
  auto partial = pq_exec(admin.get(), "RESUME app");
  EXPECT_EQ(partial.sqlstate, "55000");
  EXPECT_NE(partial.message.find("all databases are paused"), std::string::npos) << partial.message;
  EXPECT_TRUE(pq_exec(admin.get(), "RESUME").ok);
  EXPECT_EQ(pq_exec(b.get(), "SELECT 8").value, "8");
  auto none = pq_exec(admin.get(), "PAUSE nosuchdb");
  EXPECT_EQ(none.sqlstate, "3D000");
  EXPECT_NE(none.message.find("no such database: nosuchdb"), std::string::npos) << none.message;
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST_F(Console, ReloadAppliesPoolSizesAndRejectsABrokenFile) {
  start_proxy(
      "default_pool_size = 1\n[timeouts]\nquery_wait_timeout = \"1s\"\n[admin]\n"
      "admin_users = [\"app\"]\n");
  auto a = client();
  ASSERT_TRUE(pq_exec(a.get(), "BEGIN").ok);
  auto b = client();
  EXPECT_EQ(pq_exec(b.get(), "SELECT 1").sqlstate, "53000");  // the only server is taken

  auto admin = console();
  const std::string original = read_text(proxy().config_path());
  write_text(proxy().config_path(),
             replaced(original, "default_pool_size = 1", "default_pool_size = = 2"));
  auto broken = pq_exec(admin.get(), "RELOAD");
  EXPECT_EQ(broken.sqlstate, "F0000");
  EXPECT_NE(
      broken.message.find("configuration unchanged: " + proxy().config_path().string() + ":4:21: "),
      std::string::npos)
      << broken.message;
  EXPECT_EQ(pq_exec(b.get(), "SELECT 1").sqlstate, "53000");

  write_text(proxy().config_path(),
             replaced(original, "default_pool_size = 1", "default_pool_size = 2"));
  EXPECT_TRUE(pq_exec(admin.get(), "RELOAD").ok);
  EXPECT_EQ(pq_exec(b.get(), "SELECT 2").value, "2");  // a second server now fits
  proxy().wait_event({{"event", "proxy.reload"}});

  // SIGHUP is the same reload (and, with the signal blocked in every thread,
  // never the default action that would end the process).
  write_text(proxy().config_path(),
             replaced(original, "default_pool_size = 1", "default_pool_size = 3"));
  ASSERT_EQ(::kill(proxy().pid(), SIGHUP), 0);
  int reloads = 0;
  for (int i = 0; i < 100 && reloads < 2; ++i) {
    if (i) std::this_thread::sleep_for(100ms);
    reloads = 0;
    for (auto& e : proxy().events()) reloads += e["event"] == "proxy.reload";
  }
  ASSERT_EQ(reloads, 2) << "SIGHUP did not reload: " << proxy().stderr_text();
  auto c = client();
  ASSERT_TRUE(pq_exec(b.get(), "BEGIN").ok);
  EXPECT_EQ(pq_exec(c.get(), "SELECT 3").value, "3");  // a third server fits now
}

TEST_F(Console, UsersOutsideTheListsAreRefused) {
  start_proxy("[admin]\nstats_users = [\"app\"]\n[users.other]\npassword = \"other-pw\"\n");
  auto viewer = console();
  ASSERT_EQ(PQstatus(viewer.get()), CONNECTION_OK) << PQerrorMessage(viewer.get());
  auto denied = pq_exec(viewer.get(), "PAUSE");
  EXPECT_EQ(denied.sqlstate, "42501");
  EXPECT_NE(denied.message.find("may only run SHOW"), std::string::npos) << denied.message;
  auto other = console("other", "other-pw");
  EXPECT_NE(PQstatus(other.get()), CONNECTION_OK);
  EXPECT_NE(std::string(PQerrorMessage(other.get())).find("may not use the admin console"),
            std::string::npos)
      << PQerrorMessage(other.get());
  auto ev = proxy().wait_event({{"event", "client.close"}, {"cause", "console_denied"}});
  EXPECT_EQ(ev["sqlstate"], "28000");
  EXPECT_EQ(ev["user"], "other");
}

}  // namespace
}  // namespace pgw::test
