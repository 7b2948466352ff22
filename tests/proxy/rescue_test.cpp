// A server link lost under a client (transaction or session mode): the client
// keeps its connection. It gets an ERROR it can retry on — 08007 for a statement whose
// outcome is unknown, 08006 for a transaction block that died (then 25P02
// until its ROLLBACK, which pgwarden answers itself) — and its next
// transaction runs on another link. Produced for real: pg_terminate_backend,
// a SIGKILLed backend (the postmaster's crash restart), idle and mid-statement,
// simple and extended protocol. The oracle is the database itself: what was
// committed is exactly what the client was told was committed.
#include <fmt/format.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include "http_get.hpp"
#include "stack.hpp"

namespace pgw::test {
namespace {

using namespace std::chrono_literals;

class Rescue : public ProxyTest {
 protected:
  void SetUp() override {
    pg().psql(
        "drop table if exists rescue; create table rescue(id int); "
        "alter table rescue owner to app",
        "app");
  }
  int committed_rows() { return std::stoi(pg().psql("select count(*) from rescue", "app")); }
  // The pid of the backend running `like` for the proxy (by its query text).
  std::string backend_running(const std::string& like) {
    for (int i = 0; i < 100; ++i) {
      std::string pid =
          pg().psql("select pid from pg_stat_activity where datname = 'app' and query like '" +
                    like + "' and pid <> pg_backend_pid() limit 1");
      if (!pid.empty()) return pid;
      std::this_thread::sleep_for(50ms);
    }
    return {};
  }
  void terminate(const std::string& pid) {
    ASSERT_FALSE(pid.empty());
    pg().psql("select pg_terminate_backend(" + pid + ")");
  }
};

TEST_F(Rescue, IdleInTransactionTerminatedKeepsTheClientIn25P02UntilItsRollback) {
  start_proxy("");
  auto c = client("application_name=victim");
  ASSERT_TRUE(pq_exec(c.get(), "BEGIN").ok);
  ASSERT_TRUE(pq_exec(c.get(), "INSERT INTO rescue VALUES (1)").ok);
  terminate(pq_exec(c.get(), "SELECT pg_backend_pid()").value);
  auto server = proxy().wait_event({{"event", "server.close"}, {"sqlstate", "57P01"}});
  ASSERT_TRUE(server.is_object()) << proxy().stderr_text();
  EXPECT_EQ(server["cause"], "server_fatal");
  EXPECT_EQ(server["client_impact"], "error_returned");

  auto r = pq_exec(c.get(), "INSERT INTO rescue VALUES (2)");
  EXPECT_EQ(r.sqlstate, "08006") << r.message;
  EXPECT_NE(r.message.find("terminating connection due to administrator command"),
            std::string::npos)
      << r.message;
  EXPECT_NE(r.message.find("rolled back"), std::string::npos) << r.message;
  EXPECT_EQ(PQstatus(c.get()), CONNECTION_OK);
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_INERROR);
  r = pq_exec(c.get(), "SELECT 1");
  EXPECT_EQ(r.sqlstate, "25P02") << r.message;
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_INERROR);
  r = pq_exec(c.get(), "ROLLBACK");
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_IDLE);
  // The same client connection goes on, on another server link.
  EXPECT_EQ(pq_exec(c.get(), "SELECT 42").value, "42");
  EXPECT_EQ(committed_rows(), 0);
  for (auto& e : proxy().settled_events())
    EXPECT_FALSE(e["event"] == "client.close" && e.value("application_name", "") == "victim")
        << e.dump();
}

