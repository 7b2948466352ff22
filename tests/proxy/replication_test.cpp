// Replication connections through pgwarden (replication=database and
// physical), against a real PostgreSQL 15 with wal_level = logical and real
// clients: psql, pg_recvlogical, pg_receivewal, libpq and postgres.js.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "http_get.hpp"
#include "stack.hpp"
#include "test_certs.hpp"

namespace pgw::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A client tool running in the background, stopped by its PID.
class Background {
 public:
  explicit Background(const std::string& cmd) {
    pid_ = fork();
    if (pid_ == 0) {
      const std::string exec = "exec " + cmd;
      execl("/bin/sh", "sh", "-c", exec.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~Background() { stop(SIGTERM); }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  // True (with its exit status) once the process has exited within `seconds`.
  bool exited(double seconds, int& status) {
    if (pid_ <= 0) return true;
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    for (;;) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        return true;
      }
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(50ms);
    }
  }
  void stop(int sig) {
    if (pid_ <= 0) return;
    kill(pid_, sig);
    int status = 0;
    if (!exited(10, status)) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      pid_ = 0;
    }
  }

 private:
  pid_t pid_ = -1;
};

bool wait_for(const std::function<bool()>& ok, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (ok()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return ok();
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// The value of the first series of `name` whose labels contain every fragment; -1 if none.
double metric(const std::string& text, const std::string& name,
              const std::vector<std::string>& fragments) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(name + "{")) continue;
    bool all = true;
    for (const auto& f : fragments) all = all && line.find(f) != std::string::npos;
    if (!all) continue;
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

// "0/16B3748" as a number.
uint64_t lsn_value(const std::string& lsn) {
  const auto parts = split(lsn, '/');
  if (parts.size() != 2) return 0;
  return (std::stoull(parts[0], nullptr, 16) << 32) | std::stoull(parts[1], nullptr, 16);
}

class ReplicationTest : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    pg_ = std::make_unique<PgCluster>(PgClusterOptions{.settings = {{"wal_level", "logical"},
                                                                    {"max_wal_senders", "10"},
                                                                    {"max_replication_slots", "10"},
                                                                    {"log_connections", "on"}}});
    pg_->psql("create role app login replication password 'app-pw'");
    pg_->psql("create database app owner app");
    pg_->psql("create table items(id int primary key, note text)", "app");
    pg_->psql("alter table items owner to app", "app");
    pg_->psql("create publication pub_items for table items", "app");
  }
  static void TearDownTestSuite() { pg_.reset(); }

 protected:
  void SetUp() override {
    admin_port_ = free_port();
    proxy_ = std::make_unique<ProxyProcess>(fmt::format(
        "pool_mode = \"transaction\"\n[admin]\nlisten = \"127.0.0.1:{}\"\nadmin_users = "
        "[\"app\"]\n[databases.app]\nhost = \"127.0.0.1\"\nport = {}\n[users.app]\npassword = "
        "\"app-pw\"\n",
        admin_port_, pg_->port()));
  }
  void TearDown() override { proxy_.reset(); }

  std::string via_proxy(const std::string& extra = "") const {
    return proxy_->conninfo("app", "app-pw", "app") + " " + extra;
  }
  std::string direct(const std::string& extra = "") const {
    return fmt::format(
        "host=127.0.0.1 port={} user=app password=app-pw dbname=app sslmode=disable {}",
        pg_->port(), extra);
  }
  static std::string tool(const char* name) { return (pg_bin_dir() / name).string(); }
  std::string psql_out(const std::string& conninfo, const std::string& sql, int& status) const {
    std::string out;
    status = run_command(tool("psql") + " -X -At -c '" + sql + "' '" + conninfo + "' 2>&1", &out);
    return trim(out);
  }
  std::string metrics() const { return http_get(admin_port_, "/metrics").body; }
  // The walsender of `application_name` on the server, 0 when none.
  std::string walsender_pid(const std::string& app) const {
    return trim(
        pg_->psql("select pid from pg_stat_replication where application_name = '" + app + "'"));
  }

  static inline std::unique_ptr<PgCluster> pg_;
  std::unique_ptr<ProxyProcess> proxy_;
  int admin_port_ = 0;
};

