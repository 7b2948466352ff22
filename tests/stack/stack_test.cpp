// `pgwarden stack`: up, status's env lines used by real clients, down leaves
// no process and no port behind, and a second down is harmless.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "http_get.hpp"
#include "pg_cluster.hpp"

using namespace pgw::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string bin() {
  const char* b = std::getenv("PGWARDEN_BIN");
  return b ? b : "pgwarden";
}

struct CommandResult {
  int status = -1;
  std::string out;
};

CommandResult pgwarden(const std::string& args) {
  CommandResult r;
  r.status = run_command(bin() + " " + args + " 2>&1", &r.out);
  return r;
}

CommandResult pgwarden_env(const std::string& env, const std::string& args) {
  CommandResult r;
  r.status = run_command("env " + env + " " + bin() + " " + args + " 2>&1", &r.out);
  return r;
}

// A throwaway state directory; whatever the test leaves running is killed by
// the PIDs in its state file, even when an assertion failed midway.
struct StackDir {
  fs::path path;
  StackDir() {
    char tmpl[] = "/tmp/pgwarden-stack-test-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
    ::chmod(tmpl, 0755);  // the postgres OS user must reach it when we are root
  }
  ~StackDir() {
    for (pid_t pid : pids()) {
      if (process_alive(pid)) ::kill(pid, SIGKILL);
    }
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  json state() const {
    std::ifstream in(path / "stack.json");
    if (!in) return json::object();
    return json::parse(in, nullptr, false);
  }
  std::vector<pid_t> pids() const {
    std::vector<pid_t> out;
    const json s = state();
    if (s.is_object() && s.contains("components")) {
      for (const auto& c : s["components"]) out.push_back(c.value("pid", 0));
    }
    return out;
  }
  std::vector<int> ports() const {
    std::vector<int> out;
    const json s = state();
    if (s.is_object() && s.contains("components")) {
      for (const auto& c : s["components"]) {
        for (const auto& [name, port] : c["ports"].items()) out.push_back(port.get<int>());
      }
    }
    return out;
  }
  std::string arg() const { return "--dir " + path.string(); }
};

std::map<std::string, std::string> env_lines(const std::string& text) {
  std::map<std::string, std::string> env;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find('=');
    if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

int url_port(const std::string& url) {
  const auto colon = url.rfind(':');
  return std::atoi(url.c_str() + colon + 1);  // stops at the '/' of a path
}

bool port_accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string query_one(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  std::string value;
  if (PQstatus(conn) != CONNECTION_OK) {
    value = std::string("connect failed: ") + PQerrorMessage(conn);
  } else {
    PGresult* r = PQexec(conn, sql.c_str());
    value = PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0)
                                                 : std::string("error: ") + PQerrorMessage(conn);
    PQclear(r);
  }
  PQfinish(conn);
  return value;
}

// A raw RESP PING; the reply's first line.
std::string redis_ping(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string ping = "*1\r\n$4\r\nPING\r\n";
    if (::write(fd, ping.data(), ping.size()) == static_cast<ssize_t>(ping.size())) {
      char buf[64];
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) reply.assign(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return reply;
}

TEST(Stack, UpStatusDownLeavesNothingBehind) {
  StackDir dir;
  const CommandResult up = pgwarden("stack up " + dir.arg());
  ASSERT_EQ(up.status, 0) << up.out;

  const CommandResult again = pgwarden("stack up " + dir.arg());
  EXPECT_NE(again.status, 0);
  EXPECT_NE(again.out.find("already up"), std::string::npos) << again.out;

  const CommandResult status = pgwarden("stack status " + dir.arg());
  ASSERT_EQ(status.status, 0) << status.out;
  auto env = env_lines(status.out);
  for (const char* key : {"DATABASE_URL", "DATABASE_URL_PROXY", "DATABASE_URL_DIRECT", "REDIS_URL",
                          "REDIS_URL_DIRECT", "PGWARDEN_ADMIN_URL", "PGWARDEN_FAULTS_URL"}) {
    ASSERT_TRUE(env.count(key)) << key << " missing in:\n" << status.out;
  }
  EXPECT_EQ(query_one(env["DATABASE_URL"], "select 40 + 2"), "42");
  EXPECT_EQ(query_one(env["DATABASE_URL_DIRECT"], "select current_user"), "app");
  EXPECT_EQ(query_one(env["DATABASE_URL_DIRECT"], "show log_connections"), "on");
  EXPECT_EQ(redis_ping(url_port(env["REDIS_URL"])).rfind("+PONG", 0), 0u);
  const HttpReply version = http_get(url_port(env["PGWARDEN_FAULTS_URL"]), "/version");
  EXPECT_EQ(version.status, 200);
  EXPECT_NE(version.body.find("\"version\""), std::string::npos) << version.body;
  const HttpReply proxies = http_get(url_port(env["PGWARDEN_FAULTS_URL"]), "/proxies");
  EXPECT_NE(proxies.body.find("\"redis\""), std::string::npos) << proxies.body;
  EXPECT_EQ(http_get(url_port(env["PGWARDEN_ADMIN_URL"]), "/metrics").status, 200);

  const auto pids = dir.pids();
  const auto ports = dir.ports();
  ASSERT_EQ(pids.size(), 4u);
  ASSERT_EQ(ports.size(), 7u);

  const CommandResult down = pgwarden("stack down " + dir.arg());
  EXPECT_EQ(down.status, 0) << down.out;
  for (pid_t pid : pids) EXPECT_FALSE(process_alive(pid)) << "pid " << pid;
  for (int port : ports) EXPECT_FALSE(port_accepts(port)) << "port " << port;
  EXPECT_FALSE(fs::exists(dir.path / "stack.json"));
  EXPECT_FALSE(fs::exists(dir.path / "postgres"));

  const CommandResult down_again = pgwarden("stack down " + dir.arg());
  EXPECT_EQ(down_again.status, 0) << down_again.out;

  const CommandResult status_after = pgwarden("stack status " + dir.arg());
  EXPECT_NE(status_after.status, 0) << status_after.out;
}

TEST(Stack, StandbyStreamsFromThePrimary) {
  StackDir dir;
  const CommandResult up = pgwarden("stack up --standby " + dir.arg());
  ASSERT_EQ(up.status, 0) << up.out;
  const CommandResult status = pgwarden("stack status " + dir.arg());
  ASSERT_EQ(status.status, 0) << status.out;
  auto env = env_lines(status.out);
  ASSERT_TRUE(env.count("DATABASE_URL_STANDBY")) << status.out;
  EXPECT_EQ(query_one(env["DATABASE_URL_STANDBY"], "select pg_is_in_recovery()"), "t");
  // A row written on the primary reaches the standby.
  EXPECT_EQ(query_one(env["DATABASE_URL_DIRECT"],
                      "create table streamed as select 7 as v; select count(*) from streamed"),
            "1");
  std::string seen;
  for (int i = 0; i < 100 && seen != "7"; ++i) {
    seen = query_one(env["DATABASE_URL_STANDBY"], "select v from streamed");
    if (seen != "7") ::usleep(100000);
  }
  EXPECT_EQ(seen, "7");
  const auto pids = dir.pids();
  ASSERT_EQ(pids.size(), 5u);
  const CommandResult down = pgwarden("stack down " + dir.arg());
  EXPECT_EQ(down.status, 0) << down.out;
  for (pid_t pid : pids) EXPECT_FALSE(process_alive(pid)) << "pid " << pid;
}

TEST(Stack, UpNamesTheComponentThatFailed) {
  StackDir dir;
  const CommandResult up = pgwarden_env("PGWARDEN_PG_BIN=/nonexistent", "stack up " + dir.arg());
  EXPECT_EQ(up.status, 1);
  EXPECT_NE(up.out.find("pgwarden stack up: postgres failed: /nonexistent/initdb not found"),
            std::string::npos)
      << up.out;
  EXPECT_FALSE(fs::exists(dir.path / "stack.json"));
}

TEST(Stack, StatusWithoutAStackSaysSo) {
  const std::string missing = "/tmp/pgwarden-stack-test-missing-" + std::to_string(::getpid());
  const CommandResult status = pgwarden("stack status --dir " + missing);
  EXPECT_NE(status.status, 0);
  EXPECT_NE(status.out.find("no stack in " + missing), std::string::npos) << status.out;
  EXPECT_FALSE(fs::exists(missing));
}

}  // namespace