TEST_F(Rescue, ACommitOfALostTransactionFailsAndNeverLooksCommitted) {
  start_proxy("");
  auto c = client();
  ASSERT_TRUE(pq_exec(c.get(), "BEGIN").ok);
  ASSERT_TRUE(pq_exec(c.get(), "INSERT INTO rescue VALUES (1)").ok);
  terminate(pq_exec(c.get(), "SELECT pg_backend_pid()").value);
  ASSERT_TRUE(proxy().wait_event({{"event", "server.close"}, {"sqlstate", "57P01"}}).is_object());
  // Straight to COMMIT, not knowing: it fails and ends the block (as a
  // COMMIT that fails does on PostgreSQL).
  auto r = pq_exec(c.get(), "COMMIT");
  EXPECT_EQ(r.sqlstate, "08006") << r.message;
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_IDLE);
  EXPECT_EQ(committed_rows(), 0);
  EXPECT_EQ(pq_exec(c.get(), "SELECT 7").value, "7");

  // Having heard of the loss, a COMMIT ends the failed block with the tag
  // ROLLBACK, exactly as PostgreSQL answers it.
  ASSERT_TRUE(pq_exec(c.get(), "BEGIN").ok);
  const std::string pid = pq_exec(c.get(), "SELECT pg_backend_pid()").value;
  terminate(pid);
  ASSERT_TRUE(
      proxy().wait_event({{"event", "server.close"}, {"backend_pid", std::stoi(pid)}}).is_object());
  EXPECT_EQ(pq_exec(c.get(), "SELECT 1").sqlstate, "08006");
  PGresult* res = PQexec(c.get(), "COMMIT");
  EXPECT_EQ(PQresultStatus(res), PGRES_COMMAND_OK) << PQresultErrorMessage(res);
  EXPECT_STREQ(PQcmdStatus(res), "ROLLBACK");
  PQclear(res);
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_IDLE);
}

TEST_F(Rescue, AStatementRunningOnItsOwnHasAnUnknownOutcome08007) {
  const int admin = free_port();
  start_proxy(fmt::format("\n[admin]\nlisten = \"127.0.0.1:{}\"\n", admin));
  auto c = client();
  ASSERT_EQ(PQsendQuery(c.get(), "INSERT INTO rescue SELECT 1 FROM pg_sleep(30)"), 1);
  terminate(backend_running("INSERT INTO rescue SELECT 1 FROM pg_sleep%"));
  PGresult* res = PQgetResult(c.get());
  ASSERT_NE(res, nullptr);
  EXPECT_EQ(PQresultStatus(res), PGRES_FATAL_ERROR);  // libpq's name for any ERROR
  EXPECT_STREQ(PQresultErrorField(res, PG_DIAG_SQLSTATE), "08007");
  EXPECT_STREQ(PQresultErrorField(res, PG_DIAG_SEVERITY), "ERROR");
  PQclear(res);
  EXPECT_EQ(PQgetResult(c.get()), nullptr);
  EXPECT_EQ(PQstatus(c.get()), CONNECTION_OK);
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_IDLE);
  EXPECT_EQ(pq_exec(c.get(), "SELECT 3").value, "3");
  EXPECT_EQ(committed_rows(), 0);  // (it was killed before it could commit)
  // Counted by the SQLSTATE the client got.
  const std::string metrics = http_get(admin, "/metrics").body;
  EXPECT_EQ(metric_value(metrics, "pgwarden_errors_total{sqlstate=\"08007\",source=\"proxy\"}"),
            1.0)
      << metrics;
  EXPECT_FALSE(metric_value(metrics, "pgwarden_errors_total{sqlstate=\"08006\",source=\"proxy\"}"));
}

TEST_F(Rescue, AStatementInsideABlockLosesTheBlockWithExtendedProtocol) {
  start_proxy("");
  auto c = client();
  ASSERT_TRUE(pq_exec(c.get(), "BEGIN").ok);
  ASSERT_TRUE(pq_exec(c.get(), "INSERT INTO rescue VALUES (1)").ok);
  const char* params[] = {"30"};
  ASSERT_EQ(PQsendQueryParams(c.get(), "SELECT pg_sleep($1::int)", 1, nullptr, params, nullptr,
                              nullptr, 0),
            1);
  terminate(backend_running("SELECT pg_sleep($1::int)"));
  PGresult* res = PQgetResult(c.get());
  EXPECT_STREQ(PQresultErrorField(res, PG_DIAG_SQLSTATE), "08006") << PQresultErrorMessage(res);
  PQclear(res);
  while ((res = PQgetResult(c.get())) != nullptr) PQclear(res);
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_INERROR);
  // Extended protocol in the failed block: 25P02, then an extended ROLLBACK.
  res = PQexecParams(c.get(), "SELECT $1::int", 1, nullptr, params, nullptr, nullptr, 0);
  EXPECT_STREQ(PQresultErrorField(res, PG_DIAG_SQLSTATE), "25P02");
  PQclear(res);
  res = PQexecParams(c.get(), "ROLLBACK", 0, nullptr, nullptr, nullptr, nullptr, 0);
  EXPECT_EQ(PQresultStatus(res), PGRES_COMMAND_OK) << PQresultErrorMessage(res);
  PQclear(res);
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_IDLE);
  EXPECT_EQ(pq_exec(c.get(), "SELECT 4").value, "4");
  EXPECT_EQ(committed_rows(), 0);
}

