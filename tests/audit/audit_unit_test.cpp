// Unit tests of src/audit's pure parts: env files, URLs, rules on plain values,
// report formats and exit codes. No server, no binary.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "pgwarden/audit/inputs.hpp"
#include "pgwarden/audit/report.hpp"
#include "pgwarden/audit/rules.hpp"

using namespace pgw::audit;

namespace {

std::string env_error(const std::string& text) {
  try {
    AppSpec spec;
    spec.file = "app.env";
    build_app(parse_env(text, "app.env"), spec);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

const Finding* find(const std::vector<Finding>& fs, const std::string& rule) {
  for (auto& f : fs)
    if (f.rule == rule) return &f;
  return nullptr;
}

// A PostgreSQL 15 with its defaults, as pg_settings reports them over TCP on Linux.
ServerSnapshot default_server() {
  ServerSnapshot s;
  s.version_num = 150020;
  auto set = [&](const char* n, const char* v, const char* u = "") { s.settings[n] = {v, u}; };
  set("server_version", "15.20");
  set("max_connections", "100");
  set("superuser_reserved_connections", "3");
  set("shared_buffers", "16384", "8kB");  // 128MB
  set("work_mem", "4096", "kB");
  set("maintenance_work_mem", "65536", "kB");
  set("autovacuum_work_mem", "-1", "kB");
  set("autovacuum_max_workers", "3");
  set("max_worker_processes", "8");
  set("effective_cache_size", "524288", "8kB");  // 4GB
  set("statement_timeout", "0", "ms");
  set("idle_in_transaction_session_timeout", "0", "ms");
  set("idle_session_timeout", "0", "ms");
  set("tcp_keepalives_idle", "7200", "s");
  set("tcp_keepalives_interval", "75", "s");
  set("tcp_keepalives_count", "9");
  set("tcp_user_timeout", "0", "ms");
  set("client_connection_check_interval", "0", "ms");
  set("authentication_timeout", "60", "s");
  set("log_connections", "off");
  set("log_disconnections", "off");
  set("log_line_prefix", "%m [%p] ");
  set("wal_level", "replica");
  set("max_wal_senders", "10");
  set("max_replication_slots", "10");
  set("wal_sender_timeout", "60000", "ms");
  set("max_slot_wal_keep_size", "-1", "MB");
  return s;
}

// The same server configured the way docs/audit.md recommends.
ServerSnapshot good_server() {
  ServerSnapshot s = default_server();
  auto set = [&](const char* n, const char* v, const char* u = "") { s.settings[n] = {v, u}; };
  set("idle_in_transaction_session_timeout", "60000", "ms");
  set("statement_timeout", "30000", "ms");
  set("tcp_keepalives_idle", "60", "s");
  set("tcp_keepalives_interval", "10", "s");
  set("tcp_keepalives_count", "6");
  set("tcp_user_timeout", "120000", "ms");
  set("client_connection_check_interval", "10000", "ms");
  set("log_connections", "on");
  set("log_disconnections", "on");
  set("log_line_prefix", "%m [%p] %e %q%u@%d/%a ");
  set("wal_level", "logical");
  set("shared_buffers", "65536", "8kB");         // 512MB
  set("effective_cache_size", "196608", "8kB");  // 1.5GB
  return s;
}

AppConfig app_from(const std::string& text, const std::string& name = "app.env",
                   int instances = 1) {
  AppSpec spec;
  spec.file = name;
  spec.instances = instances;
  return build_app(parse_env(text, name), spec);
}

std::vector<Finding> eval_server(const ServerSnapshot& s, AuditOptions o = {},
                                 std::vector<AppConfig> apps = {}) {
  Inputs in;
  in.server = &s;
  in.options = o;
  in.apps = std::move(apps);
  return evaluate(in);
}

}  // namespace

// ---- env files -------------------------------------------------------------------

TEST(EnvFile, ParsesDotenvSyntax) {
  auto env = parse_env(
      "# comment\n"
      "export DATABASE_URL=\"postgres://u:p%40ss@db.example.com:5433/app?sslmode=verify-full\"\n"
      "  PLAIN = some value # trailing comment\n"
      "SINGLE='a # not a comment'\n"
      "\n"
      "# pgwarden: driver=pg max=25 keepAlive=true\n",
      "x.env");
  ASSERT_EQ(env.entries.size(), 3u);
  EXPECT_EQ(env.entries[0].key, "DATABASE_URL");
  EXPECT_EQ(env.entries[0].line, 2);
  EXPECT_EQ(env.entries[0].value_column, 22);
  EXPECT_EQ(env.entries[1].value, "some value");
  EXPECT_EQ(env.entries[2].value, "a # not a comment");
  ASSERT_EQ(env.directives.size(), 3u);
  EXPECT_EQ(env.directives[1].key, "max");
  EXPECT_EQ(env.directives[1].value, "25");
  EXPECT_EQ(env.directives[1].line, 6);
}

TEST(EnvFile, MalformedLinesNameFileLineColumn) {
  EXPECT_EQ(env_error("A=1\nNOT A LINE\n"), "app.env:2:5: expected '=' after 'NOT'");
  EXPECT_EQ(env_error("A=1\n=3\n"),
            "app.env:2:1: expected KEY=VALUE (a key starts with a letter or '_')");
  EXPECT_EQ(env_error("DATABASE_URL=\"postgres://h/db\n"),
            "app.env:1:14: unterminated double quote in the value of DATABASE_URL");
  EXPECT_EQ(env_error("A='x' y\n"), "app.env:1:7: unexpected text after the closing quote of A");
}

TEST(EnvFile, MalformedValuesNameFileLineColumn) {
  EXPECT_EQ(env_error("ZERO_UPSTREAM_DB=postgres://h/db\nZERO_CVR_MAX_CONNS=lots\n"),
            "app.env:2:20: ZERO_CVR_MAX_CONNS = \"lots\" is not a whole number");
  EXPECT_EQ(env_error("ZERO_UPSTREAM_MAX_CONNS=0\n"),
            "app.env:1:25: ZERO_UPSTREAM_MAX_CONNS = 0 is out of range [1, 100000]");
  EXPECT_EQ(env_error("DATABASE_URL=postgres://u:p@db.example.com:54x2/app\n"),
            "app.env:1:44: port '54x2' is not a number between 1 and 65535");
  EXPECT_EQ(env_error("DATABASE_URL=mysql://db/app\n"),
            "app.env:1:14: not a postgres:// or postgresql:// URL");
  EXPECT_EQ(env_error("# pgwarden: driver=pg idleTimeoutMilis=5000\n"),
            "app.env:1:23: unknown node-postgres option 'idleTimeoutMilis' (known: max, "
            "idleTimeoutMillis, connectionTimeoutMillis, maxLifetimeSeconds, keepAlive, "
            "keepAliveInitialDelayMillis)");
  EXPECT_EQ(env_error("# pgwarden: driver=pg keepAlive=maybe\n"),
            "app.env:1:33: keepAlive = \"maybe\" must be true or false");
  EXPECT_EQ(env_error("# pgwarden: driver=zero max=5\n"),
            "app.env:1:25: max does not apply to Zero; set ZERO_UPSTREAM_MAX_CONNS, "
            "ZERO_CVR_MAX_CONNS and ZERO_CHANGE_MAX_CONNS");
  EXPECT_EQ(env_error("# pgwarden: driver=mysql\n"),
            "app.env:1:20: driver = \"mysql\" must be pg, postgres or zero");
  EXPECT_EQ(env_error("# pgwarden: idleTimeoutMillis=5\n"),
            "app.env:1:13: pool option 'idleTimeoutMillis' needs a driver: add driver=pg or "
            "driver=postgres to "
            "the directive");
}

TEST(EnvFile, AppSpecErrors) {
  EXPECT_EQ(parse_app_spec("a.env,instances=4").instances, 4);
  EXPECT_EQ(parse_app_spec("a.env,driver=postgres").driver, Driver::postgres_js);
  EXPECT_THROW(parse_app_spec("a.env,instances=0"), InputError);
  EXPECT_THROW(parse_app_spec("a.env,instances=x"), InputError);
  EXPECT_THROW(parse_app_spec("a.env,replicas=2"), InputError);
  EXPECT_THROW(parse_app_spec(",instances=2"), InputError);
  // A URL on the command line, with a host list and a password that never shows in errors.
  auto u = parse_app_spec("postgres://app:s3cret@h1:5432,h2:5432/db,instances=3,max=15,driver=pg");
  EXPECT_EQ(u.url, "postgres://app:s3cret@h1:5432,h2:5432/db");
  EXPECT_EQ(u.instances, 3);
  EXPECT_EQ(u.max, 15);
  auto app = load_app(u);
  EXPECT_EQ(app.driver, Driver::node_postgres);
  EXPECT_EQ(app.pool.max, 15);
  EXPECT_EQ(app.instances, 3);
  EXPECT_EQ(app.name, "postgres://app:***@h1:5432,h2:5432/db");
  try {
    parse_app_spec("postgres://app:s3cret@h/db,max=many");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "--app URL: max must be a whole number >= 1, got 'many'");
  }
}

TEST(EnvFile, DriversAndDefaults) {
  auto pg = app_from(
      "# pgwarden: driver=pg max=20 connectionTimeoutMillis=5000\nDATABASE_URL=postgres://h/db\n");
  EXPECT_EQ(pg.driver, Driver::node_postgres);
  EXPECT_EQ(pg.pool.max, 20);
  EXPECT_EQ(pg.pool.connection_timeout_ms, 5000);
  auto pjs = app_from("DATABASE_URL=postgres://h/db?max=7&idle_timeout=30\nPGCONNECT_TIMEOUT=5\n");
  EXPECT_EQ(pjs.driver, Driver::postgres_js);
  EXPECT_EQ(pjs.pool.max, 7);
  EXPECT_EQ(pjs.pool.idle_timeout_ms, 30000);
  EXPECT_EQ(pjs.pool.connection_timeout_ms, 5000);
  auto z = app_from("ZERO_UPSTREAM_DB=postgres://h:5432/db\nZERO_CVR_MAX_CONNS=12\n");
  EXPECT_EQ(z.driver, Driver::zero);
  EXPECT_EQ(z.zero.upstream_max, 20);
  EXPECT_EQ(z.zero.cvr_max, 12);
  EXPECT_EQ(z.zero.change_max, 5);
  auto u = parse_conn_url("postgresql://a:secret@[::1]:6000/d%20b?sslmode=require&x=1", "f", 1, 1);
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 6000);
  EXPECT_EQ(u.dbname, "d b");
  EXPECT_EQ(u.sslmode, "require");
  EXPECT_EQ(u.raw_redacted.find("secret"), std::string::npos);
}

