#pragma once
// The plain values the audit rules work on, and what they produce. Nothing
// here talks to a server or reads a file: rules are pure functions of these.
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace pgw::audit {

enum class Severity { info = 0, warning = 1, error = 2 };
const char* to_string(Severity s);
std::optional<Severity> parse_severity(std::string_view s);

// Where a finding comes from when it is about a file (an env file, a config).
struct Location {
  std::string file;
  int line = 0;  // 0 = the file as a whole
};

struct Finding {
  std::string rule;  // stable id, documented in docs/audit.md
  Severity severity = Severity::warning;
  std::string setting;   // the server setting, env var or config key it is about
  std::string value;     // the value read, as text
  std::string evidence;  // the values read that led to the finding
  std::string fix;       // the exact setting and value to change
  std::optional<Location> location;
};

// Thrown for malformed inputs; the message is "FILE:LINE:COL: what is wrong".
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---- server ---------------------------------------------------------------

struct Setting {
  std::string value;  // pg_settings.setting
  std::string unit;   // pg_settings.unit ("8kB", "kB", "MB", "ms", "s", "min", "")
};

struct Backend {
  int pid = 0;
  std::string application_name;
  std::string usename;
  std::string backend_type;  // "client backend", "walsender", "autovacuum worker", ...
  std::string state;         // "active", "idle", "idle in transaction", ... ("" when hidden)
  double xact_age_s = -1;    // now() - xact_start, -1 when none
  double state_age_s = -1;   // now() - state_change
  double query_age_s = -1;   // now() - query_start
};

struct DatabaseStats {
  std::string datname;
  long long sessions = 0, abandoned = 0, fatal = 0, killed = 0;
};

struct Slot {
  std::string name, type, wal_status;  // wal_status: reserved, extended, unreserved, lost
  bool active = false;
  long long retained_bytes = -1;  // -1 unknown
};

// ALTER ROLE / ALTER DATABASE ... SET, from pg_db_role_setting ("" = any role / database).
struct RoleSetting {
  std::string role, database, name, value;
};

struct ServerSnapshot {
  int version_num = 0;  // server_version_num
  std::map<std::string, Setting> settings;
  std::vector<Backend> backends;  // every backend but the audit's own
  int peak_client_backends = -1;  // max over samples; -1 = one sample only
  std::vector<DatabaseStats> databases;
  std::vector<Slot> slots;
  std::vector<std::string> extensions;  // in the database audited
  std::vector<RoleSetting> role_settings;
  std::map<std::string, int> database_limits;  // datconnlimit, only when >= 0
  std::map<std::string, int> role_limits;      // rolconnlimit of login roles, only when >= 0
  // Login roles that may open a replication connection (superuser, REPLICATION, rds_replication).
  std::map<std::string, bool> can_replicate;
  bool can_read_all_stats = true;        // superuser or pg_read_all_stats
  bool ssl_in_use = false;               // the audit's own connection
  std::string host;                      // as connected, for messages
  std::optional<uint64_t> detected_ram;  // /proc/meminfo MemTotal read through the server

  const Setting* get(const std::string& name) const;
  std::optional<long long> integer(const std::string& name) const;
  // Memory settings in bytes (handles units 8kB, kB, MB, B; -1 stays -1).
  std::optional<long long> bytes(const std::string& name) const;
  // Time settings in milliseconds (handles units ms, s, min; 0 and -1 stay as they are).
  std::optional<long long> millis(const std::string& name) const;
  std::optional<std::string> text(const std::string& name) const;
  // A time setting (unit ms) as a session of `role` in `database` gets it:
  // ALTER ROLE ... IN DATABASE, then ALTER ROLE, then ALTER DATABASE, then the server's.
  std::optional<long long> millis_for(const std::string& name, const std::string& role,
                                      const std::string& database) const;
  // Roles / databases that override the setting, as "role@db" labels ("" when none).
  std::string overridden_by(const std::string& name) const;
};

// ---- applications -----------------------------------------------------------

enum class Driver { unknown, node_postgres, postgres_js, zero };
const char* to_string(Driver d);

struct ConnUrl {
  std::string var;   // env var it came from
  std::string user;  // "" when not in the URL
  std::string raw_redacted;
  std::string host;  // first host; "" for a Unix socket
  int port = 5432;
  std::string dbname;
  std::string sslmode;                        // "" when not given
  std::map<std::string, std::string> params;  // other query parameters
  int line = 0;
};

// Pool settings of one application, in the driver's own terms. Unset values
// are empty optionals; the rules apply the driver's real defaults.
struct PoolSettings {
  std::optional<int> max;
  std::optional<long long>
      idle_timeout_ms;  // pg idleTimeoutMillis / postgres.js idle_timeout (0 = never)
  std::optional<long long>
      connection_timeout_ms;  // pg connectionTimeoutMillis / postgres.js connect_timeout
  std::optional<long long> max_lifetime_ms;  // pg maxLifetimeSeconds / postgres.js max_lifetime
  std::optional<bool> keep_alive;            // pg keepAlive / postgres.js keep_alive != false
  std::optional<long long>
      keep_alive_delay_ms;           // pg keepAliveInitialDelayMillis / postgres.js keep_alive
  std::optional<bool> prepare;       // postgres.js prepare
  std::map<std::string, int> lines;  // option -> line it was set on
};

struct ZeroSettings {
  int upstream_max = 20, cvr_max = 30, change_max = 5;
  std::optional<int> num_sync_workers;
  std::optional<ConnUrl> upstream, cvr, change;
  std::map<std::string, int> lines;
};

struct AppConfig {
  std::string file;
  std::string name;  // file name without directories
  int instances = 1;
  Driver driver = Driver::unknown;
  bool driver_declared = false;
  std::vector<ConnUrl> urls;  // every postgres URL found
  PoolSettings pool;
  ZeroSettings zero;
  struct Ignored {
    std::string var, value, why;
    int line = 0;
  };
  std::vector<Ignored> ignored;  // env vars that look like settings but have no effect
};

// ---- proxy -------------------------------------------------------------------
// The subset of pgwarden's proxy config the audit reads (filled from pgw::ProxyConfig).
struct ProxyPool {
  std::string database;
  std::string host;
  int port = 5432;
  int server_connections = 0;      // most server connections this database can open
  std::string how;                 // how that number was computed
  std::string mode;                // session | transaction
  std::string server_dbname;       // the database on the server
  std::vector<std::string> users;  // server roles its pools log in as
  int per_user = 0;                // server connections one user's pool can open
};

struct ProxySettings {
  std::string file;
  std::vector<std::pair<std::string, int>> listen;  // host, port
  int max_client_conn = 0;
  std::string pool_mode;
  int max_prepared_statements = 0;
  std::vector<ProxyPool> pools;
  long long client_idle_ms = 0, server_idle_ms = 0, server_lifetime_ms = 0, idle_transaction_ms = 0,
            query_ms = 0;
  bool keepalive = true;
  int keepalive_idle_s = 0, keepalive_interval_s = 0, keepalive_count = 0;
  long long user_timeout_ms = 0;
};

// ---- options -------------------------------------------------------------------

enum class Target { postgres, aurora };

struct AuditOptions {
  Target target = Target::postgres;
  std::optional<uint64_t> ram_bytes;          // --ram; else detected; else unknown
  std::optional<std::string> instance_class;  // --instance-class (Aurora)
  long long idle_cut_s = 350;                 // middlebox idle cut (AWS NAT/NLB 350 s, Azure 240 s)
  std::string idle_cut_name = "aws";
  double long_query_s = 300;          // active for longer than this: long-running
  double idle_in_transaction_s = 60;  // idle in transaction for longer than this
  bool zero = false;                  // --zero: audit Zero's needs without a Zero env file
};

}  // namespace pgw::audit
