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

#include "support.hpp"

using namespace pgw::test;
using namespace std::chrono_literals;

namespace {
bool port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}
}  // namespace

TEST(PgbouncerLogs, RealPgbouncerCloseReasons) {
  if (run_command("command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer") != 0)
    GTEST_SKIP() << "no pgbouncer";
  PgCluster pg;
  TempDir dir;
  bool root = ::geteuid() == 0;
  if (root) run_command("chown postgres " + dir.path.string());
  int port = free_port();
  auto ini = dir.path / "pgbouncer.ini";
  {
    std::ofstream f(ini);
    f << "[databases]\nappdb = host=127.0.0.1 port=" << pg.port()
      << " dbname=postgres user=postgres password=" << pg.options().password << "\n"
      << "[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = " << port
      << "\nunix_socket_dir =\nauth_type = any\npool_mode = session\ndefault_pool_size = 1\n"
      << "max_client_conn = 20\nquery_wait_timeout = 1\nlog_connections = 1\n"
      << "log_disconnections = 1\nlogfile = " << (dir.path / "pgbouncer.log").string()
      << "\npidfile = " << (dir.path / "pgbouncer.pid").string() << "\n";
  }
  std::string bin =
      std::filesystem::exists("/usr/sbin/pgbouncer") ? "/usr/sbin/pgbouncer" : "pgbouncer";
  pid_t child = ::fork();
  if (child == 0) {
    int nul = ::open("/dev/null", O_RDWR);
    ::dup2(nul, 1);
    ::dup2(nul, 2);
    if (root)
      ::execlp("runuser", "runuser", "-u", "postgres", "--", bin.c_str(), ini.c_str(),
               static_cast<char*>(nullptr));
    else
      ::execl(bin.c_str(), bin.c_str(), ini.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_GT(child, 0);
  for (int i = 0; i < 200 && !port_open(port); ++i) std::this_thread::sleep_for(25ms);
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
  // stop pgbouncer by its own PID, then reap our child
  pid_t bouncer = 0;
  {
    std::ifstream pidf(dir.path / "pgbouncer.pid");
    pidf >> bouncer;
  }
  if (bouncer > 0) ::kill(bouncer, SIGTERM);
  if (!wait_process_gone(child, 10)) ::kill(child, SIGKILL);
  if (bouncer > 0 && !wait_process_gone(bouncer, 5)) ::kill(bouncer, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);

  std::string log = read_file(dir.path / "pgbouncer.log");
  SCOPED_TRACE(log);
  auto rep = report((dir.path / "pgbouncer.log").string());
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
