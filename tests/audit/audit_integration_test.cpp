// `pgwarden audit` end to end: the real binary against real PostgreSQL 15
// servers started with deliberately bad and good settings, plus malformed
// inputs. Every assertion names a rule id, a severity and, where it matters,
// the value read.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "pg_cluster.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using pgw::test::PgCluster;

namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/pgwarden-audit-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    fs::path p = path_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct Outcome {
  int rc = -1;
  std::string out, err;
  json j;
};

// Runs `pgwarden audit ARGS`; parses stdout as JSON when it is JSON.
Outcome audit(const TempDir& tmp, const std::string& args) {
  const char* bin = std::getenv("PGWARDEN_BIN");
  if (!bin) throw std::runtime_error("PGWARDEN_BIN is not set");
  fs::path err = tmp.path() / "stderr.txt";
  Outcome r;
  r.rc = pgw::test::run_command(std::string(bin) + " audit " + args + " 2>" + err.string(), &r.out);
  std::ifstream e(err);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  if (!r.out.empty() && r.out.front() == '{') r.j = json::parse(r.out);
  return r;
}

std::vector<json> findings(const Outcome& r, const std::string& rule) {
  std::vector<json> out;
  for (auto& f : r.j["findings"])
    if (f["rule"] == rule) out.push_back(f);
  return out;
}

// The one finding of a rule; fails the test when there is not exactly one.
json one(const Outcome& r, const std::string& rule) {
  auto fs_ = findings(r, rule);
  EXPECT_EQ(fs_.size(), 1u) << rule << " in:\n" << r.out;
  return fs_.empty() ? json::object() : fs_.front();
}

bool contains(const json& v, const std::string& needle) {
  return v.is_string() && v.get<std::string>().find(needle) != std::string::npos;
}