TEST(Size, ParsesAndFormats) {
  EXPECT_EQ(parse_size("16GB"), 16ull << 30);
  EXPECT_EQ(parse_size("512MB"), 512ull << 20);
  EXPECT_EQ(parse_size("1.5GiB"), 3ull << 29);
  EXPECT_EQ(parse_size("1024"), 1024ull);
  EXPECT_FALSE(parse_size("lots"));
  EXPECT_FALSE(parse_size("12 parsecs"));
  EXPECT_EQ(format_bytes(128LL << 20), "128MB");
}

// ---- server rules ------------------------------------------------------------------

TEST(ServerRules, DefaultsFireTheDocumentedRules) {
  auto s = default_server();
  AuditOptions o;
  o.ram_bytes = 512ull << 20;
  auto fs = eval_server(s, o);
  for (const char* r :
       {"timeout.idle-in-transaction", "timeout.keepalives", "log.connections",
        "log.disconnections", "log.line-prefix", "mem.work-mem", "mem.effective-cache-size",
        "timeout.statement", "timeout.tcp-user", "timeout.client-connection-check"})
    ASSERT_TRUE(find(fs, r)) << r;
  // Not Zero: replication rules stay quiet.
  EXPECT_FALSE(find(fs, "zero.wal-level"));
  EXPECT_EQ(find(fs, "mem.work-mem")->severity, Severity::warning);
  EXPECT_NE(find(fs, "mem.work-mem")->evidence.find("100 x work_mem 4MB"), std::string::npos);
  EXPECT_NE(find(fs, "log.line-prefix")->evidence.find("%a, %e"), std::string::npos);
}