TEST_F(Rescue, PreparedStatementsSurviveTheLoss) {
  start_proxy("");
  auto c = client();
  PGresult* res = PQprepare(c.get(), "ins", "INSERT INTO rescue VALUES ($1::int)", 1, nullptr);
  ASSERT_EQ(PQresultStatus(res), PGRES_COMMAND_OK);
  PQclear(res);
  ASSERT_TRUE(pq_exec(c.get(), "BEGIN").ok);
  const char* one[] = {"1"};
  res = PQexecPrepared(c.get(), "ins", 1, one, nullptr, nullptr, 0);
  ASSERT_EQ(PQresultStatus(res), PGRES_COMMAND_OK);
  PQclear(res);
  terminate(pq_exec(c.get(), "SELECT pg_backend_pid()").value);
  ASSERT_TRUE(proxy().wait_event({{"event", "server.close"}, {"sqlstate", "57P01"}}).is_object());
  res = PQexecPrepared(c.get(), "ins", 1, one, nullptr, nullptr, 0);
  EXPECT_STREQ(PQresultErrorField(res, PG_DIAG_SQLSTATE), "08006");
  PQclear(res);
  ASSERT_TRUE(pq_exec(c.get(), "ROLLBACK").ok);
  // Retried as the error says: the statement is re-prepared on the new link.
  ASSERT_TRUE(pq_exec(c.get(), "BEGIN").ok);
  const char* two[] = {"2"};
  res = PQexecPrepared(c.get(), "ins", 1, two, nullptr, nullptr, 0);
  EXPECT_EQ(PQresultStatus(res), PGRES_COMMAND_OK) << PQresultErrorMessage(res);
  PQclear(res);
  ASSERT_TRUE(pq_exec(c.get(), "COMMIT").ok);
  EXPECT_EQ(pg().psql("select string_agg(id::text, ',') from rescue", "app"), "2");
}

TEST_F(Rescue, ABackendCrashRestartFailsTheBlockAndTheClientGoesOn) {
  start_proxy("");
  auto victim = client();
  auto bystander = client();
  ASSERT_TRUE(pq_exec(bystander.get(), "BEGIN").ok);
  ASSERT_TRUE(pq_exec(bystander.get(), "INSERT INTO rescue VALUES (1)").ok);
  ASSERT_TRUE(pq_exec(victim.get(), "BEGIN").ok);
  const std::string pid = pq_exec(victim.get(), "SELECT pg_backend_pid()").value;
  // SIGKILL (the OOM killer's signature): the postmaster ends every other
  // session with WARNING 57P02 and restarts. (The test server commits
  // asynchronously: a checkpoint first, so the crash keeps the table.)
  pg().psql("checkpoint");
  ASSERT_EQ(::kill(std::stoi(pid), SIGKILL), 0);
  auto warned = proxy().wait_event({{"event", "server.close"}, {"sqlstate", "57P02"}});
  ASSERT_TRUE(warned.is_object()) << proxy().stderr_text();
  EXPECT_EQ(warned["cause"], "server_crash");
  EXPECT_EQ(warned["client_impact"], "error_returned");
  wait_server_ready();
  auto r = pq_exec(bystander.get(), "INSERT INTO rescue VALUES (2)");
  EXPECT_EQ(r.sqlstate, "08006") << r.message;
  EXPECT_NE(r.message.find("crash of another server process"), std::string::npos) << r.message;
  EXPECT_TRUE(pq_exec(bystander.get(), "ROLLBACK").ok);
  EXPECT_EQ(pq_exec(bystander.get(), "SELECT 5").value, "5");
  r = pq_exec(victim.get(), "SELECT 1");
  EXPECT_EQ(r.sqlstate, "08006") << r.message;
  EXPECT_TRUE(pq_exec(victim.get(), "ROLLBACK").ok);
  EXPECT_EQ(pq_exec(victim.get(), "SELECT 6").value, "6");
  EXPECT_EQ(committed_rows(), 0);
}