TEST_F(ReplicationTest, IdentifySystemThroughPgwardenEqualsTheServers) {
  int st = 0;
  const std::string mine = psql_out(via_proxy("replication=database"), "IDENTIFY_SYSTEM", st);
  ASSERT_EQ(st, 0) << mine;
  const std::string theirs = psql_out(direct("replication=database"), "IDENTIFY_SYSTEM", st);
  ASSERT_EQ(st, 0) << theirs;
  const auto a = split(mine, '|'), b = split(theirs, '|');
  ASSERT_EQ(a.size(), 4u) << mine;
  ASSERT_EQ(b.size(), 4u) << theirs;
  EXPECT_EQ(a[0], b[0]);  // systemid
  EXPECT_EQ(a[1], b[1]);  // timeline
  EXPECT_EQ(a[3], "app");
  EXPECT_EQ(a[3], b[3]);
  EXPECT_GT(lsn_value(a[2]), 0u);
  // Physical (PostgreSQL's boolean spellings): no database.
  for (const char* on : {"true", "on", "yes", "1"}) {
    const std::string phys =
        psql_out(via_proxy(std::string("replication=") + on), "IDENTIFY_SYSTEM", st);
    ASSERT_EQ(st, 0) << phys;
    const auto p = split(phys, '|');
    ASSERT_EQ(p.size(), 4u) << phys;
    EXPECT_EQ(p[0], b[0]);
    EXPECT_EQ(p[3], "");
  }
  // The false spellings are a normal pooled connection.
  const std::string normal = psql_out(via_proxy("replication=off"), "select 40 + 2", st);
  EXPECT_EQ(st, 0);
  EXPECT_EQ(normal, "42");
  // Anything else is refused as PostgreSQL refuses it.
  const std::string bad = psql_out(via_proxy("replication=maybe"), "select 1", st);
  EXPECT_NE(st, 0);
  EXPECT_NE(bad.find("invalid value for parameter \"replication\": \"maybe\""), std::string::npos)
      << bad;
  // Each replication client had a link of its own that nobody else got.
  auto closes = 0;
  for (auto& e : proxy_->settled_events(1.0))
    if (e["event"] == "client.close" && e.value("replication", "") != "") {
      ++closes;
      EXPECT_EQ(e["cause"], "client_terminate") << e.dump();
    }
  EXPECT_EQ(closes, 5);
}