TEST(ServerRules, GoodServerIsQuiet) {
  auto s = good_server();
  AuditOptions o;
  o.ram_bytes = 2ull << 30;
  o.zero = true;
  auto fs = eval_server(s, o);
  for (auto& f : fs) EXPECT_EQ(f.severity, Severity::info) << f.rule << ": " << f.evidence;
  EXPECT_FALSE(find(fs, "mem.shared-buffers"));
  EXPECT_EQ(find(fs, "conn.usage")->severity, Severity::info);
}

TEST(ServerRules, MemoryFormulas) {
  auto s = good_server();
  AuditOptions o;
  o.ram_bytes = 1ull << 30;  // shared_buffers 512MB = 50 %
  auto fs = eval_server(s, o);
  ASSERT_TRUE(find(fs, "mem.shared-buffers"));
  EXPECT_EQ(find(fs, "mem.shared-buffers")->severity, Severity::warning);
  EXPECT_EQ(find(fs, "mem.shared-buffers")->fix, "shared_buffers = '256MB' (RAM / 4)");
  EXPECT_TRUE(find(fs, "mem.effective-cache-size"));  // 1.5GB > 1GB
  s.settings["maintenance_work_mem"] = {"1048576", "kB"};
  o.ram_bytes = 4ull << 30;
  fs = eval_server(s, o);
  ASSERT_TRUE(find(fs, "mem.maintenance-work-mem"));
  EXPECT_EQ(find(fs, "mem.maintenance-work-mem")->value, "1GB");
  // No RAM: the RAM rules are skipped and say so.
  fs = eval_server(s, {});
  EXPECT_TRUE(find(fs, "mem.ram-unknown"));
  EXPECT_FALSE(find(fs, "mem.work-mem"));
}

TEST(ServerRules, Sessions) {
  auto s = good_server();
  s.backends.push_back({1, "api", "app", "client backend", "idle in transaction", 200, 120, 130});
  s.backends.push_back({2, "report", "app", "client backend", "active", 900, 900, 900});
  s.backends.push_back({3, "api", "app", "client backend", "idle in transaction", 10, 5, 6});
  s.backends.push_back({4, "", "", "walsender", "active", -1, 5000, 5000});
  auto fs = eval_server(s);
  ASSERT_TRUE(find(fs, "sess.idle-in-transaction"));
  EXPECT_NE(find(fs, "sess.idle-in-transaction")->evidence.find("1 session(s)"), std::string::npos);
  ASSERT_TRUE(find(fs, "sess.long-running"));
  EXPECT_NE(find(fs, "sess.long-running")->evidence.find("report"), std::string::npos);
  AuditOptions strict;
  strict.long_query_s = 1000;
  strict.idle_in_transaction_s = 600;
  fs = eval_server(s, strict);
  EXPECT_FALSE(find(fs, "sess.idle-in-transaction"));
  EXPECT_FALSE(find(fs, "sess.long-running"));
}