TEST_F(Rescue, ASessionModeClientKeepsItsSettingsAndStatementsOnANewLink) {
  start_proxy("", "session");
  auto c = client("application_name=sess");
  ASSERT_TRUE(pq_exec(c.get(), "SET work_mem = '7MB'").ok);
  PGresult* res = PQprepare(c.get(), "ins", "INSERT INTO rescue VALUES ($1::int)", 1, nullptr);
  ASSERT_EQ(PQresultStatus(res), PGRES_COMMAND_OK);
  PQclear(res);
  const std::string first = pq_exec(c.get(), "SELECT pg_backend_pid()").value;
  terminate(first);
  auto server = proxy().wait_event({{"event", "server.close"}, {"sqlstate", "57P01"}});
  ASSERT_TRUE(server.is_object()) << proxy().stderr_text();
  EXPECT_EQ(server["client_impact"], "rescued");

  // Nothing was running: the client does not notice, on a new backend that
  // has its settings and its statement.
  const char* one[] = {"1"};
  res = PQexecPrepared(c.get(), "ins", 1, one, nullptr, nullptr, 0);
  EXPECT_EQ(PQresultStatus(res), PGRES_COMMAND_OK) << PQresultErrorMessage(res);
  PQclear(res);
  const std::string second = pq_exec(c.get(), "SELECT pg_backend_pid()").value;
  EXPECT_NE(second, first);
  EXPECT_EQ(pq_exec(c.get(), "SHOW work_mem").value, "7MB");
  EXPECT_EQ(pq_exec(c.get(), "SHOW application_name").value, "sess");
  EXPECT_EQ(committed_rows(), 1);
  for (auto& e : proxy().settled_events())
    EXPECT_FALSE(e["event"] == "client.close" && e.value("application_name", "") == "sess")
        << e.dump();
}

TEST_F(Rescue, ASessionModeBlockLostIsFailedAndTheClientGoesOn) {
  start_proxy("", "session");
  auto c = client();
  ASSERT_TRUE(pq_exec(c.get(), "BEGIN").ok);
  ASSERT_TRUE(pq_exec(c.get(), "INSERT INTO rescue VALUES (1)").ok);
  terminate(pq_exec(c.get(), "SELECT pg_backend_pid()").value);
  ASSERT_TRUE(proxy().wait_event({{"event", "server.close"}, {"sqlstate", "57P01"}}).is_object());
  auto r = pq_exec(c.get(), "INSERT INTO rescue VALUES (2)");
  EXPECT_EQ(r.sqlstate, "08006") << r.message;
  EXPECT_EQ(pq_exec(c.get(), "SELECT 1").sqlstate, "25P02");
  EXPECT_TRUE(pq_exec(c.get(), "ROLLBACK").ok);
  ASSERT_TRUE(pq_exec(c.get(), "INSERT INTO rescue VALUES (3)").ok);
  EXPECT_EQ(pg().psql("select string_agg(id::text, ',') from rescue", "app"), "3");
}

TEST_F(Rescue, ClientsHoldingStateNoOtherLinkCanHoldLoseTheirConnection) {
  // A temporary table (transaction mode pins the client to its link) or
  // LISTEN (session mode) cannot be rebuilt elsewhere: the client is told
  // with the server's FATAL, as PostgreSQL would tell it, even when idle.
  start_proxy("");
  auto pinned = client();
  ASSERT_TRUE(pq_exec(pinned.get(), "CREATE TEMP TABLE t(x int)").ok);
  terminate(pq_exec(pinned.get(), "SELECT pg_backend_pid()").value);
  auto server = proxy().wait_event({{"event", "server.close"}, {"sqlstate", "57P01"}});
  ASSERT_TRUE(server.is_object()) << proxy().stderr_text();
  EXPECT_EQ(server["client_impact"], "disconnected");
  auto r = pq_exec(pinned.get(), "SELECT count(*) FROM t");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("terminating connection due to administrator command"),
            std::string::npos)
      << r.message;
  EXPECT_NE(PQstatus(pinned.get()), CONNECTION_OK);
}

TEST_F(Rescue, ASessionModeListenerLosesItsConnection) {
  start_proxy("", "session");
  auto listener = client();
  ASSERT_TRUE(pq_exec(listener.get(), "LISTEN news").ok);
  terminate(pq_exec(listener.get(), "SELECT pg_backend_pid()").value);
  auto r = pq_exec(listener.get(), "SELECT 1");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(PQstatus(listener.get()), CONNECTION_OK);
}

}  // namespace
}  // namespace pgw::test