TEST_F(ReplicationTest, PgRecvlogicalStreamsRowsInsertedThroughPgwarden) {
  const std::string dsn = via_proxy();
  const fs::path out = proxy_->dir() / "decoded.txt", err = proxy_->dir() / "recvlogical.err";
  std::string created;
  ASSERT_EQ(run_command(tool("pg_recvlogical") + " -d '" + dsn +
                            "' --slot t1 --create-slot -P test_decoding 2>&1",
                        &created),
            0)
      << created;
  EXPECT_EQ(trim(pg_->psql("select plugin from pg_replication_slots where slot_name = 't1'")),
            "test_decoding");
  Background recv(tool("pg_recvlogical") + " -d '" + dsn +
                  "' --slot t1 --start --no-loop -s 1 -F 1 -o skip-empty-xacts=1 -o "
                  "include-xids=0 -f " +
                  out.string() + " 2> " + err.string());
  ASSERT_TRUE(wait_for([&] { return !walsender_pid("pg_recvlogical").empty(); }, 15)) << slurp(err);
  const std::string walsender = walsender_pid("pg_recvlogical");

  // Rows written through pgwarden by a normal (pooled) client.
  auto app = pq_connect(via_proxy());
  ASSERT_EQ(PQstatus(app.get()), CONNECTION_OK) << PQerrorMessage(app.get());
  const uint64_t before_insert = lsn_value(trim(pg_->psql("select pg_current_wal_lsn()")));
  ASSERT_TRUE(pq_exec(app.get(), "insert into items values (1, 'one'), (2, 'two')").ok);
  ASSERT_TRUE(wait_for([&] { return slurp(out).find("COMMIT") != std::string::npos; }, 15))
      << slurp(out) << slurp(err);
  EXPECT_EQ(slurp(out),
            "BEGIN\n"
            "table public.items: INSERT: id[integer]:1 note[text]:'one'\n"
            "table public.items: INSERT: id[integer]:2 note[text]:'two'\n"
            "COMMIT\n");

  // The normal client never got the replication link.
  EXPECT_NE(pq_exec(app.get(), "select pg_backend_pid()").value, walsender);

  // The stream as pgwarden sees it: bytes, and the standby status updates'
  // flush LSN, the same as the server's pg_stat_replication.
  std::string server_flush, pgwarden_flush;
  ASSERT_TRUE(wait_for(
      [&] {
        server_flush =
            trim(pg_->psql("select flush_lsn from pg_stat_replication where application_name = "
                           "'pg_recvlogical'"));
        const auto clients = nlohmann::json::parse(http_get(admin_port_, "/api/clients").body);
        for (const auto& c : clients)
          if (c.contains("replication")) pgwarden_flush = c["replication"].value("flush_lsn", "");
        return !server_flush.empty() && pgwarden_flush == server_flush &&
               lsn_value(server_flush) > before_insert;
      },
      20))
      << "server " << server_flush << " pgwarden " << pgwarden_flush << " insert after "
      << before_insert;
  const auto clients = nlohmann::json::parse(http_get(admin_port_, "/api/clients").body);
  nlohmann::json repl;
  for (const auto& c : clients)
    if (c.contains("replication")) repl = c;
  ASSERT_FALSE(repl.is_null()) << clients.dump();
  EXPECT_EQ(repl["replication"]["mode"], "database");
  EXPECT_EQ(repl["replication"]["phase"], "streaming");
  EXPECT_EQ(std::to_string(repl["replication"]["backend_pid"].get<uint32_t>()), walsender);
  EXPECT_EQ(repl["application_name"], "pg_recvlogical");
  EXPECT_GE(lsn_value(repl["replication"]["server_wal_end"]), lsn_value(pgwarden_flush));
  EXPECT_GE(repl["replication"]["status_updates"].get<int>(), 1);
  EXPECT_GE(repl["replication"]["xlog_messages"].get<int>(), 4);  // BEGIN, 2 INSERTs, COMMIT

  const std::string m = metrics();
  EXPECT_EQ(
      metric(m, "pgwarden_replication_connections", {"pool=\"app/app\"", "mode=\"database\""}), 1);
  EXPECT_GT(metric(m, "pgwarden_replication_bytes_total", {"direction=\"from_server\""}), 0);
  EXPECT_GT(metric(m, "pgwarden_replication_bytes_total", {"direction=\"from_client\""}), 0);
  EXPECT_EQ(metric(m, "pgwarden_replication_streaming", {"application_name=\"pg_recvlogical\""}),
            1);
  EXPECT_GE(metric(m, "pgwarden_replication_flush_lsn", {"application_name=\"pg_recvlogical\""}),
            static_cast<double>(before_insert));
  const double age =
      metric(m, "pgwarden_replication_last_message_age_seconds", {"mode=\"database\""});
  EXPECT_GE(age, 0);
  EXPECT_LT(age, 15);  // keepalives at least every wal_sender_timeout / 2
  EXPECT_GE(metric(m, "pgwarden_replication_lag_bytes", {"mode=\"database\""}), 0);

  // The console: SHOW REPLICATION (pgwarden's own; SHOW CLIENTS keeps
  // PgBouncer's columns); SHOW SERVERS never lists the walsender (it is no
  // pool's link).
  auto console = pq_connect(proxy_->conninfo("app", "app-pw", "pgbouncer"));
  ASSERT_EQ(PQstatus(console.get()), CONNECTION_OK) << PQerrorMessage(console.get());
  PGresult* r = PQexec(console.get(), "SHOW REPLICATION");
  ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQresultErrorMessage(r);
  ASSERT_EQ(PQntuples(r), 1);
  auto field = [&](const char* name) {
    const int col = PQfnumber(r, name);
    return col < 0 ? std::string("<no column>") : std::string(PQgetvalue(r, 0, col));
  };
  EXPECT_EQ(field("replication"), "database");
  EXPECT_EQ(field("phase"), "streaming");
  EXPECT_EQ(field("remote_pid"), walsender);
  EXPECT_EQ(field("application_name"), "pg_recvlogical");
  EXPECT_EQ(field("backend"), "127.0.0.1:" + std::to_string(pg_->port()));
  EXPECT_GE(lsn_value(field("flush_lsn")), lsn_value(pgwarden_flush));
  EXPECT_GT(std::stoll(field("bytes_from_server")), 0);
  PQclear(r);
  r = PQexec(console.get(), "SHOW SERVERS");
  const int pid_col = PQfnumber(r, "remote_pid");
  ASSERT_GE(pid_col, 0);
  EXPECT_GE(PQntuples(r), 1);  // the normal client's link
  for (int i = 0; i < PQntuples(r); ++i) EXPECT_NE(PQgetvalue(r, i, pid_col), walsender);
  PQclear(r);

  // pg_terminate_backend on the walsender: the client gets the server's
  // FATAL 57P01, and the close names it.
  EXPECT_EQ(trim(pg_->psql("select pg_terminate_backend(" + walsender + ")")), "t");
  int status = 0;
  ASSERT_TRUE(recv.exited(15, status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_NE(slurp(err).find("terminating connection due to administrator command"),
            std::string::npos)
      << slurp(err);
  auto ev = proxy_->wait_event(
      {{"event", "client.close"}, {"replication", "database"}, {"cause", "server_fatal"}});
  EXPECT_EQ(ev["sqlstate"], "57P01") << ev.dump();
  EXPECT_EQ(ev["initiator"], "server");
  EXPECT_EQ(ev["message"], "terminating connection due to administrator command");
  EXPECT_EQ(ev["client_impact"], "disconnected");
  EXPECT_EQ(ev["replication_phase"], "ended");
  EXPECT_GT(ev["replication_bytes_from_server"].get<int64_t>(), 0);
  auto sev = proxy_->wait_event(
      {{"event", "server.close"}, {"replication", "database"}, {"cause", "server_fatal"}});
  EXPECT_EQ(std::to_string(sev["backend_pid"].get<int64_t>()), walsender);
  EXPECT_TRUE(wait_for(
      [&] {
        return metric(metrics(), "pgwarden_replication_connections", {"mode=\"database\""}) == 0;
      },
      5));
  pg_->psql("select pg_drop_replication_slot('t1')");
}

TEST_F(ReplicationTest, PgReceivewalReceivesWalSegments) {
  const fs::path dir = proxy_->dir() / "wal", err = proxy_->dir() / "receivewal.err";
  fs::create_directories(dir);
  Background recv(tool("pg_receivewal") + " -d '" + via_proxy() + "' -D " + dir.string() +
                  " --no-loop -s 1 2> " + err.string());
  ASSERT_TRUE(wait_for([&] { return !walsender_pid("pg_receivewal").empty(); }, 15)) << slurp(err);
  pg_->psql("create table if not exists wal_fill(x int)");
  pg_->psql("insert into wal_fill select generate_series(1, 1000)");
  pg_->psql("select pg_switch_wal()");
  auto segments = [&] {
    int done = 0, partial = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string name = e.path().filename().string();
      if (name.size() == 24 && fs::file_size(e.path()) == 16u * 1024 * 1024) ++done;
      if (name.ends_with(".partial")) ++partial;
    }
    return std::pair{done, partial};
  };
  ASSERT_TRUE(wait_for([&] { return segments().first >= 1 && segments().second == 1; }, 20))
      << slurp(err);
  const std::string m = metrics();
  EXPECT_EQ(metric(m, "pgwarden_replication_connections", {"mode=\"physical\""}), 1);
  EXPECT_GT(metric(m, "pgwarden_replication_bytes_total", {"direction=\"from_server\""}), 0);
  EXPECT_EQ(metric(m, "pgwarden_replication_streaming", {"application_name=\"pg_receivewal\""}), 1);
  recv.stop(SIGINT);
  auto ev = proxy_->wait_event({{"event", "client.close"}, {"replication", "physical"}});
  EXPECT_EQ(ev["initiator"], "client") << ev.dump();
  EXPECT_GT(ev["replication_bytes_from_server"].get<int64_t>(), 0);
}

TEST_F(ReplicationTest, PgBasebackupWithStreamedWalMakesAVerifiedBackup) {
  // BASE_BACKUP (its tar stream in CopyOut) and, on a second replication
  // connection, the WAL for it: both through pgwarden; pg_verifybackup checks
  // every file against the server's manifest.
  const fs::path dir = proxy_->dir() / "basebackup";
  std::string out;
  int status = run_command(tool("pg_basebackup") + " -d '" + via_proxy() + "' -D " + dir.string() +
                               " -X stream -c fast 2>&1",
                           &out);
  ASSERT_EQ(status, 0) << out;
  status = run_command(tool("pg_verifybackup") + " " + dir.string() + " 2>&1", &out);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("backup successfully verified"), std::string::npos) << out;
  // Two physical replication sessions, both ended by the client.
  int physical = 0;
  for (auto& e : proxy_->settled_events())
    if (e["event"] == "client.close" && e.value("replication", "") == "physical") {
      EXPECT_EQ(e["initiator"], "client") << e.dump();
      ++physical;
    }
  EXPECT_EQ(physical, 2);
}

