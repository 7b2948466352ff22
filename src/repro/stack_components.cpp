#include "pgwarden/repro/stack_components.hpp"

#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <set>

#include "pgwarden/repro/process.hpp"

namespace pgw::repro {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Ports are picked one after another; the kernel may hand out one twice
// before anything binds it, so each pick is checked against the others.
int pick_port(const StackState& s) {
  std::set<int> taken;
  for (const auto& c : s.components) {
    for (const auto& [name, port] : c.ports) taken.insert(port);
  }
  for (int i = 0; i < 50; ++i) {
    const int p = free_loopback_port();
    if (!taken.count(p)) return p;
  }
  throw std::runtime_error("no free loopback port");
}

StackComponent& add_component(StackState& s, const std::string& name) {
  StackComponent c;
  c.name = name;
  c.dir = s.dir / name;
  c.log = c.dir / (name + ".log");
  fs::create_directories(c.dir);
  s.components.push_back(c);
  return s.components.back();
}

// Spawns, records the PID, and waits for every port of the component.
void spawn_and_wait(StackState& s, StackComponent& c, const std::vector<std::string>& argv,
                    const StateChanged& changed) {
  try {
    c.pid = spawn_detached(argv, c.log);
  } catch (const std::exception& e) {
    throw ComponentError(c.name, e.what(), c.log);
  }
  changed(s);
  std::vector<int> ports;
  for (const auto& [name, port] : c.ports) ports.push_back(port);
  if (!wait_ports_ready(c.pid, ports, 20s)) {
    throw ComponentError(
        c.name,
        process_alive(c.pid) ? "did not accept connections within 20 s" : "exited during startup",
        c.log);
  }
}

std::string toml_string(const std::string& s) {
  std::string r = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') r += '\\';
    r += ch;
  }
  return r + "\"";
}

// pg_ctl start -w as the postgres OS user; records the postmaster's PID.
void start_pg_server(StackState& s, StackComponent& c, const StackTools& tools,
                     const StateChanged& changed) {
  std::string out;
  const std::string start = as_postgres_user((tools.pg_bin / "pg_ctl").string() + " -D " +
                                             shell_quote(c.data_dir.string()) + " -l " +
                                             shell_quote(c.log.string()) + " -w -t 60 start 2>&1");
  const int start_status = run_shell(start, &out);
  {
    std::ifstream pidf(c.data_dir / "postmaster.pid");
    pidf >> c.pid;
  }
  changed(s);
  if (start_status != 0) throw ComponentError(c.name, "pg_ctl start failed: " + out, c.log);
}

// The postgres OS user must be able to write the component's directory.
void give_to_postgres_user(const StackComponent& c) {
  chown_to_postgres(c.dir);
  if (::geteuid() == 0 &&
      run_shell("runuser -u postgres -- test -w " + shell_quote(c.dir.string())) != 0)
    throw ComponentError(c.name,
                         "the postgres OS user cannot write " + c.dir.string() +
                             " (a parent directory is not searchable by it); choose another "
                             "--dir, e.g. under /tmp",
                         c.log);
}

}  // namespace

StackTools find_stack_tools() {
  StackTools t;
  const char* env = std::getenv("PGWARDEN_PG_BIN");
  t.pg_bin = env ? env : "/usr/lib/postgresql/15/bin";
  if (!fs::exists(t.pg_bin / "initdb"))
    throw ComponentError("postgres",
                         t.pg_bin.string() +
                             "/initdb not found: install postgresql-15 (scripts/install-deps.sh) "
                             "or set PGWARDEN_PG_BIN",
                         {});
  t.redis_server = "/usr/bin/redis-server";
  if (!fs::exists(t.redis_server))
    throw ComponentError("redis", "/usr/bin/redis-server not found: install redis-server", {});
  std::error_code ec;
  t.pgwarden = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw ComponentError("proxy", "cannot find the pgwarden binary: " + ec.message(), {});
  return t;
}

void start_postgres(StackState& s, const StackTools& tools, const StateChanged& changed) {
  StackComponent& c = add_component(s, "postgres");
  c.data_dir = c.dir / "data";
  c.stop_signal = SIGINT;  // fast shutdown: open sessions are ended, not waited for
  const int port = pick_port(s);
  c.ports["postgres"] = port;
  auto fail = [&](const std::string& why) { throw ComponentError("postgres", why, c.log); };

  give_to_postgres_user(c);  // initdb runs as that user when we are root
  const fs::path pwfile = c.dir / "superuser.pw";
  { std::ofstream(pwfile) << s.superuser_password << "\n"; }
  chown_to_postgres(pwfile);
  std::string out;
  const std::string initdb = as_postgres_user(
      (tools.pg_bin / "initdb").string() + " -D " + shell_quote(c.data_dir.string()) + " -U " +
      s.superuser + " --pwfile=" + shell_quote(pwfile.string()) +
      " --auth-local=trust --auth-host=scram-sha-256 --no-sync -E UTF8 "
      "--locale=C 2>&1");
  const int initdb_status = run_shell(initdb, &out);
  fs::remove(pwfile);
  if (initdb_status != 0) {
    { std::ofstream(c.log, std::ios::app) << out; }
    fail("initdb failed");
  }
  {
    std::ofstream conf(c.data_dir / "postgresql.conf", std::ios::app);
    conf << "\n# pgwarden stack\n"
         << "listen_addresses = '127.0.0.1'\n"
         << "port = " << port << "\n"
         << "unix_socket_directories = '" << c.dir.string() << "'\n"
         << "fsync = off\n"
         << "synchronous_commit = off\n"
         << "log_connections = on\n"
         << "log_disconnections = on\n"
         << "log_line_prefix = '%m [%p] %e %q%u@%d/%a %r '\n"
         << "wal_level = replica\n"
         << "max_wal_senders = 4\n";
  }
  start_pg_server(s, c, tools, changed);

  out.clear();
  const std::string create = as_postgres_user(
      (tools.pg_bin / "psql").string() + " -X -q -v ON_ERROR_STOP=1 -h " +
      shell_quote(c.dir.string()) + " -p " + std::to_string(port) + " -U " + s.superuser +
      " -d postgres -c " +
      shell_quote(fmt::format("create role {} login password '{}'", s.user, s.password)) + " -c " +
      shell_quote(fmt::format("create database {} owner {}", s.database, s.user)) + " 2>&1");
  if (run_shell(create, &out) != 0) fail("creating the app role and database failed: " + out);
}

