#pragma once
// A throwaway PostgreSQL 15 server for tests: initdb in a temp dir, a free
// port on 127.0.0.1, started with the settings a test asks for, and stopped
// (by PID) and removed when the object goes away.
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pgw::test {

// Directory holding initdb/postgres/pg_ctl for PostgreSQL 15.
std::filesystem::path pg_bin_dir();
// A TCP port on 127.0.0.1 that nobody listens on right now.
int free_port();
// Runs a shell command, returns its exit status; output captured into *out.
int run_command(const std::string& cmd, std::string* out = nullptr);
// True while the process exists and is not a zombie.
bool process_alive(pid_t pid);
// Waits up to `seconds` for the process to be gone; returns whether it is.
bool wait_process_gone(pid_t pid, double seconds);

struct PgClusterOptions {
  std::map<std::string, std::string> settings;  // extra postgresql.conf lines
  std::string superuser = "postgres";
  std::string password = "postgres-pw";       // SCRAM-SHA-256 (PG15 default)
  std::string auth_method = "scram-sha-256";  // pg_hba method for TCP
  bool log_to_file = true;                    // server log at log_path()
  // TLS: these PEM files are copied into the data directory and `ssl = on`;
  // empty = no TLS. `ssl_ca` makes the server ask for client certificates.
  std::filesystem::path ssl_cert, ssl_key, ssl_ca;
  // Replaces the TCP lines of pg_hba.conf when set ("hostssl all all
  // 127.0.0.1/32 scram-sha-256\nhostnossl all all 127.0.0.1/32 reject").
  std::string hba_tcp_lines;
};

class PgCluster {
 public:
  explicit PgCluster(PgClusterOptions opts = {});
  // A streaming standby of `primary`: pg_basebackup -R into a new temp dir,
  // its own free port, started (in recovery). Same superuser and password.
  static std::unique_ptr<PgCluster> standby_of(const PgCluster& primary);
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  std::filesystem::path log_path() const { return dir_ / "server.log"; }
  const PgClusterOptions& options() const { return opts_; }

  // "host=127.0.0.1 port=N user=postgres password=... dbname=postgres"
  std::string conninfo(const std::string& db = "postgres") const;
  std::string url(const std::string& db = "postgres") const;
  // Runs SQL with psql as the superuser; returns psql's stdout (unaligned, tuples only).
  std::string psql(const std::string& sql, const std::string& db = "postgres") const;

  void start();
  // mode: "fast", "smart" or "immediate".
  void stop(const std::string& mode = "fast");
  // pg_ctl restart: stops with `mode` ("fast" disconnects every session with
  // FATAL 57P01) and starts again on the same port and data directory.
  void restart(const std::string& mode = "fast");
  void kill9();
  bool running() const;
  // pg_ctl promote -w: a standby becomes a primary (returns once it is).
  void promote();
  // Stops this server if it runs, replaces its data directory with a fresh
  // pg_basebackup -R of `primary` and starts it again on the same port, as a
  // standby (how an old primary rejoins after a failover, without pg_rewind).
  void rebuild_as_standby_of(const PgCluster& primary);
  // pg_is_in_recovery() as psql sees it.
  bool in_recovery() const;

 private:
  struct Empty {};
  explicit PgCluster(Empty) {}
  void base_backup_from(const PgCluster& primary);
  PgClusterOptions opts_;
  std::filesystem::path dir_, data_dir_;
  int port_ = 0;
  pid_t pid_ = 0;
};

}  // namespace pgw::test
