// Integration: a real PgBouncer in front of a real PostgreSQL 15 logs its close
// reasons (query_wait_timeout, a server connection that died, client closes);
// `pgwarden logs` detects the format and classifies them.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "pgbouncer_process.hpp"
#include "support.hpp"

using namespace pgw::test;
using namespace std::chrono_literals;

TEST(PgbouncerLogs, RealPgbouncerCloseReasons) {
  if (!PgBouncerProcess::available()) GTEST_SKIP() << "no pgbouncer";
  PgCluster pg;
  PgBouncerProcess bouncer("appdb = host=127.0.0.1 port=" + std::to_string(pg.port()) +
                               " dbname=postgres user=postgres password=" + pg.options().password,
                           "auth_type = any\npool_mode = session\ndefault_pool_size = 1\n"
                           "max_client_conn = 20\nquery_wait_timeout = 1\nlog_connections = 1\n"
                           "log_disconnections = 1\n");
  const int port = bouncer.port();
  std::string conn = "host=127.0.0.1 port=" + std::to_string(port) +
                     " dbname=appdb user=someone connect_timeout=10";
  {
    PGconn* a = PQconnectdb(conn.c_str());
    EXPECT_EQ(PQstatus(a), CONNECTION_OK) << PQerrorMessage(a);
    PQclear(PQexec(a, "select 1"));  // a holds the only server connection (session mode)
    PGconn* b = PQconnectdb(conn.c_str());
    PGresult* r = PQexec(b, "select 1");  // waits for a server, then query_wait_timeout
    EXPECT_NE(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    PQfinish(b);
    // the server side of a's link dies
    pg.psql(
        "select pg_terminate_backend(pid) from pg_stat_activity where backend_type = 'client "
        "backend' and pid <> pg_backend_pid()");
    std::this_thread::sleep_for(200ms);
    r = PQexec(a, "select 1");
    PQclear(r);
    PQfinish(a);
    PGconn* c = PQconnectdb(conn.c_str());
    PQclear(PQexec(c, "select 1"));
    PQfinish(c);  // a normal close
  }
  std::this_thread::sleep_for(300ms);
  bouncer.stop();  // its log is complete now
  std::string log = read_file(bouncer.dir() / "pgbouncer.log");
  SCOPED_TRACE(log);
  auto rep = report((bouncer.dir() / "pgbouncer.log").string());
  ASSERT_TRUE(rep.contains("classes")) << rep.dump();
  EXPECT_EQ(rep["inputs"][0]["format"], "pgbouncer");
  EXPECT_EQ(class_count(rep, "pgbouncer.query_wait_timeout"), 1u);
  EXPECT_GE(class_count(rep, "pgbouncer.server_conn_crashed") +
                class_count(rep, "pgbouncer.server_connection_closed"),
            1u);
  EXPECT_GE(class_count(rep, "pgbouncer.client_close_request"), 1u);
  EXPECT_GE(class_count(rep, "pgbouncer.login_attempt"), 3u);
  EXPECT_EQ(class_count(rep, "pgbouncer.other_close"), 0u) << rep["classes"].dump();
}