void start_standby(StackState& s, const StackTools& tools, const StateChanged& changed) {
  const int primary_port = s.port("postgres", "postgres");
  StackComponent& c = add_component(s, "standby");
  c.data_dir = c.dir / "data";
  c.stop_signal = SIGINT;
  const int port = pick_port(s);
  c.ports["postgres"] = port;
  give_to_postgres_user(c);
  // -R writes standby.signal and primary_conninfo; -X stream copies the WAL it needs.
  std::string out;
  const std::string backup =
      as_postgres_user("env PGPASSWORD=" + shell_quote(s.superuser_password) + " " +
                       (tools.pg_bin / "pg_basebackup").string() + " -D " +
                       shell_quote(c.data_dir.string()) + " -R -X stream -c fast -h 127.0.0.1 -p " +
                       std::to_string(primary_port) + " -U " + s.superuser + " 2>&1");
  if (run_shell(backup, &out) != 0) {
    { std::ofstream(c.log, std::ios::app) << out; }
    throw ComponentError(c.name, "pg_basebackup failed", c.log);
  }
  {
    // The copy names the primary's port and socket directory: later lines win.
    std::ofstream conf(c.data_dir / "postgresql.conf", std::ios::app);
    conf << "\n# pgwarden stack: the standby\n"
         << "port = " << port << "\n"
         << "unix_socket_directories = '" << c.dir.string() << "'\n"
         << "hot_standby = on\n";
  }
  start_pg_server(s, c, tools, changed);
}

void start_redis(StackState& s, const StackTools& tools, const StateChanged& changed) {
  StackComponent& c = add_component(s, "redis");
  const int port = pick_port(s);
  c.ports["redis"] = port;
  spawn_and_wait(s, c,
                 {tools.redis_server.string(), "--bind", "127.0.0.1", "--port",
                  std::to_string(port), "--save", "", "--appendonly", "no", "--dir", c.dir.string(),
                  "--daemonize", "no", "--protected-mode", "yes"},
                 changed);
}

void start_proxy(StackState& s, const StackTools& tools, const StateChanged& changed) {
  const int pg_port = s.port("postgres", "postgres");
  StackComponent& c = add_component(s, "proxy");
  c.stop_signal = SIGINT;  // SIGTERM would drain, waiting for clients to leave
  const int port = pick_port(s);
  c.ports["postgres"] = port;
  const int admin = pick_port(s);
  c.ports["admin"] = admin;
  const fs::path config = c.dir / "pgwarden.toml";
  {
    std::ofstream conf(config);
    conf << "# written by pgwarden stack up\n"
         << "[proxy]\nlisten = [\"127.0.0.1:" << port << "\"]\n"
         << "pool_mode = \"transaction\"\n\n"
         << "[databases." << s.database << "]\nhost = \"127.0.0.1\"\nport = " << pg_port << "\n\n"
         << "[users." << s.user << "]\npassword = " << toml_string(s.password) << "\n\n"
         << "[admin]\nlisten = \"127.0.0.1:" << admin << "\"\nadmin_users = [\"" << s.user
         << "\"]\n";
  }
  spawn_and_wait(s, c,
                 {tools.pgwarden.string(), "proxy", "--config", config.string(), "--events",
                  "file:" + (c.dir / "events.jsonl").string()},
                 changed);
}

void start_faults(StackState& s, const StackTools& tools, const StateChanged& changed) {
  const int proxy_port = s.port("proxy", "postgres");
  const int redis_port = s.port("redis", "redis");
  StackComponent& c = add_component(s, "faults");
  const int api = pick_port(s);
  c.ports["api"] = api;
  const int pg_relay = pick_port(s);
  c.ports["pg"] = pg_relay;
  const int redis_relay = pick_port(s);
  c.ports["redis"] = redis_relay;
  const fs::path config = c.dir / "faults.toml";
  {
    std::ofstream conf(config);
    conf << "# written by pgwarden stack up\n"
         << "[faults]\napi = \"127.0.0.1:" << api << "\"\n\n"
         << "[[proxies]]\nname = \"pg\"\nlisten = \"127.0.0.1:" << pg_relay
         << "\"\nupstream = \"127.0.0.1:" << proxy_port << "\"\n\n"
         << "[[proxies]]\nname = \"redis\"\nlisten = \"127.0.0.1:" << redis_relay
         << "\"\nupstream = \"127.0.0.1:" << redis_port << "\"\n";
  }
  spawn_and_wait(s, c,
                 {tools.pgwarden.string(), "faults", "--config", config.string(), "--events",
                  "file:" + (c.dir / "events.jsonl").string()},
                 changed);
}

}  // namespace pgw::repro
