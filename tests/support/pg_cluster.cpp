#include "pg_cluster.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace pgw::test {
namespace fs = std::filesystem;

fs::path pg_bin_dir() {
  if (const char* env = std::getenv("PGWARDEN_PG_BIN")) return env;
  for (const char* d : {"/usr/lib/postgresql/15/bin", "/usr/local/pgsql/bin"}) {
    if (fs::exists(fs::path(d) / "postgres")) return d;
  }
  throw std::runtime_error("PostgreSQL 15 binaries not found; run scripts/install-deps.sh");
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("free_port: bind failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

int run_command(const std::string& cmd, std::string* out) {
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) {
    if (out) out->append(buf.data(), n);
  }
  int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool process_alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  return !(close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z');
}

bool wait_process_gone(pid_t pid, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (process_alive(pid)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

namespace {
// postgres refuses to run as root: run its tools as the "postgres" OS user
// when we are root (CI and the quick start run as root).
std::string as_pg_user(const std::string& cmd) {
  if (::geteuid() != 0) return cmd;
  return "runuser -u postgres -- " + cmd;
}
std::string fmt_hex(const char* prefix, size_t key) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016zx", key);
  return prefix + std::string(buf);
}
std::string shell_quote(const std::string& s) {
  std::string r = "'";
  for (char c : s) {
    if (c == '\'')
      r += "'\\''";
    else
      r += c;
  }
  return r + "'";
}
}  // namespace

namespace {
// initdb into `dir`/data (which must not exist), owned by the server's user.
void run_initdb(const fs::path& dir, const PgClusterOptions& opts) {
  if (::geteuid() == 0) run_command("chown postgres:postgres " + shell_quote(dir.string()));
  fs::path pwfile = dir / "pw";
  { std::ofstream(pwfile) << opts.password << "\n"; }
  if (::geteuid() == 0) run_command("chown postgres:postgres " + shell_quote(pwfile.string()));
  std::string out;
  std::string cmd = as_pg_user((pg_bin_dir() / "initdb").string() + " -D " +
                               shell_quote((dir / "data").string()) + " -U " + opts.superuser +
                               " --pwfile=" + shell_quote(pwfile.string()) + " -A " +
                               opts.auth_method + " --no-sync -E UTF8 --locale=C 2>&1");
  const int status = run_command(cmd, &out);
  fs::remove(pwfile);
  if (status != 0) throw std::runtime_error("initdb failed: " + out);
}

// A freshly initdb'd data directory for these options, made once per build
// tree: initdb costs seconds of CPU, a copy a fraction of one, and hundreds
// of tests start a server. Made under a lock (ctest runs tests in parallel)
// and published by rename, so a reader never sees half of one.
fs::path initdb_template(const PgClusterOptions& opts) {
  const fs::path cache = PGWARDEN_TEST_CACHE_DIR;
  fs::create_directories(cache);
  const size_t key = std::hash<std::string>{}(pg_bin_dir().string() + '\0' + opts.superuser + '\0' +
                                              opts.password + '\0' + opts.auth_method);
  const fs::path done = cache / fmt_hex("initdb-", key);
  if (fs::exists(done / "data" / "PG_VERSION")) return done / "data";
  const fs::path lock_path = cache / fmt_hex("initdb-lock-", key);
  const int lock = ::open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (lock < 0) throw std::runtime_error("cannot open " + lock_path.string());
  ::flock(lock, LOCK_EX);
  try {
    if (!fs::exists(done / "data" / "PG_VERSION")) {
      const fs::path building = cache / fmt_hex("initdb-building-", key);
      fs::remove_all(building);
      fs::create_directories(building);
      run_initdb(building, opts);
      fs::rename(building, done);
    }
  } catch (...) {
    ::close(lock);  // (closing releases the lock)
    throw;
  }
  ::close(lock);
  return done / "data";
}
}  // namespace

PgCluster::PgCluster(PgClusterOptions opts) : opts_(std::move(opts)) {
  char tmpl[] = "/tmp/pgwarden-pg-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  data_dir_ = dir_ / "data";
  if (::geteuid() == 0) run_command("chown postgres:postgres " + shell_quote(dir_.string()));
  // cp -a keeps the owner and the 0700 mode the server insists on.
  std::string out;
  if (run_command("cp -a " + shell_quote(initdb_template(opts_).string()) + " " +
                      shell_quote(data_dir_.string()) + " 2>&1",
                  &out) != 0)
    throw std::runtime_error("copying the initdb template failed: " + out);
  port_ = free_port();
  {
    std::ofstream conf(data_dir_ / "postgresql.conf", std::ios::app);
    conf << "listen_addresses = '127.0.0.1'\n"
         << "port = " << port_ << "\n"
         << "unix_socket_directories = '" << dir_.string() << "'\n"
         << "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n";
    if (opts_.log_to_file) {
      conf << "logging_collector = off\n";
    }
    for (auto& [k, v] : opts_.settings) conf << k << " = " << v << "\n";
    if (!opts_.ssl_cert.empty()) {
      // The server reads them as its own user; keys must not be readable by others.
      auto install = [&](const fs::path& from, const char* name) {
        fs::copy_file(from, data_dir_ / name, fs::copy_options::overwrite_existing);
        fs::permissions(data_dir_ / name, fs::perms::owner_read | fs::perms::owner_write);
        if (::geteuid() == 0)
          run_command("chown postgres:postgres " + shell_quote((data_dir_ / name).string()));
      };
      install(opts_.ssl_cert, "server.crt");
      install(opts_.ssl_key, "server.key");
      conf << "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n";
      if (!opts_.ssl_ca.empty()) {
        install(opts_.ssl_ca, "root.crt");
        conf << "ssl_ca_file = 'root.crt'\n";
      }
    }
  }
  {
    std::ofstream hba(data_dir_ / "pg_hba.conf");
    hba << "local all all trust\n";
    if (!opts_.hba_tcp_lines.empty())
      hba << opts_.hba_tcp_lines << "\n";
    else
      hba << "host all all 127.0.0.1/32 " << opts_.auth_method << "\n"
          << "host replication all 127.0.0.1/32 " << opts_.auth_method << "\n";
  }
  start();
}

PgCluster::~PgCluster() {
  try {
    if (running()) stop("immediate");
  } catch (...) {
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void PgCluster::start() {
  std::string log = opts_.log_to_file ? log_path().string() : "/dev/null";
  // pg_ctl -w waits for the server to accept connections.
  std::string cmd =
      as_pg_user((pg_bin_dir() / "pg_ctl").string() + " -D " + shell_quote(data_dir_.string()) +
                 " -l " + shell_quote(log) + " -w -t 60 start 2>&1");
  std::string out;
  if (run_command(cmd, &out) != 0) throw std::runtime_error("pg_ctl start failed: " + out);
  std::ifstream pidf(data_dir_ / "postmaster.pid");
  pidf >> pid_;
}

void PgCluster::stop(const std::string& mode) {
  std::string cmd =
      as_pg_user((pg_bin_dir() / "pg_ctl").string() + " -D " + shell_quote(data_dir_.string()) +
                 " -m " + mode + " -w -t 60 stop 2>&1");
  std::string out;
  run_command(cmd, &out);
  if (!wait_process_gone(pid_, 30)) ::kill(pid_, SIGKILL);
  pid_ = 0;
}

void PgCluster::restart(const std::string& mode) {
  const pid_t old = pid_;
  std::string log = opts_.log_to_file ? log_path().string() : "/dev/null";
  std::string cmd =
      as_pg_user((pg_bin_dir() / "pg_ctl").string() + " -D " + shell_quote(data_dir_.string()) +
                 " -l " + shell_quote(log) + " -m " + mode + " -w -t 60 restart 2>&1");
  std::string out;
  if (run_command(cmd, &out) != 0) throw std::runtime_error("pg_ctl restart failed: " + out);
  wait_process_gone(old, 30);
  std::ifstream pidf(data_dir_ / "postmaster.pid");
  pidf >> pid_;
}

void PgCluster::kill9() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    // The backends notice the postmaster is gone and exit; give them a moment
    // and clean up the pid file so start() works again.
    wait_process_gone(pid_, 5);
    pid_ = 0;
  }
}

void PgCluster::base_backup_from(const PgCluster& primary) {
  std::error_code ec;
  fs::remove_all(data_dir_, ec);
  std::string out;
  std::string cmd =
      as_pg_user("env PGPASSWORD=" + shell_quote(primary.opts_.password) + " " +
                 (pg_bin_dir() / "pg_basebackup").string() + " -D " +
                 shell_quote(data_dir_.string()) + " -R -X stream -c fast -h 127.0.0.1 -p " +
                 std::to_string(primary.port_) + " -U " + primary.opts_.superuser + " 2>&1");
  if (run_command(cmd, &out) != 0) throw std::runtime_error("pg_basebackup failed: " + out);
  // The copied postgresql.conf names the primary's port and socket directory:
  // later lines win.
  std::ofstream conf(data_dir_ / "postgresql.conf", std::ios::app);
  conf << "port = " << port_ << "\n"
       << "unix_socket_directories = '" << dir_.string() << "'\n"
       << "hot_standby = on\n";
}

std::unique_ptr<PgCluster> PgCluster::standby_of(const PgCluster& primary) {
  std::unique_ptr<PgCluster> c(new PgCluster(Empty{}));
  c->opts_ = primary.opts_;
  char tmpl[] = "/tmp/pgwarden-pg-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  c->dir_ = tmpl;
  c->data_dir_ = c->dir_ / "data";
  if (::geteuid() == 0) run_command("chown postgres:postgres " + shell_quote(c->dir_.string()));
  c->port_ = free_port();
  c->base_backup_from(primary);
  c->start();
  return c;
}

void PgCluster::promote() {
  std::string out;
  std::string cmd = as_pg_user((pg_bin_dir() / "pg_ctl").string() + " -D " +
                               shell_quote(data_dir_.string()) + " -w -t 60 promote 2>&1");
  if (run_command(cmd, &out) != 0) throw std::runtime_error("pg_ctl promote failed: " + out);
}

void PgCluster::rebuild_as_standby_of(const PgCluster& primary) {
  if (running()) stop("fast");
  base_backup_from(primary);
  start();
}

bool PgCluster::in_recovery() const {
  return psql("select pg_is_in_recovery()") == "t";
}

bool PgCluster::running() const {
  return pid_ > 0 && ::kill(pid_, 0) == 0;
}

std::string PgCluster::conninfo(const std::string& db) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=" + opts_.superuser +
         " password=" + opts_.password + " dbname=" + db;
}

std::string PgCluster::url(const std::string& db) const {
  return "postgres://" + opts_.superuser + ":" + opts_.password +
         "@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

std::string PgCluster::psql(const std::string& sql, const std::string& db) const {
  std::string out;
  std::string cmd = "PGPASSWORD=" + shell_quote(opts_.password) +
                    " psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p " +
                    std::to_string(port_) + " -U " + opts_.superuser + " -d " + db + " -c " +
                    shell_quote(sql) + " 2>&1";
  if (run_command(cmd, &out) != 0) throw std::runtime_error("psql failed: " + out);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace pgw::test