TEST_F(ReplicationTest, WalSenderTimeoutGivesTheClientFatal57P03) {
  pg_->psql("alter system set wal_sender_timeout = '1s'");
  pg_->psql("select pg_reload_conf()");
  struct Reset {  // even when an assertion ends the test early
    ~Reset() {
      pg_->psql("alter system reset wal_sender_timeout");
      pg_->psql("select pg_reload_conf()");
    }
  } reset;
  std::this_thread::sleep_for(300ms);
  auto c = pq_connect(via_proxy("replication=database"));
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  PGresult* r = PQexec(c.get(), "CREATE_REPLICATION_SLOT t2 LOGICAL test_decoding");
  ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQresultErrorMessage(r);
  PQclear(r);
  r = PQexec(c.get(), "START_REPLICATION SLOT t2 LOGICAL 0/0");
  ASSERT_EQ(PQresultStatus(r), PGRES_COPY_BOTH) << PQresultErrorMessage(r);
  PQclear(r);
  // A client that never answers the keepalives.
  std::this_thread::sleep_for(3s);
  for (;;) {
    char* buf = nullptr;
    const int n = PQgetCopyData(c.get(), &buf, 0);
    if (buf) PQfreemem(buf);
    if (n < 0) break;
  }
  std::string sqlstate, message = PQerrorMessage(c.get());
  while (PGresult* res = PQgetResult(c.get())) {
    if (const char* s = PQresultErrorField(res, PG_DIAG_SQLSTATE)) sqlstate = s;
    message += PQresultErrorMessage(res);
    PQclear(res);
  }
  EXPECT_EQ(sqlstate, "57P03") << message;
  EXPECT_NE(message.find("wal_sender_timeout"), std::string::npos) << message;
  auto ev = proxy_->wait_event({{"event", "client.close"}, {"cause", "wal_sender_timeout"}});
  EXPECT_EQ(ev["sqlstate"], "57P03");
  EXPECT_EQ(ev["initiator"], "server");
  EXPECT_EQ(ev["replication"], "database");
  c.reset();
  wait_for(
      [&] {
        return trim(pg_->psql("select active from pg_replication_slots where slot_name = 't2'")) ==
               "f";
      },
      10);
  pg_->psql("select pg_drop_replication_slot('t2')");
}

