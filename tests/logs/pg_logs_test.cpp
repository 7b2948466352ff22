// Integration: a real PostgreSQL 15 produces connection events (terminate,
// timeouts, slot exhaustion, a vanished client, bad passwords, a busy
// replication slot, kill -9 of a backend) in stderr, csvlog and jsonlog;
// `pgwarden logs` must classify and count them exactly.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "support.hpp"

using namespace pgw::test;
using namespace std::chrono_literals;

namespace {

PGconn* connect(const std::string& conninfo) {
  return PQconnectdb(conninfo.c_str());
}

std::string app_conninfo(const PgCluster& pg, const std::string& user, const std::string& pw,
                         const std::string& db, const std::string& extra = "") {
  return "host=127.0.0.1 port=" + std::to_string(pg.port()) + " user=" + user + " password=" + pw +
         " dbname=" + db + " connect_timeout=10 " + extra;
}

bool ok(PGconn* c) {
  return c && PQstatus(c) == CONNECTION_OK;
}

std::string exec(PGconn* c, const std::string& sql) {
  PGresult* r = PQexec(c, sql.c_str());
  std::string v;
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) v = PQgetvalue(r, 0, 0);
  if (PQresultStatus(r) == PGRES_FATAL_ERROR) v = std::string("ERROR:") + PQresultErrorMessage(r);
  PQclear(r);
  return v;
}

// Closes the client's socket under libpq: with rst=true the kernel sends RST
// (SO_LINGER 0), else FIN; either way no Terminate message reaches the server.
void vanish(PGconn* c, bool rst) {
  int fd = PQsocket(c);
  if (rst) {
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  } else {
    ::shutdown(fd, SHUT_RDWR);
  }
  int nul = ::open("/dev/null", O_RDWR);
  ::dup2(nul, fd);  // closes the socket; libpq's fd now points at /dev/null
  ::close(nul);
  PQfinish(c);
}

bool wait_ready(const PgCluster& pg, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (PQping(pg.conninfo().c_str()) == PQPING_OK) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

// The events every format test produces; returns the victim's application_name.
void common_events(const PgCluster& pg) {
  PGconn* admin = connect(pg.conninfo());
  ASSERT_TRUE(ok(admin)) << PQerrorMessage(admin);
  // 57P01 pg_terminate_backend
  PGconn* victim = connect(pg.conninfo() + " application_name=victim-app");
  ASSERT_TRUE(ok(victim));
  exec(admin, "select pg_terminate_backend(" + std::to_string(PQbackendPID(victim)) + ")");
  // 28P01 bad password
  PGconn* bad = connect(app_conninfo(pg, "postgres", "wrong-password", "postgres"));
  EXPECT_FALSE(ok(bad));
  PQfinish(bad);
  // 57014 statement timeout
  EXPECT_NE(
      exec(admin, "set statement_timeout = 100; select pg_sleep(3)").find("statement timeout"),
      std::string::npos);
  exec(admin, "reset statement_timeout");
  // 25P03 idle in transaction, 57P05 idle session
  PGconn* iit =
      connect(pg.conninfo() +
              " application_name=iit-app options='-c idle_in_transaction_session_timeout=200'");
  ASSERT_TRUE(ok(iit));
  exec(iit, "begin");
  PGconn* idle =
      connect(pg.conninfo() + " application_name=idle-app options='-c idle_session_timeout=200'");
  ASSERT_TRUE(ok(idle));
  // EOF with an open transaction, and an RST from the client
  PGconn* eof = connect(pg.conninfo() + " application_name=vanishing-app");
  ASSERT_TRUE(ok(eof));
  exec(eof, "begin");
  vanish(eof, false);
  PGconn* rst = connect(pg.conninfo() + " application_name=reset-app");
  ASSERT_TRUE(ok(rst));
  vanish(rst, true);
  std::this_thread::sleep_for(700ms);
  PQfinish(iit);
  PQfinish(idle);
  PQfinish(victim);
  PQfinish(admin);
}

}  // namespace