struct Conn {
  PGconn* c = nullptr;
  Conn(const PgCluster& pg, const std::string& app) {
    c = PQconnectdb((pg.conninfo() + " application_name=" + app).c_str());
    if (PQstatus(c) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(c));
  }
  ~Conn() { PQfinish(c); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  void exec(const char* sql) { PQclear(PQexec(c, sql)); }
};

// Waits (bounded) until a psql query prints "t".
bool eventually(const PgCluster& pg, const std::string& sql) {
  for (int i = 0; i < 100; ++i) {
    if (pg.psql(sql) == "t") return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::string q(const std::string& s) {
  return "'" + s + "'";
}

}  // namespace

TEST(AuditIntegration, BadServerFiresEveryServerRule) {
  PgCluster pg({.settings = {{"max_connections", "20"},
                             {"superuser_reserved_connections", "0"},
                             {"work_mem", "'64MB'"},
                             {"maintenance_work_mem", "'256MB'"},
                             {"idle_session_timeout", "'1h'"},
                             {"tcp_keepalives_idle", "1000"},
                             {"authentication_timeout", "'5min'"},
                             {"wal_level", "replica"},
                             {"max_wal_senders", "0"},
                             {"max_replication_slots", "1"},
                             {"wal_sender_timeout", "0"},
                             {"max_slot_wal_keep_size", "'1GB'"}}});
  TempDir tmp;
  pg.psql("select pg_create_physical_replication_slot('stale_standby', true)");
  {
    // A client that vanishes without a Terminate message, and one an operator kills.
    Conn gone(pg, "vanishing");
    ::shutdown(PQsocket(gone.c), SHUT_RDWR);
    Conn victim(pg, "victim");
    pg.psql(
        "select pg_terminate_backend(pid) from pg_stat_activity where application_name = "
        "'victim'");
  }
  ASSERT_TRUE(eventually(pg,
                         "select sessions_abandoned > 0 and sessions_killed > 0 from "
                         "pg_stat_database where datname = 'postgres'"));
  // 13 idle fillers + held-tx + slow-job + the audit = 16 of 20 slots = 80 %: a warning, with
  // room for a psql backend still exiting.
  Conn held(pg, "held-tx");
  held.exec("begin; select 1");
  Conn slow(pg, "slow-job");
  ASSERT_EQ(PQsendQuery(slow.c, "select pg_sleep(120)"), 1);
  std::vector<std::unique_ptr<Conn>> fillers;
  for (int i = 0; i < 13; ++i) fillers.push_back(std::make_unique<Conn>(pg, "idle-filler"));
  ASSERT_TRUE(eventually(pg,
                         "select count(*) = 1 from pg_stat_activity where application_name = "
                         "'slow-job' and state = 'active'"));

  std::string url = pg.url();
  std::string api =
      tmp.write("api.env", "# pgwarden: driver=pg max=10\nDATABASE_URL=" + url + "\n");
  std::string worker = tmp.write("worker.env", "DATABASE_URL=" + url + "\nPGMAX=5\n");
  std::string zero = tmp.write("zero.env", "ZERO_UPSTREAM_DB=" + url +
                                               "\nZERO_UPSTREAM_MAX_CONNS=4\nZERO_CVR_MAX_CONNS=4\n"
                                               "ZERO_CHANGE_MAX_CONNS=2\n");
  std::string proxy = tmp.write(
      "pgwarden.toml", "[proxy]\nlisten = \"127.0.0.1:" + std::to_string(pgw::test::free_port()) +
                           "\"\ndefault_pool_size = 10\n[keepalive]\nenabled = false\n"
                           "[timeouts]\nserver_idle_timeout = \"2h\"\n[databases.postgres]\n"
                           "host = \"127.0.0.1\"\nport = " +
                           std::to_string(pg.port()) + "\n[users.app]\npassword = \"x\"\n");
  std::string inputs = "--dsn " + q(url) + " --app " + api + ",instances=2 --app " + worker +
                       " --app " + zero + " --proxy-config " + proxy +
                       " --ram 1GB --long-query 0s --idle-in-transaction 0s";
  Outcome r = audit(tmp, inputs + " --output json");
  ASSERT_EQ(r.rc, 1) << r.err << r.out;
  ASSERT_TRUE(r.j.is_object()) << r.out;
  EXPECT_NE(std::find(r.j["checks_run"].begin(), r.j["checks_run"].end(), "server"),
            r.j["checks_run"].end());
  EXPECT_TRUE(contains(r.j["server_version"], "15."));

  auto budget = one(r, "conn.budget");
  EXPECT_EQ(budget["severity"], "error");
  EXPECT_EQ(budget["setting"], "max_connections");
  EXPECT_EQ(budget["value"], "20");
  EXPECT_TRUE(contains(budget["evidence"], "sum of pools = 46")) << budget;
  EXPECT_TRUE(contains(budget["evidence"], "20 usable slots")) << budget;
  EXPECT_EQ(one(r, "conn.reserved")["severity"], "warning");
  auto usage = one(r, "conn.usage");
  EXPECT_EQ(usage["severity"], "warning");
  EXPECT_TRUE(contains(usage["evidence"], "idle-filler: 13 idle")) << usage;
  EXPECT_TRUE(contains(one(r, "sess.idle-in-transaction")["evidence"], "held-tx"));
  EXPECT_TRUE(contains(one(r, "sess.long-running")["evidence"], "slow-job"));
  EXPECT_EQ(findings(r, "stats.sessions-abandoned").size(), 1u);
  EXPECT_EQ(one(r, "stats.sessions-killed")["severity"], "info");
  auto wm = one(r, "mem.work-mem");
  EXPECT_EQ(wm["severity"], "warning");
  EXPECT_EQ(wm["value"], "64MB");
  EXPECT_TRUE(contains(wm["evidence"], "max_connections 20 x work_mem 64MB")) << wm;
  EXPECT_EQ(one(r, "mem.maintenance-work-mem")["value"], "256MB");
  EXPECT_EQ(one(r, "mem.effective-cache-size")["value"], "4GB");
  EXPECT_EQ(one(r, "timeout.idle-in-transaction")["severity"], "warning");
  EXPECT_EQ(one(r, "timeout.keepalives")["value"], "1000");
  EXPECT_EQ(one(r, "timeout.authentication")["value"], "300s");
  EXPECT_EQ(one(r, "timeout.statement")["severity"], "info");
  EXPECT_EQ(one(r, "log.connections")["value"], "off");
  EXPECT_EQ(one(r, "log.disconnections")["value"], "off");
  EXPECT_TRUE(contains(one(r, "log.line-prefix")["evidence"], "%a, %e"));
  auto wal = one(r, "zero.wal-level");
  EXPECT_EQ(wal["severity"], "error");
  EXPECT_EQ(wal["value"], "replica");
  EXPECT_EQ(wal["fix"], "wal_level = logical (needs a restart)");
  EXPECT_EQ(one(r, "zero.wal-senders")["severity"], "error");
  EXPECT_EQ(one(r, "zero.replication-slots")["severity"], "warning");
  EXPECT_EQ(one(r, "zero.wal-sender-timeout")["value"], "0");
  EXPECT_EQ(one(r, "zero.max-slot-wal-keep-size")["value"], "1024MB");
  auto slot = one(r, "slot.inactive");
  EXPECT_EQ(slot["setting"], "pg_replication_slots.stale_standby");
  auto pgto = one(r, "app.pg-connection-timeout");
  EXPECT_EQ(pgto["location"]["file"], api);
  auto idle = one(r, "app.idle-vs-server");
  EXPECT_EQ(idle["location"]["file"], worker);
  EXPECT_TRUE(contains(idle["evidence"], "idle_session_timeout 3600s")) << idle;
  EXPECT_EQ(one(r, "proxy.keepalive")["value"], "false");
  EXPECT_EQ(one(r, "proxy.server-idle")["value"], "7200s");
  // Quiet where they should be: local URLs need no TLS; no limits on privileges.
  EXPECT_TRUE(findings(r, "app.sslmode").empty());
  EXPECT_TRUE(findings(r, "audit.limited-privileges").empty());
  EXPECT_TRUE(findings(r, "slot.invalidated").empty());

  // The same audit as SARIF and as text.
  Outcome sarif = audit(tmp, inputs + " --output sarif");
  EXPECT_EQ(sarif.rc, 1);
  ASSERT_TRUE(sarif.j.is_object());
  EXPECT_EQ(sarif.j["version"], "2.1.0");
  EXPECT_EQ(sarif.j["runs"][0]["results"].size(), r.j["findings"].size());
  Outcome text = audit(tmp, inputs);
  EXPECT_EQ(text.rc, 1);
  EXPECT_NE(text.out.find("ERROR   conn.budget"), std::string::npos) << text.out;

  // Aurora readiness against the same server.
  Outcome au = audit(tmp, "--dsn " + q(url) + " --app " + zero +
                              " --target aurora --instance-class db.t3.medium --output json");
  EXPECT_EQ(au.rc, 1);
  EXPECT_TRUE(findings(au, "zero.wal-level").empty());
  EXPECT_EQ(one(au, "aurora.logical-replication")["severity"], "error");
  EXPECT_EQ(one(au, "aurora.failover-slot")["severity"], "warning");
  auto amax = one(au, "aurora.max-connections");
  EXPECT_EQ(amax["severity"], "info");
  EXPECT_EQ(amax["value"], "420");
}

TEST(AuditIntegration, GoodServerIsQuietAndProblemsAreReported) {
  PgCluster pg({.settings = {{"max_connections", "100"},
                             {"shared_buffers", "'256MB'"},
                             {"effective_cache_size", "'768MB'"},
                             {"idle_in_transaction_session_timeout", "'60s'"},
                             {"tcp_keepalives_idle", "60"},
                             {"tcp_keepalives_interval", "10"},
                             {"tcp_keepalives_count", "6"},
                             {"log_connections", "on"},
                             {"log_disconnections", "on"},
                             {"log_line_prefix", "'%m [%p] %e %q%u@%d/%a '"},
                             {"wal_level", "logical"}}});
  TempDir tmp;
  std::string url = pg.url();
  std::string api =
      tmp.write("api.env",
                "# pgwarden: driver=pg max=10 idleTimeoutMillis=30000 connectionTimeoutMillis=5000 "
                "keepAlive=true keepAliveInitialDelayMillis=60000\nDATABASE_URL=" +
                    url + "\n");
  std::string zero = tmp.write("zero.env", "ZERO_UPSTREAM_DB=" + url +
                                               "\nZERO_UPSTREAM_MAX_CONNS=10\n"
                                               "ZERO_CVR_MAX_CONNS=10\nZERO_CHANGE_MAX_CONNS=3\n");
  std::string proxy = tmp.write(
      "pgwarden.toml",
      "[proxy]\nlisten = \"127.0.0.1:" + std::to_string(pgw::test::free_port()) +
          "\"\n[databases.postgres]\nhost = \"127.0.0.1\"\nport = " + std::to_string(pg.port()) +
          "\npool_size = 10\n[users.app]\npassword = \"x\"\n");
  std::string apps = " --app " + api + ",instances=3 --app " + zero + " --proxy-config " + proxy;
  Outcome r = audit(tmp, "--dsn " + q(url) + apps + " --ram 1GB --fail-on warning --output json");
  EXPECT_EQ(r.rc, 0) << r.err << r.out;
  ASSERT_TRUE(r.j.is_object()) << r.out;
  for (auto& f : r.j["findings"]) EXPECT_EQ(f["severity"], "info") << f;
  for (const char* rule : {"conn.reserved",
                           "sess.idle-in-transaction",
                           "sess.long-running",
                           "mem.work-mem",
                           "mem.shared-buffers",
                           "mem.maintenance-work-mem",
                           "mem.effective-cache-size",
                           "mem.ram-unknown",
                           "timeout.idle-in-transaction",
                           "timeout.keepalives",
                           "log.connections",
                           "log.disconnections",
                           "log.line-prefix",
                           "zero.wal-level",
                           "zero.wal-senders",
                           "zero.replication-slots",
                           "slot.inactive",
                           "app.pg-connection-timeout",
                           "app.keepalive",
                           "app.idle-vs-server",
                           "proxy.keepalive",
                           "proxy.server-idle",
                           "audit.limited-privileges"})
    EXPECT_TRUE(findings(r, rule).empty()) << rule;
  EXPECT_EQ(r.j["summary"]["error"], 0);
  EXPECT_EQ(one(r, "conn.usage")["severity"], "info");
  auto budget = one(r, "conn.budget");  // the budget summary: 10 (proxy) + 30 (api) + 24 (zero)
  EXPECT_EQ(budget["severity"], "info");
  EXPECT_TRUE(contains(budget["evidence"], "sum of pools = 64")) << budget;

  // --sample: the peak over a short sampling window is what conn.usage reports.
  Outcome sampled = audit(tmp, "--dsn " + q(url) + " --sample 1s --output json");
  EXPECT_TRUE(contains(one(sampled, "conn.usage")["evidence"], "over --sample"));

  // statement_timeout per role, as the fix says: the info goes away.
  EXPECT_EQ(one(r, "timeout.statement")["severity"], "info");
  pg.psql("alter role postgres set statement_timeout = '30s'");
  Outcome per_role = audit(tmp, "--dsn " + q(url) + " --output json");
  EXPECT_TRUE(findings(per_role, "timeout.statement").empty()) << per_role.out;
  pg.psql("alter role postgres reset statement_timeout");

  // A logical slot nobody consumes.
  pg.psql("select pg_create_logical_replication_slot('zero_0_1700000000', 'pgoutput')");
  Outcome slot = audit(tmp, "--dsn " + q(url) + " --fail-on warning --output json");
  EXPECT_EQ(slot.rc, 1);
  auto inactive = one(slot, "slot.inactive");
  EXPECT_EQ(inactive["setting"], "pg_replication_slots.zero_0_1700000000");
  EXPECT_TRUE(contains(inactive["evidence"], "logical slot"));
  pg.psql("select pg_drop_replication_slot('zero_0_1700000000')");

  // Bad credentials: a clear finding, and the app checks still run.
  std::string bad_app = tmp.write("bad.env", "# pgwarden: driver=pg\nDATABASE_URL=" + url + "\n");
  std::string wrong =
      "postgres://postgres:wrong@127.0.0.1:" + std::to_string(pg.port()) + "/postgres";
  Outcome auth = audit(tmp, "--dsn " + q(wrong) + " --app " + bad_app + " --output json");
  EXPECT_EQ(auth.rc, 1);
  auto af = one(auth, "audit.auth-failed");
  EXPECT_EQ(af["severity"], "error");
  EXPECT_TRUE(contains(af["evidence"], "password authentication failed")) << af;
  EXPECT_EQ(one(auth, "app.pg-connection-timeout")["severity"], "warning");
  EXPECT_TRUE(findings(auth, "log.connections").empty());

  // Unreachable server: same.
  std::string nowhere =
      "postgres://postgres:x@127.0.0.1:" + std::to_string(pgw::test::free_port()) +
      "/postgres?connect_timeout=3";
  Outcome un = audit(tmp, "--dsn " + q(nowhere) + " --app " + bad_app + " --output json");
  EXPECT_EQ(un.rc, 1);
  EXPECT_EQ(one(un, "audit.server-unreachable")["severity"], "error");
  EXPECT_EQ(findings(un, "app.pg-connection-timeout").size(), 1u);
  EXPECT_TRUE(contains(un.j["checks_skipped"][0], "server: unreachable"));

  // A role without pg_read_all_stats: told so; RAM cannot be read through the server.
  pg.psql("create role lowpriv login password 'lowpw'");
  std::string low = "postgres://lowpriv:lowpw@127.0.0.1:" + std::to_string(pg.port()) + "/postgres";
  Outcome lp = audit(tmp, "--dsn " + q(low) + " --output json");
  EXPECT_EQ(one(lp, "audit.limited-privileges")["severity"], "warning");
  EXPECT_EQ(one(lp, "mem.ram-unknown")["severity"], "info");
  EXPECT_EQ(lp.rc, 0);  // --fail-on error by default

  // CONNECTION LIMITs on a database and a role, against the pools that use them.
  pg.psql("create role shop_app login connection limit 5");
  pg.psql("create database shop connection limit 12");
  std::string shop = tmp.write(
      "shop.env", "# pgwarden: driver=pg max=8\nDATABASE_URL=postgres://shop_app@127.0.0.1:" +
                      std::to_string(pg.port()) + "/shop\n");
  Outcome lim = audit(tmp, "--dsn " + q(url) + " --app " + shop + ",instances=2 --output json");
  EXPECT_EQ(lim.rc, 1);
  auto dl = one(lim, "conn.database-limit");
  EXPECT_EQ(dl["setting"], "pg_database.shop.datconnlimit");
  EXPECT_EQ(dl["value"], "12");
  EXPECT_TRUE(contains(dl["evidence"], "16 connections")) << dl;
  EXPECT_EQ(one(lim, "conn.role-limit")["value"], "5");

  // Zero's upstream role without REPLICATION.
  pg.psql("create role zero_plain login password 'zp'");
  std::string zplain =
      tmp.write("zero-plain.env", "ZERO_UPSTREAM_DB=postgres://zero_plain:zp@127.0.0.1:" +
                                      std::to_string(pg.port()) + "/postgres\n");
  Outcome zr = audit(tmp, "--dsn " + q(url) + " --app " + zplain + " --output json");
  auto role = one(zr, "zero.replication-role");
  EXPECT_EQ(role["severity"], "error");
  EXPECT_EQ(role["value"], "zero_plain");
  EXPECT_EQ(role["fix"], "ALTER ROLE \"zero_plain\" REPLICATION;");
  pg.psql("alter role zero_plain replication");
  zr = audit(tmp, "--dsn " + q(url) + " --app " + zplain + " --output json");
  EXPECT_TRUE(findings(zr, "zero.replication-role").empty());

  // A slot that lost its WAL: max_slot_wal_keep_size (reloadable) cut it at a checkpoint.
  pg.psql("select pg_create_physical_replication_slot('lagging', true)");
  pg.psql("alter system set max_slot_wal_keep_size = '1MB'");
  pg.psql("select pg_reload_conf()");
  for (int i = 0; i < 3; ++i)
    pg.psql(
        "create table if not exists filler(x int); insert into filler select "
        "generate_series(1, 10000); select pg_switch_wal()");
  pg.psql("checkpoint");
  ASSERT_TRUE(eventually(pg,
                         "select wal_status = 'lost' from pg_replication_slots where "
                         "slot_name = 'lagging'"));
  Outcome lost = audit(tmp, "--dsn " + q(url) + " --output json");
  EXPECT_EQ(lost.rc, 1);
  auto inv = one(lost, "slot.invalidated");
  EXPECT_EQ(inv["severity"], "error");
  EXPECT_EQ(inv["setting"], "pg_replication_slots.lagging");
  EXPECT_TRUE(findings(lost, "slot.inactive").empty());
}

TEST(AuditIntegration, MalformedInputsGivePreciseErrors) {
  TempDir tmp;
  std::string env = tmp.write("zero.env",
                              "ZERO_UPSTREAM_DB=postgres://db:5432/app\n"
                              "ZERO_CVR_MAX_CONNS=lots\n");
  Outcome r = audit(tmp, "--app " + env);
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err, "pgwarden audit: " + env +
                       ":2:20: ZERO_CVR_MAX_CONNS = \"lots\" is not a whole number\n");
  EXPECT_TRUE(r.out.empty());

  std::string url = tmp.write("api.env", "\n  DATABASE_URL=postgres://u:p@db:5x32/app\n");
  r = audit(tmp, "--app " + url);
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err,
            "pgwarden audit: " + url + ":2:34: port '5x32' is not a number between 1 and 65535\n");

  std::string cfg = tmp.write("bad.toml", "[proxy]\n  pool_mode = \"statement\"\n");
  r = audit(tmp, "--proxy-config " + cfg);
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err, "pgwarden audit: " + cfg +
                       ":2:15: 'proxy.pool_mode' must be \"session\" or \"transaction\"\n");

  r = audit(tmp, "--app " + (tmp.path() / "missing.env").string());
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("missing.env: cannot open env file"), std::string::npos) << r.err;
  r = audit(tmp, "--app " + env + ",instances=0");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("instances must be a whole number >= 1"), std::string::npos) << r.err;
  r = audit(tmp, "--ram lots --app " + env);
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--ram 'lots' is not a size"), std::string::npos) << r.err;
  r = audit(tmp, "--output xml --app " + env);  // refused by the flag parser itself
  EXPECT_GE(r.rc, 100);
  EXPECT_NE(r.err.find("xml not in"), std::string::npos) << r.err;
  r = audit(tmp, "");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("nothing to audit"), std::string::npos) << r.err;
}
