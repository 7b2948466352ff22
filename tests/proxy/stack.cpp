#include "stack.hpp"

#include <chrono>
#include <exception>
#include <thread>

#include "http_get.hpp"

namespace pgw::test {

Conn pq_connect(const std::string& conninfo) {
  return Conn(PQconnectdb(conninfo.c_str()), &PQfinish);
}

PgResult pq_exec(PGconn* c, const std::string& sql) {
  PgResult r;
  PGresult* res = PQexec(c, sql.c_str());
  auto st = PQresultStatus(res);
  r.ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  if (const char* s = PQresultErrorField(res, PG_DIAG_SQLSTATE)) r.sqlstate = s;
  // libpq keeps a FATAL that preceded a closed connection in the connection's
  // message, not in the last result's: report both.
  if (!r.ok) r.message = std::string(res ? PQresultErrorMessage(res) : "") + PQerrorMessage(c);
  if (st == PGRES_TUPLES_OK) {
    r.rows = PQntuples(res);
    if (r.rows > 0 && PQnfields(res) > 0) r.value = PQgetvalue(res, 0, 0);
  }
  PQclear(res);
  return r;
}

std::string operator_views(const ProxyProcess& px, const std::string& admin_user,
                           const std::string& admin_pw, int admin_port) {
  std::string out;
  auto console = pq_connect(px.conninfo(admin_user, admin_pw, "pgbouncer"));
  EXPECT_EQ(PQstatus(console.get()), CONNECTION_OK) << PQerrorMessage(console.get());
  for (const char* show : {"SHOW CLIENTS", "SHOW SERVERS", "SHOW POOLS", "SHOW DATABASES",
                           "SHOW USERS", "SHOW STATS", "SHOW VERSION"}) {
    PGresult* r = PQexec(console.get(), show);
    for (int i = 0; i < PQntuples(r); ++i)
      for (int j = 0; j < PQnfields(r); ++j) out += std::string(PQgetvalue(r, i, j)) + "\n";
    out += PQresultErrorMessage(r);
    PQclear(r);
  }
  for (const char* target : {"/metrics", "/api/pools", "/api/clients", "/api/servers",
                             "/api/events", "/api/drops", "/api/diagnosis", "/api/alerts"})
    out += http_get(admin_port, target).body;
  return out;
}

void ProxyTest::SetUpTestSuite() {
  if (pg_) return;
  pg_ = std::make_unique<PgCluster>(
      PgClusterOptions{.settings = {{"max_connections", "60"}, {"log_connections", "on"}}});
  pg_->psql("create role app login password 'app-pw'");
  pg_->psql("create database app owner app");
  pg_->psql("create table items(id int primary key, note text)", "app");
  pg_->psql("alter table items owner to app", "app");
}

void ProxyTest::TearDownTestSuite() {
  pg_.reset();
}

void ProxyTest::start_proxy(const std::string& extra_toml, const std::string& mode) {
  std::string cfg = "pool_mode = \"" + mode + "\"\n" + extra_toml;
  // extra_toml may open other sections; databases/users come last.
  cfg += "\n[databases.app]\nhost = \"127.0.0.1\"\nport = " + std::to_string(pg_->port()) +
         "\n[users.app]\npassword = \"app-pw\"\n";
  proxy_ = std::make_unique<ProxyProcess>(cfg);
}

void ProxyTest::wait_server_ready() {
  for (int i = 0; i < 200; ++i) {
    try {
      if (pg_->psql("select 1") == "1") return;
    } catch (const std::exception&) {
      // "the database system is in recovery mode": not yet
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Conn ProxyTest::client(const std::string& extra) {
  return pq_connect(proxy_->conninfo("app", "app-pw", "app") + " " + extra);
}

}  // namespace pgw::test