TEST(PgLogs, StderrRdsPrefixRealServer) {
  PgCluster pg({.settings = {{"log_connections", "on"},
                             {"log_disconnections", "on"},
                             {"log_line_prefix", "'%t:%r:%u@%d:[%p]:'"},
                             {"max_connections", "10"},
                             {"superuser_reserved_connections", "3"},
                             {"wal_level", "logical"},
                             {"max_replication_slots", "4"},
                             {"max_wal_senders", "4"}}});
  pg.psql("create role app login password 'app-pw'");
  pg.psql("create role lim login password 'lim-pw' connection limit 1");
  pg.psql("create database limdb connection limit 1");
  pg.psql("grant all on database limdb to app");
  common_events(pg);

  // 53300: per role, per database, reserved slots, then every slot.
  {
    PGconn* l1 = connect(app_conninfo(pg, "lim", "lim-pw", "postgres"));
    PGconn* l2 = connect(app_conninfo(pg, "lim", "lim-pw", "postgres"));
    EXPECT_TRUE(ok(l1));
    EXPECT_FALSE(ok(l2));
    PQfinish(l2);
    PQfinish(l1);
    PGconn* d1 = connect(app_conninfo(pg, "app", "app-pw", "limdb"));
    PGconn* d2 = connect(app_conninfo(pg, "app", "app-pw", "limdb"));
    EXPECT_TRUE(ok(d1));
    EXPECT_FALSE(ok(d2));
    PQfinish(d2);
    PQfinish(d1);
    std::vector<PGconn*> held;
    for (int i = 0; i < 7; ++i) {
      held.push_back(connect(app_conninfo(pg, "app", "app-pw", "postgres")));
      EXPECT_TRUE(ok(held.back())) << i << PQerrorMessage(held.back());
    }
    PGconn* reserved = connect(app_conninfo(pg, "app", "app-pw", "postgres"));
    EXPECT_FALSE(ok(reserved));
    PQfinish(reserved);
    for (int i = 0; i < 3; ++i) {
      held.push_back(connect(pg.conninfo()));
      EXPECT_TRUE(ok(held.back())) << PQerrorMessage(held.back());
    }
    PGconn* full = connect(pg.conninfo());
    EXPECT_FALSE(ok(full));
    PQfinish(full);
    for (auto* c : held) PQfinish(c);
    // Backends exit after their clients leave; until they have, the next
    // attempt would be refused with 53300 instead of reaching its own error.
    for (int i = 0; i < 200; ++i) {
      PGconn* probe = connect(pg.conninfo());
      bool drained = ok(probe) && exec(probe,
                                       "select count(*) from pg_stat_activity where backend_type = "
                                       "'client backend'") == "1";
      PQfinish(probe);
      if (drained) break;
      std::this_thread::sleep_for(50ms);
    }
  }
  // 3D000 a missing database
  PGconn* nodb = connect(app_conninfo(pg, "postgres", pg.options().password, "nope"));
  EXPECT_FALSE(ok(nodb));
  PQfinish(nodb);

  // 55006 a replication slot in use (held by pg_recvlogical), 42704 a missing slot
  pg.psql("select pg_create_logical_replication_slot('s1', 'test_decoding')");
  pid_t recv = ::fork();
  if (recv == 0) {
    int nul = ::open("/dev/null", O_RDWR);
    ::dup2(nul, 1);
    ::dup2(nul, 2);
    std::string bin = (pg_bin_dir() / "pg_recvlogical").string();
    std::string conn = pg.conninfo();
    ::execl(bin.c_str(), "pg_recvlogical", "-d", conn.c_str(), "-S", "s1", "--start", "-f",
            "/dev/null", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_GT(recv, 0);
  bool active = false;
  for (int i = 0; i < 100 && !active; ++i) {
    active = pg.psql("select active from pg_replication_slots where slot_name = 's1'") == "t";
    if (!active) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(active);
  {
    PGconn* c = connect(pg.conninfo());
    EXPECT_NE(exec(c, "select pg_logical_slot_get_changes('s1', null, null)").find("is active"),
              std::string::npos);
    EXPECT_NE(
        exec(c, "select pg_logical_slot_get_changes('nope', null, null)").find("does not exist"),
        std::string::npos);
    PQfinish(c);
  }
  ::kill(recv, SIGTERM);
  int status = 0;
  ::waitpid(recv, &status, 0);
  std::this_thread::sleep_for(200ms);
  pg.psql("select pg_drop_replication_slot('s1')");

  // kill -9 of a backend: the crash/restart cycle
  {
    PGconn* doomed = connect(pg.conninfo() + " application_name=doomed-app");
    ASSERT_TRUE(ok(doomed));
    pid_t bpid = PQbackendPID(doomed);
    ::kill(bpid, SIGKILL);
    PQfinish(doomed);
    ASSERT_TRUE(wait_ready(pg, 30));
  }
  std::this_thread::sleep_for(200ms);

  // Snapshot the log now (the server keeps writing until it stops).
  TempDir tmp;
  auto log = tmp.path / "postgresql.log";
  std::filesystem::copy_file(pg.log_path(), log);

  for (const std::string& prefix : {std::string("--prefix '%t:%r:%u@%d:[%p]:'"), std::string()}) {
    auto rep = report(prefix + " " + log.string());
    ASSERT_TRUE(rep.contains("classes")) << rep.dump();
    SCOPED_TRACE(prefix.empty() ? "detected prefix" : "given prefix");
    EXPECT_EQ(rep["exit_code"], 1);  // failures found
    EXPECT_EQ(rep["inputs"][0]["format"], "stderr");
    EXPECT_EQ(rep["inputs"][0]["prefix"], "%t:%r:%u@%d:[%p]:");
    EXPECT_EQ(class_count(rep, "pg.admin_terminate"), 1u);
    EXPECT_EQ(class_count(rep, "pg.password_failed"), 1u);
    EXPECT_EQ(class_count(rep, "pg.statement_timeout"), 1u);
    EXPECT_EQ(class_count(rep, "pg.idle_in_transaction_timeout"), 1u);
    EXPECT_EQ(class_count(rep, "pg.idle_session_timeout"), 1u);
    EXPECT_EQ(class_count(rep, "pg.eof_in_transaction"), 1u);
    EXPECT_EQ(class_count(rep, "pg.client_reset"), 1u);
    EXPECT_EQ(class_count(rep, "pg.too_many_connections_role"), 1u);
    EXPECT_EQ(class_count(rep, "pg.too_many_connections_database"), 1u);
    EXPECT_EQ(class_count(rep, "pg.reserved_slots_superuser"), 1u);
    EXPECT_EQ(class_count(rep, "pg.too_many_clients"), 1u);
    EXPECT_EQ(class_count(rep, "pg.database_missing"), 1u);
    EXPECT_EQ(class_count(rep, "pg.slot_in_use"), 1u);
    EXPECT_EQ(class_count(rep, "pg.slot_missing"), 1u);
    EXPECT_EQ(class_count(rep, "pg.backend_killed_sigkill"), 1u);
    EXPECT_EQ(class_count(rep, "pg.crash_terminating_others"), 1u);
    EXPECT_EQ(class_count(rep, "pg.crash_reinitializing"), 1u);
    EXPECT_GE(class_count(rep, "pg.crash_recovery_started"), 1u);
    EXPECT_GE(class_count(rep, "pg.server_ready"), 2u);
    EXPECT_GE(class_count(rep, "pg.connection_authorized"), 20u);
    EXPECT_GE(class_count(rep, "pg.disconnection"), 15u);
    EXPECT_GE(class_count(rep, "pg.connection_received"),
              class_count(rep, "pg.connection_authorized"));
    EXPECT_EQ(class_count(rep, "pg.other_fatal"), 0u) << rep["classes"].dump();
    // The RDS prefix has no %a: the PID join gives lines their application_name.
    EXPECT_EQ(dim_count(rep, "application", "victim-app", "pg.admin_terminate"), 1u);
    EXPECT_EQ(dim_count(rep, "application", "iit-app", "pg.idle_in_transaction_timeout"), 1u);
    EXPECT_EQ(dim_count(rep, "application", "idle-app", "pg.idle_session_timeout"), 1u);
    EXPECT_EQ(dim_count(rep, "application", "vanishing-app", "pg.eof_in_transaction"), 1u);
    EXPECT_EQ(dim_count(rep, "application", "reset-app", "pg.client_reset"), 1u);
    EXPECT_EQ(dim_count(rep, "application", "doomed-app", "pg.backend_killed_sigkill"), 1u);
    EXPECT_EQ(dim_count(rep, "user", "lim", "pg.too_many_connections_role"), 1u);
    EXPECT_GE(rep["sessions"]["count"].get<uint64_t>(), 15u);
    ASSERT_GE(rep["incidents"].size(), 1u);
    EXPECT_EQ(rep["bad_input"]["total"], 0) << rep["bad_input"].dump();
  }

  // --output events: one JSON object per line in the shared event model.
  Result ev = run_logs("--output events " + log.string());
  std::istringstream lines(ev.out);
  std::string l;
  int n = 0, killed = 0;
  while (std::getline(lines, l)) {
    auto j = nlohmann::json::parse(l, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << l;
    ASSERT_TRUE(j.contains("ts") && j.contains("event") && j.contains("cause") &&
                j.contains("severity") && j.contains("source") && j.contains("message"))
        << l;
    if (j["class"] == "pg.backend_killed_sigkill") {
      ++killed;
      EXPECT_EQ(j["application_name"], "doomed-app");
      EXPECT_EQ(j["event"], "server.crash");
    }
    if (j["class"] == "pg.admin_terminate") {
      EXPECT_EQ(j["sqlstate"], "57P01");
      EXPECT_EQ(j["user"], "postgres");
      EXPECT_EQ(j["database"], "postgres");
      EXPECT_TRUE(j.contains("backend_pid"));
      EXPECT_EQ(j["peer"].get<std::string>().rfind("127.0.0.1:", 0), 0u);
    }
    ++n;
  }
  EXPECT_EQ(killed, 1);
  EXPECT_GT(n, 40);
}

TEST(PgLogs, CsvlogAndJsonlogRealServer) {
  PgCluster pg({.settings = {{"log_connections", "on"},
                             {"log_disconnections", "on"},
                             {"logging_collector", "on"},
                             {"log_destination", "'csvlog,jsonlog'"},
                             {"log_directory", "'pglog'"},
                             {"log_filename", "'pg'"}}});
  common_events(pg);
  auto csv = pg.data_dir() / "pglog" / "pg.csv";
  auto json = pg.data_dir() / "pglog" / "pg.json";
  // The collector writes asynchronously: wait until both files hold the last events.
  for (int i = 0; i < 100; ++i) {
    if (read_file(csv).find("idle-session timeout") != std::string::npos &&
        read_file(json).find("idle-session timeout") != std::string::npos)
      break;
    std::this_thread::sleep_for(50ms);
  }
  TempDir tmp;
  std::filesystem::copy_file(csv, tmp.path / "pg.csv");
  std::filesystem::copy_file(json, tmp.path / "pg.json");
  for (const char* f : {"pg.csv", "pg.json"}) {
    SCOPED_TRACE(f);
    auto rep = report((tmp.path / f).string());
    ASSERT_TRUE(rep.contains("classes")) << rep.dump();
    EXPECT_EQ(rep["inputs"][0]["format"], std::string(f) == "pg.csv" ? "csvlog" : "jsonlog");
    EXPECT_EQ(class_count(rep, "pg.admin_terminate"), 1u);
    EXPECT_EQ(class_count(rep, "pg.password_failed"), 1u);
    EXPECT_EQ(class_count(rep, "pg.statement_timeout"), 1u);
    EXPECT_EQ(class_count(rep, "pg.idle_in_transaction_timeout"), 1u);
    EXPECT_EQ(class_count(rep, "pg.idle_session_timeout"), 1u);
    EXPECT_EQ(class_count(rep, "pg.eof_in_transaction"), 1u);
    EXPECT_EQ(class_count(rep, "pg.client_reset"), 1u);
    EXPECT_GE(class_count(rep, "pg.connection_authorized"), 6u);
    EXPECT_GE(class_count(rep, "pg.disconnection"), 5u);
    EXPECT_EQ(class_count(rep, "pg.other_fatal"), 0u) << rep["classes"].dump();
    // csvlog/jsonlog carry application_name themselves
    EXPECT_EQ(dim_count(rep, "application", "victim-app", "pg.admin_terminate"), 1u);
    EXPECT_EQ(rep["bad_input"]["total"], 0) << rep["bad_input"].dump();
  }
  // both at once, plus the stderr file: one timeline
  auto rep = report((tmp.path / "pg.csv").string() + " " + (tmp.path / "pg.json").string());
  EXPECT_EQ(class_count(rep, "pg.admin_terminate"), 2u);
  EXPECT_EQ(rep["inputs"].size(), 2u);
}