TEST(ServerRules, UsageAndReserved) {
  auto s = good_server();
  s.settings["max_connections"] = {"20", ""};
  s.settings["superuser_reserved_connections"] = {"0", ""};
  for (int i = 0; i < 15; ++i)
    s.backends.push_back({i, "api", "", "client backend", "idle", -1, 1, 1});
  auto fs = eval_server(s);
  ASSERT_TRUE(find(fs, "conn.usage"));  // 16 of 20 = 80 %
  EXPECT_EQ(find(fs, "conn.usage")->severity, Severity::warning);
  EXPECT_TRUE(find(fs, "conn.reserved"));
  s.peak_client_backends = 19;
  fs = eval_server(s);
  EXPECT_EQ(find(fs, "conn.usage")->severity, Severity::error);
  s.backends.resize(5);
  s.peak_client_backends = -1;
  s.settings["superuser_reserved_connections"] = {"3", ""};
  fs = eval_server(s);
  ASSERT_TRUE(find(fs, "conn.usage"));  // 6 of 17: reported as info, with the breakdown
  EXPECT_EQ(find(fs, "conn.usage")->severity, Severity::info);
  EXPECT_NE(find(fs, "conn.usage")->evidence.find("api: 5 idle"), std::string::npos);
  EXPECT_FALSE(find(fs, "conn.reserved"));
}

TEST(ServerRules, SessionCounters) {
  auto s = good_server();
  s.databases.push_back({"app", 100, 10, 1, 2});
  auto fs = eval_server(s);
  ASSERT_TRUE(find(fs, "stats.sessions-abandoned"));
  EXPECT_EQ(find(fs, "stats.sessions-abandoned")->severity, Severity::warning);
  EXPECT_TRUE(find(fs, "stats.sessions-fatal"));
  EXPECT_TRUE(find(fs, "stats.sessions-killed"));
  s.databases[0] = {"app", 1000, 1, 0, 0};
  fs = eval_server(s);
  EXPECT_EQ(find(fs, "stats.sessions-abandoned")->severity, Severity::info);
  EXPECT_FALSE(find(fs, "stats.sessions-killed"));
}

TEST(ServerRules, ZeroNeeds) {
  auto s = default_server();
  s.settings["max_wal_senders"] = {"0", ""};
  s.settings["max_replication_slots"] = {"1", ""};
  s.settings["wal_sender_timeout"] = {"0", "ms"};
  s.settings["max_slot_wal_keep_size"] = {"1024", "MB"};
  s.slots.push_back({"old", "logical", "lost", false, -1});
  AuditOptions o;
  o.zero = true;
  auto fs = eval_server(s, o);
  EXPECT_EQ(find(fs, "zero.wal-level")->severity, Severity::error);
  EXPECT_EQ(find(fs, "zero.wal-senders")->severity, Severity::error);
  EXPECT_EQ(find(fs, "zero.replication-slots")->severity, Severity::warning);
  EXPECT_TRUE(find(fs, "zero.wal-sender-timeout"));
  EXPECT_EQ(find(fs, "zero.max-slot-wal-keep-size")->severity, Severity::warning);
  EXPECT_EQ(find(fs, "slot.invalidated")->severity, Severity::error);
  EXPECT_FALSE(find(fs, "slot.inactive"));
  // Aurora names the parameter group setting instead.
  o.target = Target::aurora;
  s.settings["rds.logical_replication"] = {"off", ""};
  fs = eval_server(s, o);
  EXPECT_FALSE(find(fs, "zero.wal-level"));
  ASSERT_TRUE(find(fs, "aurora.logical-replication"));
  EXPECT_NE(find(fs, "aurora.logical-replication")->fix.find("rds.logical_replication = 1"),
            std::string::npos);
  // Inactive, not lost: a warning.
  s.slots[0].wal_status = "reserved";
  fs = eval_server(s, o);
  EXPECT_TRUE(find(fs, "slot.inactive"));
}