TEST_F(ReplicationTest, ProxyShutdownEndsTheStreamWithFatal57P01) {
  auto c = pq_connect(via_proxy("replication=database"));
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  PGresult* r = PQexec(c.get(), "CREATE_REPLICATION_SLOT t3 TEMPORARY LOGICAL test_decoding");
  ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQresultErrorMessage(r);
  PQclear(r);
  r = PQexec(c.get(), "START_REPLICATION SLOT t3 LOGICAL 0/0");
  ASSERT_EQ(PQresultStatus(r), PGRES_COPY_BOTH) << PQresultErrorMessage(r);
  PQclear(r);
  // SIGTERM drains: a streaming replication client is told, not cut off.
  ASSERT_EQ(kill(proxy_->pid(), SIGTERM), 0);
  for (;;) {
    char* buf = nullptr;
    const int n = PQgetCopyData(c.get(), &buf, 0);
    if (buf) PQfreemem(buf);
    if (n < 0) break;
  }
  std::string sqlstate, message = PQerrorMessage(c.get());
  while (PGresult* res = PQgetResult(c.get())) {
    if (const char* st = PQresultErrorField(res, PG_DIAG_SQLSTATE)) sqlstate = st;
    message += PQresultErrorMessage(res);
    PQclear(res);
  }
  EXPECT_EQ(sqlstate, "57P01") << message;
  EXPECT_NE(message.find("pgwarden is shutting down"), std::string::npos) << message;
  EXPECT_TRUE(proxy_->exited_within(10));
  bool seen = false;
  for (auto& e : proxy_->events())
    if (e["event"] == "client.close" && e.value("replication", "") == "database") {
      seen = true;
      EXPECT_EQ(e["cause"], "proxy_shutdown") << e.dump();
      EXPECT_EQ(e["sqlstate"], "57P01");
      EXPECT_EQ(e["replication_phase"], "ended");
    }
  EXPECT_TRUE(seen);
  // The walsender went with it: the temporary slot is gone.
  EXPECT_TRUE(wait_for(
      [&] {
        return trim(pg_->psql(
                   "select count(*) from pg_replication_slots where slot_name = 't3'")) == "0";
      },
      10));
}

