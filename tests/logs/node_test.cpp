// Integration: real node-postgres, postgres.js and ioredis clients whose
// servers go away; their error output is captured and classified, alone and
// together with the PostgreSQL server log on one timeline.
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
// Runs a capture script with node (CommonJS, resolved through NODE_PATH);
// stdout and stderr both go to `out`.
int run_node(const std::string& script, const std::string& env, const std::filesystem::path& out) {
  std::string dir = source_dir();
  std::string cmd = "cd " + dir + "/tests/logs/node && NODE_PATH=" + dir +
                    "/tests/node/node_modules " + env + " timeout 60 node " + script + " > " +
                    out.string() + " 2>&1";
  return run_command(cmd);
}

bool wait_ready(const PgCluster& pg, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (PQping(pg.conninfo().c_str()) == PQPING_OK) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

bool port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}
}  // namespace

TEST(NodeCaptures, NodePostgresAndPostgresJsWithServerLog) {
  PgCluster pg({.settings = {{"log_connections", "on"}, {"log_disconnections", "on"}}});
  TempDir tmp;
  std::string env = "PG_URL='" + pg.url() + "' CLOSED_PORT=" + std::to_string(free_port());
  auto pg_log = tmp.path / "api-pg.log";
  auto pgjs_log = tmp.path / "api-postgresjs.log";
  EXPECT_EQ(run_node("pg_drop.cjs", env, pg_log), 0) << read_file(pg_log);
  ASSERT_TRUE(wait_ready(pg, 30));
  EXPECT_EQ(run_node("postgres_drop.cjs", env, pgjs_log), 0) << read_file(pgjs_log);
  ASSERT_TRUE(wait_ready(pg, 30));
  std::this_thread::sleep_for(200ms);
  auto server_log = tmp.path / "server.log";
  std::filesystem::copy_file(pg.log_path(), server_log);

  {
    SCOPED_TRACE(read_file(pg_log));
    auto rep = report(pg_log.string());
    ASSERT_TRUE(rep.contains("classes")) << rep.dump();
    EXPECT_EQ(rep["inputs"][0]["format"], "json-lines");
    EXPECT_GE(class_count(rep, "app.server.admin_shutdown"), 1u);
    EXPECT_GE(class_count(rep, "app.pg.connection_terminated_unexpectedly"), 2u);
    EXPECT_EQ(class_count(rep, "app.pg.pool_checkout_timeout"), 1u);
    EXPECT_GE(class_count(rep, "app.net.econnrefused"), 1u);
    EXPECT_GE(class_count(rep, "app.server.crash") +
                  class_count(rep, "app.pg.client_not_queryable") +
                  class_count(rep, "app.pg.connection_terminated_unexpectedly"),
              3u);
  }
  {
    SCOPED_TRACE(read_file(pgjs_log));
    auto rep = report(pgjs_log.string());
    ASSERT_TRUE(rep.contains("classes")) << rep.dump();
    // postgres.js reports a terminated backend (57P01) and a killed one alike:
    // CONNECTION_CLOSED; only the server log tells them apart.
    EXPECT_EQ(class_count(rep, "app.postgresjs.connection_closed"), 2u);
    EXPECT_EQ(class_count(rep, "app.postgresjs.connection_ended"), 1u);
    EXPECT_EQ(class_count(rep, "app.postgresjs.connection_destroyed"), 1u);
    EXPECT_GE(class_count(rep, "app.net.econnrefused"), 1u);
  }
  // All sources on one timeline: each kill -9 is an incident seen by the server and the app.
  auto rep = report("--incident-gap 2 " + server_log.string() + " " + pg_log.string() + " " +
                    pgjs_log.string());
  ASSERT_TRUE(rep.contains("classes")) << rep.dump();
  EXPECT_EQ(rep["inputs"].size(), 3u);
  EXPECT_EQ(class_count(rep, "pg.backend_killed_sigkill"), 2u);
  EXPECT_EQ(class_count(rep, "pg.admin_terminate"), 3u);
  EXPECT_EQ(dim_count(rep, "application", "node-pg-killed", "pg.backend_killed_sigkill"), 1u);
  EXPECT_EQ(dim_count(rep, "application", "node-postgresjs-killed", "pg.backend_killed_sigkill"),
            1u);
  int crash_incidents = 0;
  for (const auto& in : rep["incidents"]) {
    bool server = false, app = false;
    for (const auto& st : in["steps"]) {
      if (st["class"] == "pg.backend_killed_sigkill") server = true;
      if (st["source"] == "node-postgres" || st["source"] == "postgres.js" || st["source"] == "app")
        app = true;
    }
    if (server && app) ++crash_incidents;
  }
  EXPECT_GE(crash_incidents, 1) << rep["incidents"].dump(1);
}

TEST(NodeCaptures, IoredisWithKilledRedisServer) {
  if (run_command("command -v redis-server >/dev/null") != 0) GTEST_SKIP() << "no redis-server";
  int port = free_port();
  pid_t redis = ::fork();
  if (redis == 0) {
    int nul = ::open("/dev/null", O_RDWR);
    ::dup2(nul, 1);
    ::dup2(nul, 2);
    std::string p = std::to_string(port);
    ::execlp("redis-server", "redis-server", "--port", p.c_str(), "--bind", "127.0.0.1", "--save",
             "", "--appendonly", "no", "--daemonize", "no", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_GT(redis, 0);
  for (int i = 0; i < 200 && !port_open(port); ++i) std::this_thread::sleep_for(25ms);
  TempDir tmp;
  auto log = tmp.path / "worker.log";
  int rc =
      run_node("ioredis_drop.cjs",
               "REDIS_PORT=" + std::to_string(port) + " REDIS_PID=" + std::to_string(redis), log);
  // The script kills the server; make sure it is gone and reaped either way.
  ::kill(redis, SIGKILL);
  int status = 0;
  ::waitpid(redis, &status, 0);
  EXPECT_EQ(rc, 0) << read_file(log);
  SCOPED_TRACE(read_file(log));
  auto rep = report(log.string());
  ASSERT_TRUE(rep.contains("classes")) << rep.dump();
  EXPECT_GE(class_count(rep, "app.redis.connection_closed"), 1u);
  EXPECT_GE(class_count(rep, "app.redis.ioredis_unhandled_error"), 1u);
  EXPECT_GE(class_count(rep, "app.net.econnrefused") + class_count(rep, "app.redis.max_retries"),
            1u);
}