TEST(ServerRules, RoleAndDatabaseSettings) {
  auto s = default_server();
  s.settings["idle_session_timeout"] = {"0", "ms"};
  s.role_settings = {{"app", "", "statement_timeout", "30s"},
                     {"app", "", "idle_in_transaction_session_timeout", "1min"},
                     {"", "shop", "idle_session_timeout", "5min"},
                     {"app", "shop", "idle_session_timeout", "2000"}};
  EXPECT_EQ(s.millis_for("idle_session_timeout", "app", "shop"), 2000);
  EXPECT_EQ(s.millis_for("idle_session_timeout", "other", "shop"), 300'000);
  EXPECT_EQ(s.millis_for("idle_session_timeout", "other", "blog"), 0);
  EXPECT_EQ(s.millis_for("idle_in_transaction_session_timeout", "app", "x"), 60'000);
  auto fs = eval_server(s);
  EXPECT_FALSE(find(fs, "timeout.statement"));  // set for the app role: what the fix asks
  EXPECT_EQ(find(fs, "timeout.idle-in-transaction")->severity, Severity::info);
  // The pool of role "other" on database "shop" meets that database's 5 min.
  auto pjs = app_from("DATABASE_URL=postgres://other@10.0.0.5/shop\nPGMAX=5\n");
  fs = eval_server(s, {}, {pjs});
  ASSERT_TRUE(find(fs, "app.idle-vs-server"));
  EXPECT_NE(find(fs, "app.idle-vs-server")->evidence.find("300s"), std::string::npos);
  pjs = app_from("DATABASE_URL=postgres://other@10.0.0.5/blog\nPGMAX=5\n");
  EXPECT_FALSE(find(eval_server(s, {}, {pjs}), "app.idle-vs-server"));
}

TEST(ServerRules, TimeoutsAndKeepalive) {
  auto s = good_server();
  s.settings["authentication_timeout"] = {"300", "s"};
  AuditOptions azure;
  azure.idle_cut_s = 240;
  azure.idle_cut_name = "azure";
  s.settings["tcp_keepalives_idle"] = {"300", "s"};
  auto fs = eval_server(s, azure);
  EXPECT_TRUE(find(fs, "timeout.authentication"));
  ASSERT_TRUE(find(fs, "timeout.keepalives"));  // 300 >= 240 (Azure) ...
  fs = eval_server(s);
  EXPECT_FALSE(find(fs, "timeout.keepalives"));  // ... but < 350 (AWS)
}

// ---- connection budget, apps, proxy ------------------------------------------------------

TEST(Budget, SumsPoolsInstancesAndProxy) {
  auto s = good_server();
  s.settings["max_connections"] = {"100", ""};
  std::vector<AppConfig> apps = {
      app_from("# pgwarden: driver=pg max=20\nDATABASE_URL=postgres://10.0.0.5/app\n", "api.env",
               3),
      app_from("ZERO_UPSTREAM_DB=postgres://10.0.0.5/app\n", "zero.env", 1)};
  Inputs in;
  in.server = &s;
  in.apps = apps;
  Demand d = server_demand(in);
  EXPECT_EQ(d.total, 60 + 56);
  EXPECT_EQ(available_slots(s), 97);
  auto fs = evaluate(in);
  ASSERT_TRUE(find(fs, "conn.budget"));
  EXPECT_EQ(find(fs, "conn.budget")->severity, Severity::error);
  EXPECT_NE(
      find(fs, "conn.budget")->evidence.find("api.env: 1 pool(s) x max 20 x 3 instance(s) = 60"),
      std::string::npos);
  s.settings["max_connections"] = {"200", ""};
  EXPECT_EQ(find(evaluate(in), "conn.budget")->severity, Severity::info);  // the budget summary
  s.settings["max_connections"] = {"130", ""};  // 116 of 127: < 10 % headroom
  EXPECT_EQ(find(evaluate(in), "conn.budget")->severity, Severity::warning);
}

TEST(Budget, DatabaseAndRoleConnectionLimits) {
  auto s = good_server();
  s.database_limits = {{"shop", 25}};
  s.role_limits = {{"api", 15}, {"zero", 100}};
  ProxySettings p;
  p.file = "pgwarden.toml";
  p.listen = {{"127.0.0.1", 6432}};
  p.pools.push_back({"shop", "10.0.0.5", 5432, 10, "", "transaction", "shop", {"batch"}, 10});
  Inputs in;
  in.server = &s;
  in.proxy = &p;
  in.apps = {
      app_from("# pgwarden: driver=pg max=8\nDATABASE_URL=postgres://api@10.0.0.5/shop\n",
               "api.env", 2),
      app_from("# pgwarden: driver=pg max=50\nDATABASE_URL=postgres://api@127.0.0.1:6432/shop\n",
               "via-proxy.env", 1)};
  auto fs = evaluate(in);
  auto* db = find(fs, "conn.database-limit");
  ASSERT_TRUE(db);  // 10 (proxy) + 16 (api) = 26 > 25; the app behind the proxy does not count
  EXPECT_EQ(db->setting, "pg_database.shop.datconnlimit");
  EXPECT_EQ(db->value, "25");
  auto* role = find(fs, "conn.role-limit");
  ASSERT_TRUE(role);  // api: 16 > 15
  EXPECT_EQ(role->setting, "pg_roles.api.rolconnlimit");
  s.database_limits["shop"] = 26;
  s.role_limits["api"] = 16;
  fs = evaluate(in);
  EXPECT_FALSE(find(fs, "conn.database-limit"));
  EXPECT_FALSE(find(fs, "conn.role-limit"));
}

TEST(AppRules, NodePostgres) {
  auto bad = app_from(
      "# pgwarden: driver=pg idleTimeoutMillis=0\nDATABASE_URL=postgres://db.example.com/app\n");
  auto good = app_from(
      "# pgwarden: driver=pg max=10 idleTimeoutMillis=30000 connectionTimeoutMillis=5000 "
      "keepAlive=true keepAliveInitialDelayMillis=60000\n"
      "DATABASE_URL=postgres://db.example.com/app?sslmode=verify-full\n");
  auto s = good_server();
  s.settings["idle_session_timeout"] = {"600000", "ms"};
  Inputs in;
  in.server = &s;
  in.apps = {bad};
  auto fs = evaluate(in);
  EXPECT_EQ(find(fs, "app.pg-connection-timeout")->severity, Severity::warning);
  EXPECT_EQ(find(fs, "app.keepalive")->severity,
            Severity::info);  // server keepalive 60 s covers it
  EXPECT_EQ(find(fs, "app.sslmode")->location->line, 2);
  EXPECT_TRUE(find(fs, "app.idle-vs-server"));  // never idles out vs 10 min
  in.apps = {good};
  fs = evaluate(in);
  for (const char* r :
       {"app.pg-connection-timeout", "app.keepalive", "app.sslmode", "app.idle-vs-server"})
    EXPECT_FALSE(find(fs, r)) << r;
  // keepAlive=true alone leaves the OS default delay.
  in.server = nullptr;
  in.apps = {app_from("# pgwarden: driver=pg keepAlive=true idleTimeoutMillis=0\n")};
  fs = evaluate(in);
  ASSERT_TRUE(find(fs, "app.keepalive"));
  EXPECT_EQ(find(fs, "app.keepalive")->severity, Severity::warning);
  EXPECT_NE(find(fs, "app.keepalive")->evidence.find("7200"), std::string::npos);
}

TEST(AppRules, ZeroReplicationRole) {
  auto s = good_server();
  s.can_replicate = {{"zero", false}, {"zero_ok", true}};
  Inputs in;
  in.server = &s;
  in.apps = {app_from("ZERO_UPSTREAM_DB=postgres://zero:pw@10.0.0.5/app?sslmode=verify-full\n")};
  auto fs = evaluate(in);
  ASSERT_TRUE(find(fs, "zero.replication-role"));
  EXPECT_EQ(find(fs, "zero.replication-role")->fix, "ALTER ROLE \"zero\" REPLICATION;");
  in.options.target = Target::aurora;
  EXPECT_EQ(find(evaluate(in), "zero.replication-role")->fix, "GRANT rds_replication TO \"zero\";");
  in.apps = {app_from("ZERO_UPSTREAM_DB=postgres://zero_ok:pw@10.0.0.5/app?sslmode=verify-full\n")};
  EXPECT_FALSE(find(evaluate(in), "zero.replication-role"));
}

TEST(AppRules, SslmodeAsEachDriverReadsIt) {
  auto sev = [](const std::string& text) -> std::string {
    Inputs in;
    in.apps = {app_from(text)};
    auto fs = evaluate(in);
    auto* f = find(fs, "app.sslmode");
    return f ? to_string(f->severity) : "quiet";
  };
  // node-postgres: no sslmode = no TLS; require = verify-full today (deprecated spelling).
  EXPECT_EQ(sev("# pgwarden: driver=pg\nDATABASE_URL=postgres://db.example.com/a\n"), "warning");
  EXPECT_EQ(
      sev("# pgwarden: driver=pg\nDATABASE_URL=postgres://db.example.com/a?sslmode=require\n"),
      "info");
  EXPECT_EQ(
      sev("# pgwarden: driver=pg\nDATABASE_URL=postgres://db.example.com/a?sslmode=verify-full\n"),
      "quiet");
  // postgres.js: require does not verify; prefer may fall back; ssl=true verifies.
  EXPECT_EQ(sev("# pgwarden: "
                "driver=postgres\nDATABASE_URL=postgres://db.example.com/a?sslmode=require\n"),
            "info");
  EXPECT_EQ(
      sev("# pgwarden: driver=postgres\nDATABASE_URL=postgres://db.example.com/a?sslmode=prefer\n"),
      "warning");
  EXPECT_EQ(sev("# pgwarden: driver=postgres\nDATABASE_URL=postgres://db.example.com/a?ssl=true\n"),
            "quiet");
  // Zero / libpq semantics: unset means prefer.
  EXPECT_EQ(sev("ZERO_UPSTREAM_DB=postgres://db.example.com/a\n"), "warning");
  EXPECT_EQ(sev("ZERO_UPSTREAM_DB=postgres://db.example.com/a?sslmode=no-verify\n"), "info");
  // Local hosts are not checked.
  EXPECT_EQ(sev("# pgwarden: driver=pg\nDATABASE_URL=postgres://127.0.0.1/a\n"), "quiet");
  // A password in the query string is redacted like the one in the authority.
  auto u = parse_conn_url("postgres://db/a?user=x&password=hunter2&sslmode=require", "f", 1, 1);
  EXPECT_EQ(u.raw_redacted.find("hunter2"), std::string::npos) << u.raw_redacted;
  EXPECT_EQ(u.user, "x");
}

TEST(AppRules, PostgresJsAndPoolers) {
  ProxySettings p;
  p.file = "pgwarden.toml";
  p.listen = {{"127.0.0.1", 6432}};
  p.pool_mode = "transaction";
  p.max_client_conn = 15;
  p.max_prepared_statements = 0;
  p.keepalive = true;
  p.keepalive_idle_s = 60;
  Inputs in;
  in.proxy = &p;
  in.apps = {app_from("DATABASE_URL=postgres://127.0.0.1:6432/app\nPGMAX=20\nPGPREPARE=false\n")};
  auto fs = evaluate(in);
  ASSERT_TRUE(find(fs, "app.prepare-through-pooler"));
  ASSERT_TRUE(find(fs, "app.env-ignored"));
  EXPECT_EQ(find(fs, "app.env-ignored")->location->line, 3);
  ASSERT_TRUE(find(fs, "conn.proxy-clients"));  // 20 > 15
  p.max_prepared_statements = 200;              // the proxy tracks prepared statements
  p.max_client_conn = 1000;
  fs = evaluate(in);
  EXPECT_FALSE(find(fs, "app.prepare-through-pooler"));
  EXPECT_FALSE(find(fs, "conn.proxy-clients"));
  // Zero upstream through any pooler is an error; a direct one is fine.
  in.apps = {app_from("ZERO_UPSTREAM_DB=postgres://127.0.0.1:6432/app\n")};
  EXPECT_EQ(find(evaluate(in), "zero.upstream-pooler")->severity, Severity::error);
  in.proxy = nullptr;
  in.apps = {app_from("ZERO_UPSTREAM_DB=postgres://db.example.com:6543/app\n")};
  EXPECT_TRUE(find(evaluate(in), "zero.upstream-pooler"));
  in.apps = {app_from("ZERO_UPSTREAM_DB=postgres://db.example.com:5432/app?sslmode=verify-full\n")};
  EXPECT_FALSE(find(evaluate(in), "zero.upstream-pooler"));
}

TEST(ProxyRules, KeepaliveAndTimeoutOrder) {
  ProxySettings p;
  p.file = "pgwarden.toml";
  p.listen = {{"127.0.0.1", 6432}};
  p.pool_mode = "transaction";
  p.max_client_conn = 1000;
  p.keepalive = false;
  p.server_idle_ms = 600'000;
  p.query_ms = 30'000;
  p.client_idle_ms = 60'000;
  p.pools.push_back({"app",
                     "10.0.0.5",
                     5432,
                     80,
                     "(pool_size 80 + reserve 0) x 1",
                     "transaction",
                     "app",
                     {},
                     80});
  auto s = good_server();
  s.settings["idle_session_timeout"] = {"300000", "ms"};
  s.settings["statement_timeout"] = {"30000", "ms"};
  Inputs in;
  in.server = &s;
  in.proxy = &p;
  in.apps = {app_from("# pgwarden: driver=postgres\nDATABASE_URL=postgres://127.0.0.1:6432/app\n")};
  auto fs = evaluate(in);
  EXPECT_TRUE(find(fs, "proxy.keepalive"));
  EXPECT_TRUE(find(fs, "proxy.server-idle"));
  EXPECT_TRUE(find(fs, "proxy.query-timeout"));
  EXPECT_TRUE(find(fs, "proxy.client-idle"));                    // postgres.js never idles out
  EXPECT_EQ(find(fs, "conn.budget")->severity, Severity::info);  // 80 of 97
  EXPECT_FALSE(find(fs, "app.idle-vs-server"));  // the app talks to the proxy, not the server
  p.keepalive = true;
  p.keepalive_idle_s = 400;
  p.server_idle_ms = 120'000;
  p.query_ms = 40'000;
  p.client_idle_ms = 0;
  p.pools[0].server_connections = 100;
  fs = evaluate(in);
  EXPECT_NE(find(fs, "proxy.keepalive")->evidence.find("400s"), std::string::npos);
  EXPECT_FALSE(find(fs, "proxy.server-idle"));
  EXPECT_FALSE(find(fs, "proxy.query-timeout"));
  EXPECT_FALSE(find(fs, "proxy.client-idle"));
  EXPECT_EQ(find(fs, "conn.budget")->severity, Severity::error);  // 100 > 97
}

TEST(AuroraRules, EndpointsTlsAndMaxConnections) {
  Inputs in;
  in.options.target = Target::aurora;
  in.options.instance_class = "db.t3.medium";
  in.apps = {
      app_from("ZERO_UPSTREAM_DB=postgres://c.cluster-ro-abc.eu-west-1.rds.amazonaws.com/app\n",
               "zero.env", 8),
      app_from("# pgwarden: driver=pg "
               "max=10\nDATABASE_URL=postgres://db-1.abc.eu-west-1.rds.amazonaws.com/"
               "app?sslmode=disable\n",
               "api.env", 1)};
  auto fs = evaluate(in);
  ASSERT_TRUE(find(fs, "aurora.max-connections"));
  EXPECT_EQ(find(fs, "aurora.max-connections")->severity,
            Severity::error);  // 8 x 56 + 10 + 3 > 420
  EXPECT_EQ(find(fs, "aurora.max-connections")->value, "420");
  int endpoint = 0, tls_err = 0;
  for (auto& f : fs) {
    if (f.rule == "aurora.endpoint") ++endpoint;
    if (f.rule == "aurora.tls" && f.severity == Severity::error) ++tls_err;
  }
  EXPECT_EQ(endpoint, 2);  // reader endpoint for Zero, instance endpoint for the API
  EXPECT_EQ(tls_err, 1);
  EXPECT_TRUE(find(fs, "aurora.failover-slot"));
  EXPECT_FALSE(find(fs, "app.sslmode"));  // aurora.tls replaces it
  in.apps = {
      app_from("ZERO_UPSTREAM_DB=postgres://c.cluster-abc.eu-west-1.rds.amazonaws.com/"
               "app?sslmode=verify-full\n",
               "zero.env", 1)};
  in.options.instance_class = "db.r6g.large";
  fs = evaluate(in);
  EXPECT_EQ(find(fs, "aurora.max-connections")->severity, Severity::info);
  EXPECT_FALSE(find(fs, "aurora.endpoint"));
  EXPECT_FALSE(find(fs, "aurora.tls"));
  // Extensions against rds.extensions.
  auto s = good_server();
  s.settings["rds.extensions"] = {"pg_stat_statements, postgis", ""};
  s.extensions = {"plpgsql", "pg_stat_statements", "timescaledb"};
  in.server = &s;
  fs = evaluate(in);
  ASSERT_TRUE(find(fs, "aurora.extensions"));
  EXPECT_EQ(find(fs, "aurora.extensions")->value, "timescaledb");
}

// ---- reports ---------------------------------------------------------------------------------

TEST(Report, JsonSarifTextAndExitCodes) {
  Report r;
  r.checks_run = {"apps"};
  r.findings.push_back({"app.sslmode", Severity::warning, "DATABASE_URL sslmode", "(not set)", "ev",
                        "fix it", Location{"api.env", 2}});
  r.findings.push_back(
      {"timeout.statement", Severity::info, "statement_timeout", "0", "ev2", "fix2", std::nullopt});
  auto j = nlohmann::json::parse(render_json(r));
  ASSERT_EQ(j["findings"].size(), 2u);
  for (auto& f : j["findings"])
    for (const char* k : {"rule", "severity", "setting", "value", "evidence", "fix", "source"})
      EXPECT_TRUE(f.contains(k)) << k;
  EXPECT_EQ(j["findings"][0]["location"]["line"], 2);
  EXPECT_EQ(j["summary"]["warning"], 1);
  auto sarif = nlohmann::json::parse(render_sarif(r));
  EXPECT_EQ(sarif["version"], "2.1.0");
  auto& run = sarif["runs"][0];
  EXPECT_EQ(run["tool"]["driver"]["rules"].size(), rule_catalogue().size());
  EXPECT_EQ(run["results"][0]["level"], "warning");
  EXPECT_EQ(run["results"][1]["level"], "note");
  EXPECT_EQ(run["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"], 2);
  int idx = run["results"][0]["ruleIndex"];
  EXPECT_EQ(run["tool"]["driver"]["rules"][idx]["id"], "app.sslmode");
  EXPECT_NE(render_text(r).find("WARNING app.sslmode"), std::string::npos);
  // Bytes that are not UTF-8 (an application_name on a SQL_ASCII server) do not break JSON.
  r.findings[1].evidence = "app \xff\xfe";
  EXPECT_NO_THROW(nlohmann::json::parse(render_json(r)));
  EXPECT_NO_THROW(nlohmann::json::parse(render_sarif(r)));
  EXPECT_EQ(exit_code(r, Severity::error), 0);
  EXPECT_EQ(exit_code(r, Severity::warning), 1);
  EXPECT_EQ(exit_code(r, Severity::info), 1);
}

TEST(Docs, EveryRuleIsDocumented) {
  // PGWARDEN_SOURCE_DIR when ctest passes it; else the path CMake compiled in.
  const char* env = std::getenv("PGWARDEN_SOURCE_DIR");
  std::filesystem::path src = env ? env : PGWARDEN_AUDIT_SOURCE_DIR;
  std::ifstream in(src / "docs" / "audit.md");
  ASSERT_TRUE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string doc = ss.str();
  for (auto& r : rule_catalogue())
    EXPECT_NE(doc.find(std::string("`") + r.id + "`"), std::string::npos) << r.id;
}