TEST_F(ReplicationTest, PostgresJsReplicationConnectionAsZeroCacheOpensIt) {
  std::string out;
  const int status = run_command(std::string("cd ") + PGWARDEN_TESTS_NODE_DIR +
                                     " && PROXY_PORT=" + std::to_string(proxy_->port()) +
                                     " timeout 120 node proxy_replication.mjs 2>&1",
                                 &out);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("identify_system "), std::string::npos) << out;
  EXPECT_NE(out.find("subscribed insert 4242 through pgwarden"), std::string::npos) << out;
  EXPECT_NE(out.find("ok"), std::string::npos) << out;
  const std::string first = out.substr(out.find("identify_system "));
  const std::string systemid = split(split(first, '\n')[0], ' ')[1];
  int st = 0;
  EXPECT_EQ(split(psql_out(direct("replication=database"), "IDENTIFY_SYSTEM", st), '|')[0],
            systemid);
  // zero-cache's application_name reached the server's walsender.
  bool seen = false;
  for (auto& e : proxy_->settled_events(1.0))
    seen = seen || (e["event"] == "client.close" && e.value("replication", "") == "database" &&
                    e.value("application_name", "") == "zero-replicator");
  EXPECT_TRUE(seen);
}

// TLS on both sides: the client to pgwarden (client_tls_sslmode = require)
// and pgwarden to a server that accepts only TLS (hostssl), with a CopyBoth
// stream carrying a row through both.
TEST(ReplicationTls, LogicalStreamThroughTlsOnBothSides) {
  TempTestCerts certs;
  PgCluster pg(PgClusterOptions{.settings = {{"wal_level", "logical"}, {"max_wal_senders", "5"}},
                                .ssl_cert = certs.server_cert,
                                .ssl_key = certs.server_key,
                                .hba_tcp_lines =
                                    "hostssl all all 127.0.0.1/32 scram-sha-256\n"
                                    "hostssl replication all 127.0.0.1/32 scram-sha-256\n"
                                    "hostnossl all all 127.0.0.1/32 reject\n"
                                    "hostnossl replication all 127.0.0.1/32 reject"});
  pg.psql("create role app login replication password 'app-pw'");
  pg.psql("create database app owner app");
  pg.psql("create table items(id int primary key, note text)", "app");
  auto q = [](const fs::path& p) { return "\"" + p.string() + "\""; };
  ProxyProcess px(fmt::format(
      "pool_mode = \"transaction\"\nclient_tls_sslmode = \"require\"\nclient_tls_cert_file = "
      "{}\nclient_tls_key_file = {}\n[databases.app]\nhost = \"127.0.0.1\"\nport = {}\nsslmode "
      "= \"verify-ca\"\nsslrootcert = {}\n[users.app]\npassword = \"app-pw\"\n",
      q(certs.server_cert), q(certs.server_key), pg.port(), q(certs.ca_cert)));
  auto c =
      pq_connect(px.conninfo("app", "app-pw", "app") + " sslmode=require replication=database");
  // conninfo() says sslmode=disable first; the later one wins.
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  EXPECT_EQ(PQsslInUse(c.get()), 1);
  auto ssl = pq_exec(c.get(), "select ssl from pg_stat_ssl where pid = pg_backend_pid()");
  ASSERT_TRUE(ssl.ok) << ssl.message;
  EXPECT_EQ(ssl.value, "t");  // the walsender's own connection is TLS
  PGresult* r = PQexec(c.get(), "CREATE_REPLICATION_SLOT tls1 TEMPORARY LOGICAL test_decoding");
  ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQresultErrorMessage(r);
  PQclear(r);
  r = PQexec(c.get(), "START_REPLICATION SLOT tls1 LOGICAL 0/0");
  ASSERT_EQ(PQresultStatus(r), PGRES_COPY_BOTH) << PQresultErrorMessage(r);
  PQclear(r);
  pg.psql("insert into items values (7, 'over tls')", "app");
  std::string seen;
  const auto end = std::chrono::steady_clock::now() + 15s;
  while (seen.find("note[text]:'over tls'") == std::string::npos &&
         std::chrono::steady_clock::now() < end) {
    char* buf = nullptr;
    const int n = PQgetCopyData(c.get(), &buf, 1);
    if (n > 0 && buf[0] == 'w') seen.append(buf + 25, n - 25);
    if (buf) PQfreemem(buf);
    if (n < 0) break;
    if (n == 0) {
      std::this_thread::sleep_for(50ms);
      PQconsumeInput(c.get());
    }
  }
  EXPECT_NE(seen.find("table public.items: INSERT: id[integer]:7 note[text]:'over tls'"),
            std::string::npos)
      << seen;
}

// The server goes away without a word (its postmaster killed, as in a crash
// or a failover): the replication client gets FATAL 57P03 naming it, never a
// bare close, so it backs off and reconnects.
TEST(ReplicationServerGone, ClientGetsFatal57P03NotABareClose) {
  PgCluster pg(PgClusterOptions{.settings = {{"wal_level", "logical"}, {"max_wal_senders", "5"}}});
  pg.psql("create role app login replication password 'app-pw'");
  pg.psql("create database app owner app");
  ProxyProcess px(
      fmt::format("pool_mode = \"transaction\"\n[databases.app]\nhost = \"127.0.0.1\"\nport = "
                  "{}\n[users.app]\npassword = \"app-pw\"\n",
                  pg.port()));
  auto c = pq_connect(px.conninfo("app", "app-pw", "app") + " replication=database");
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  PGresult* r = PQexec(c.get(), "CREATE_REPLICATION_SLOT gone TEMPORARY LOGICAL test_decoding");
  ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQresultErrorMessage(r);
  PQclear(r);
  r = PQexec(c.get(), "START_REPLICATION SLOT gone LOGICAL 0/0");
  ASSERT_EQ(PQresultStatus(r), PGRES_COPY_BOTH) << PQresultErrorMessage(r);
  PQclear(r);
  pg.kill9();  // the walsender exits on its postmaster's death, saying nothing
  for (;;) {
    char* buf = nullptr;
    const int n = PQgetCopyData(c.get(), &buf, 0);
    if (buf) PQfreemem(buf);
    if (n < 0) break;
  }
  std::string sqlstate, message = PQerrorMessage(c.get());
  while (PGresult* res = PQgetResult(c.get())) {
    if (const char* st = PQresultErrorField(res, PG_DIAG_SQLSTATE)) sqlstate = st;
    message += PQresultErrorMessage(res);
    PQclear(res);
  }
  EXPECT_EQ(sqlstate, "57P03") << message;
  EXPECT_NE(message.find("the server closed the replication connection without a message"),
            std::string::npos)
      << message;
  auto ev = px.wait_event({{"event", "client.close"}, {"replication", "database"}});
  EXPECT_EQ(ev["cause"], "server_eof") << ev.dump();
  EXPECT_EQ(ev["initiator"], "server");
  EXPECT_EQ(ev["sqlstate"], "57P03");
  EXPECT_EQ(ev["client_impact"], "disconnected");
}
}  // namespace
}  // namespace pgw::test
