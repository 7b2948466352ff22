#include "pgwarden/audit/rules.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <set>

#include "pgwarden/audit/inputs.hpp"

namespace pgw::audit {

// ---- model helpers -------------------------------------------------------------

const char* to_string(Severity s) {
  switch (s) {
    case Severity::info:
      return "info";
    case Severity::warning:
      return "warning";
    case Severity::error:
      return "error";
  }
  return "?";
}

std::optional<Severity> parse_severity(std::string_view s) {
  if (s == "info") return Severity::info;
  if (s == "warning") return Severity::warning;
  if (s == "error") return Severity::error;
  return std::nullopt;
}

const char* to_string(Driver d) {
  switch (d) {
    case Driver::unknown:
      return "unknown";
    case Driver::node_postgres:
      return "pg";
    case Driver::postgres_js:
      return "postgres";
    case Driver::zero:
      return "zero";
  }
  return "?";
}

const Setting* ServerSnapshot::get(const std::string& name) const {
  auto it = settings.find(name);
  return it == settings.end() ? nullptr : &it->second;
}

std::optional<std::string> ServerSnapshot::text(const std::string& name) const {
  if (auto* s = get(name)) return s->value;
  return std::nullopt;
}

std::optional<long long> ServerSnapshot::integer(const std::string& name) const {
  auto* s = get(name);
  if (!s) return std::nullopt;
  long long v = 0;
  auto [p, ec] = std::from_chars(s->value.data(), s->value.data() + s->value.size(), v);
  if (ec != std::errc{}) return std::nullopt;
  (void)p;
  return v;
}

std::optional<long long> ServerSnapshot::bytes(const std::string& name) const {
  auto v = integer(name);
  auto* s = get(name);
  if (!v || !s) return std::nullopt;
  if (*v < 0) return v;
  const std::string& u = s->unit;
  long long f = 1;
  if (u == "8kB")
    f = 8192;
  else if (u == "kB")
    f = 1024;
  else if (u == "MB")
    f = 1024 * 1024;
  else if (u == "16MB")
    f = 16LL * 1024 * 1024;
  return *v * f;
}

std::optional<long long> ServerSnapshot::millis(const std::string& name) const {
  auto v = integer(name);
  auto* s = get(name);
  if (!v || !s) return std::nullopt;
  if (*v <= 0) return v;
  if (s->unit == "s") return *v * 1000;
  if (s->unit == "min") return *v * 60'000;
  return v;
}

namespace {
// A GUC time value as ALTER ROLE stores it: "30s", "1min", "500" (bare = ms for these settings).
std::optional<long long> guc_millis(const std::string& v) {
  long long n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc{}) return std::nullopt;
  std::string unit(p, v.data() + v.size());
  while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  if (unit.empty() || unit == "ms") return n;
  if (unit == "s") return n * 1000;
  if (unit == "min") return n * 60'000;
  if (unit == "h") return n * 3'600'000;
  if (unit == "d") return n * 86'400'000;
  return std::nullopt;
}
}  // namespace

std::optional<long long> ServerSnapshot::millis_for(const std::string& name,
                                                    const std::string& role,
                                                    const std::string& database) const {
  const RoleSetting* best = nullptr;
  int best_rank = 0;
  for (auto& r : role_settings) {
    if (r.name != name) continue;
    int rank = 0;
    if (!r.role.empty() && r.role == role && !r.database.empty() && r.database == database)
      rank = 3;
    else if (!r.role.empty() && r.role == role && r.database.empty())
      rank = 2;
    else if (r.role.empty() && !r.database.empty() && r.database == database)
      rank = 1;
    if (rank > best_rank) {
      best_rank = rank;
      best = &r;
    }
  }
  if (best)
    if (auto v = guc_millis(best->value)) return v;
  return millis(name);
}

std::string ServerSnapshot::overridden_by(const std::string& name) const {
  std::vector<std::string> who;
  for (auto& r : role_settings)
    if (r.name == name)
      who.push_back(fmt::format("{}@{} = {}", r.role.empty() ? "*" : r.role,
                                r.database.empty() ? "*" : r.database, r.value));
  return fmt::format("{}", fmt::join(who, ", "));
}

// ---- catalogue -------------------------------------------------------------------

namespace {
constexpr const char* kPgDocs =
    "PostgreSQL 15 docs, runtime-config-connection / -resource / -logging";
}

const std::vector<RuleInfo>& rule_catalogue() {
  static const std::vector<RuleInfo> rules = {
      {"audit.server-unreachable", Severity::error, "The server could not be reached",
       "libpq connection status"},
      {"audit.auth-failed", Severity::error, "The server refused the audit's credentials",
       "libpq connection status"},
      {"audit.limited-privileges", Severity::warning,
       "The audit role cannot see other roles' sessions", "PostgreSQL docs, pg_read_all_stats"},
      {"audit.query-failed", Severity::warning, "A read-only audit query failed",
       "the query's error"},
      {"conn.budget", Severity::error, "Pools that can connect exceed max_connections",
       "PostgreSQL docs (max_connections, superuser_reserved_connections); pool defaults in "
       "node-postgres pg-pool, postgres.js src/index.js, Zero zero-cache-config"},
      {"conn.reserved", Severity::warning, "No superuser-reserved connection slots",
       "PostgreSQL docs superuser_reserved_connections; postgresqltuner"},
      {"conn.usage", Severity::error, "Connection usage close to the limit",
       "pg_stat_activity; postgres_mixin PostgreSQLHighConnections (80 %)"},
      {"conn.database-limit", Severity::error, "Pools exceed a database's CONNECTION LIMIT",
       "PostgreSQL docs CREATE DATABASE"},
      {"conn.role-limit", Severity::error, "Pools exceed a role's CONNECTION LIMIT",
       "PostgreSQL docs CREATE ROLE"},
      {"conn.proxy-clients", Severity::error, "Apps behind the proxy exceed its max_client_conn",
       "pgwarden docs/configuration.md"},
      {"sess.idle-in-transaction", Severity::warning, "Sessions idle in transaction",
       "pg_stat_activity"},
      {"sess.long-running", Severity::warning, "Long-running statements", "pg_stat_activity"},
      {"stats.sessions-abandoned", Severity::warning,
       "Sessions ended by the client vanishing (no Terminate)", "pg_stat_database (PG14+)"},
      {"stats.sessions-fatal", Severity::info, "Sessions ended by a FATAL error",
       "pg_stat_database (PG14+)"},
      {"stats.sessions-killed", Severity::info, "Sessions terminated by an operator",
       "pg_stat_database (PG14+)"},
      {"mem.ram-unknown", Severity::info, "RAM unknown: memory rules skipped", "--ram"},
      {"mem.work-mem", Severity::warning, "work_mem x connections can exceed RAM",
       "postgresqltuner memory model; PGTune work_mem formula"},
      {"mem.shared-buffers", Severity::warning, "shared_buffers far from 25 % of RAM",
       "PGTune (RAM/4); postgresqltuner (> 40 % warns)"},
      {"mem.maintenance-work-mem", Severity::warning, "maintenance_work_mem above RAM/8",
       "PGTune (RAM/16, dw RAM/8)"},
      {"mem.effective-cache-size", Severity::warning, "effective_cache_size implausible",
       "PGTune (RAM x 3/4); postgresqltuner"},
      {"timeout.statement", Severity::info, "No statement_timeout", kPgDocs},
      {"timeout.idle-in-transaction", Severity::warning, "No idle_in_transaction_session_timeout",
       kPgDocs},
      {"timeout.idle-session", Severity::info, "idle_session_timeout closes pooled connections",
       kPgDocs},
      {"timeout.keepalives", Severity::warning,
       "Server TCP keepalive slower than the middlebox idle cut",
       "PostgreSQL docs tcp_keepalives_*; Linux ip-sysctl (7200 s); AWS NAT/NLB 350 s, Azure LB "
       "240 s"},
      {"timeout.tcp-user", Severity::info, "No tcp_user_timeout", kPgDocs},
      {"timeout.client-connection-check", Severity::info, "No client_connection_check_interval",
       kPgDocs},
      {"timeout.authentication", Severity::warning, "authentication_timeout above 1 min", kPgDocs},
      {"log.connections", Severity::warning, "log_connections is off", kPgDocs},
      {"log.disconnections", Severity::warning, "log_disconnections is off", kPgDocs},
      {"log.line-prefix", Severity::warning, "log_line_prefix lacks %a, %e or %p", kPgDocs},
      {"zero.wal-level", Severity::error, "Logical replication is off",
       "Zero docs connecting-to-postgres (wal_level=logical)"},
      {"zero.wal-senders", Severity::error, "Not enough free WAL senders for Zero",
       "PostgreSQL docs max_wal_senders; Zero replication stream"},
      {"zero.replication-slots", Severity::error, "Not enough free replication slots for Zero",
       "PostgreSQL docs max_replication_slots; rocicorp/mono PR #4124 (resync creates a new slot)"},
      {"zero.wal-sender-timeout", Severity::warning, "wal_sender_timeout disabled",
       "rocicorp/mono PR #6244, #6047"},
      {"zero.max-slot-wal-keep-size", Severity::warning,
       "max_slot_wal_keep_size trades disk for Zero resyncs",
       "PostgreSQL docs; rocicorp/mono PR #3464 / #4595"},
      {"slot.inactive", Severity::warning, "Inactive replication slot retains WAL",
       "pg_replication_slots; AWS Aurora logical replication docs"},
      {"slot.invalidated", Severity::error, "Replication slot invalidated (wal_status=lost)",
       "pg_replication_slots (PG13+)"},
      {"app.driver-unknown", Severity::info, "Pool settings unknown for an app",
       "docs/audit.md (env file conventions)"},
      {"app.sslmode", Severity::warning, "Connection string without a verifying sslmode",
       "libpq docs sslmode"},
      {"app.pg-connection-timeout", Severity::warning, "node-postgres pool checkout waits forever",
       "brianc/node-postgres packages/pg-pool/index.js"},
      {"app.keepalive", Severity::warning, "App connections have no keepalive below the idle cut",
       "node-postgres client.js (keepAlive false); Node.js net setKeepAlive; postgres.js "
       "keep_alive 60"},
      {"app.idle-vs-server", Severity::warning,
       "Pool keeps idle connections longer than the server's idle_session_timeout",
       "PostgreSQL docs idle_session_timeout; pool defaults"},
      {"app.prepare-through-pooler", Severity::warning,
       "Named prepared statements through a transaction pooler",
       "postgres.js prepare default true; Zero docs (26000 prepared statement does not exist)"},
      {"app.env-ignored", Severity::warning, "An env var that does not do what it says",
       "porsager/postgres src/index.js parseOptions"},
      {"zero.replication-role", Severity::error,
       "ZERO_UPSTREAM_DB's role cannot open a replication connection",
       "PostgreSQL docs (logical replication: REPLICATION attribute or superuser); AWS "
       "rds_replication"},
      {"zero.upstream-pooler", Severity::error, "ZERO_UPSTREAM_DB goes through a pooler",
       "Zero docs self-host.mdx (must be a direct connection)"},
      {"proxy.keepalive", Severity::warning, "Proxy keepalive off or slower than the idle cut",
       "pgwarden docs/configuration.md; AWS NAT/NLB 350 s, Azure LB 240 s"},
      {"proxy.server-idle", Severity::warning,
       "Proxy keeps server links idle longer than idle_session_timeout",
       "PostgreSQL docs idle_session_timeout"},
      {"proxy.client-idle", Severity::warning,
       "App pools keep connections idle longer than the proxy's client_idle_timeout",
       "pool defaults; pgwarden docs/configuration.md"},
      {"proxy.query-timeout", Severity::warning, "Proxy query_timeout not above statement_timeout",
       "PgBouncer docs query_timeout"},
      {"aurora.max-connections", Severity::error,
       "Aurora's default max_connections for the instance class",
       "AWS AuroraPostgreSQL.Managing: LEAST(DBInstanceClassMemory/9531392, 5000)"},
      {"aurora.logical-replication", Severity::error, "rds.logical_replication is off",
       "AWS AuroraPostgreSQL.Replication.Logical"},
      {"aurora.extensions", Severity::info, "Extensions to check against Aurora",
       "rds.extensions; AWS Aurora PostgreSQL extension list"},
      {"aurora.failover-slot", Severity::warning,
       "A writer failover can cost Zero its replication slot",
       "PostgreSQL docs (PG15 has no failover slots); Zero docs; unverified for Aurora"},
      {"aurora.endpoint", Severity::error, "App connects to the wrong Aurora endpoint",
       "AWS Aurora endpoints docs"},
      {"aurora.tls", Severity::warning, "App does not verify the Aurora server certificate",
       "libpq sslmode; AWS RDS SSL docs"},
      {"aurora.version", Severity::error, "Zero needs Aurora PostgreSQL 15.6+",
       "Zero docs connecting-to-postgres"},
  };
  return rules;
}

const RuleInfo* find_rule(const std::string& id) {
  for (auto& r : rule_catalogue())
    if (id == r.id) return &r;
  return nullptr;
}

namespace {

Finding make(const char* rule, Severity sev, std::string setting, std::string value,
             std::string evidence, std::string fix) {
  return Finding{
      rule,           sev,         std::move(setting), std::move(value), std::move(evidence),
      std::move(fix), std::nullopt};
}

std::string secs(long long ms) {
  if (ms < 0) return std::to_string(ms);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

bool is_local_host(const std::string& h) {
  return h.empty() || h.front() == '/' || h == "localhost" || h == "127.0.0.1" || h == "::1";
}

bool uses_zero(const Inputs& in) {
  if (in.options.zero) return true;
  for (auto& a : in.apps)
    if (a.driver == Driver::zero) return true;
  return false;
}

// Does this URL reach the server through pgwarden's proxy?
bool via_proxy(const ConnUrl& u, const ProxySettings* p) {
  if (!p) return false;
  for (auto& [host, port] : p->listen) {
    if (port != u.port) continue;
    if (host == u.host || host == "0.0.0.0" || host == "::" ||
        (is_local_host(host) && is_local_host(u.host)))
      return true;
  }
  return false;
}

struct PoolerGuess {
  bool pooler = false;
  bool transaction = false;
  bool supports_prepared = false;
  std::string why;
};

PoolerGuess guess_pooler(const ConnUrl& u, const ProxySettings* p) {
  PoolerGuess g;
  if (via_proxy(u, p)) {
    g.pooler = true;
    std::string mode = p->pool_mode;
    for (auto& pool : p->pools)
      if (pool.database == u.dbname) mode = pool.mode;
    g.transaction = mode == "transaction";
    g.supports_prepared = p->max_prepared_statements > 0;
    g.why = fmt::format("port {} is a listen port of the pgwarden proxy ({}; {} mode)", u.port,
                        p->file, mode);
    return g;
  }
  if (auto it = u.params.find("pgbouncer"); it != u.params.end() && it->second == "true") {
    g = {true, true, false, "the URL says pgbouncer=true"};
  } else if (u.port == 6543) {
    g = {true, true, false, "port 6543 is the Supabase/Supavisor transaction-mode pooler port"};
  } else if (u.port == 6432) {
    g = {true, false, false, "port 6432 is PgBouncer's default port"};
  } else if (u.host.find("pooler") != std::string::npos) {
    g = {true, false, false, fmt::format("host '{}' names a pooler", u.host)};
  }
  return g;
}

// What a driver does with the sslmode / ssl it is given.
enum class Tls { verified, unverified, maybe_plain, plain };
struct TlsVerdict {
  Tls tls;
  std::string why;
};

TlsVerdict tls_verdict(Driver d, const std::string& m) {
  if (m == "disable" || m == "false") return {Tls::plain, "sslmode=disable: plaintext"};
  if (d == Driver::node_postgres) {
    // pg-connection-string 2.x: prefer/require/verify-ca behave as verify-full (with a
    // deprecation warning); no-verify skips verification; no sslmode at all means no TLS.
    if (m.empty()) return {Tls::plain, "node-postgres uses no TLS at all without sslmode/ssl"};
    if (m == "no-verify")
      return {Tls::unverified, "sslmode=no-verify: the certificate is not checked"};
    if (m == "verify-full" || m == "true") return {Tls::verified, ""};
    return {Tls::verified,
            fmt::format("node-postgres treats sslmode={} as verify-full today but warns that it "
                        "will switch to libpq's meaning; write verify-full",
                        m)};
  }
  if (d == Driver::postgres_js) {
    // postgres.js src/connection.js: require/allow/prefer set rejectUnauthorized=false.
    if (m.empty()) return {Tls::plain, "postgres.js uses no TLS at all without ssl/sslmode"};
    if (m == "verify-full" || m == "true") return {Tls::verified, ""};
    if (m == "prefer" || m == "allow")
      return {Tls::maybe_plain,
              fmt::format("sslmode={} falls back to plaintext and does not verify "
                          "the certificate",
                          m)};
    return {Tls::unverified, fmt::format("sslmode={}: encrypted, certificate not verified", m)};
  }
  // libpq semantics (Zero defaults to prefer; Zero's no-verify skips verification).
  if (m == "verify-full" || m == "verify-ca") return {Tls::verified, ""};
  if (m.empty() || m == "prefer" || m == "allow")
    return {Tls::maybe_plain,
            fmt::format("sslmode {}: may silently run in plaintext and never verifies the "
                        "certificate",
                        m.empty() ? "not set (prefer)" : m)};
  return {Tls::unverified, fmt::format("sslmode={}: encrypted, certificate not verified", m)};
}

// Connections one app opens to the server directly (not through the proxy).
struct AppDemand {
  int per_instance = 0;
  std::string how;
};

AppDemand app_direct_demand(const AppConfig& a, const ProxySettings* p) {
  AppDemand d;
  if (a.driver == Driver::zero) {
    std::vector<std::string> parts;
    auto direct = [&](const std::optional<ConnUrl>& u) {
      const ConnUrl* url = u ? &*u : (a.zero.upstream ? &*a.zero.upstream : nullptr);
      return !url || !via_proxy(*url, p);
    };
    if (a.zero.upstream && !via_proxy(*a.zero.upstream, p)) {
      d.per_instance += a.zero.upstream_max + 1;
      parts.push_back(
          fmt::format("ZERO_UPSTREAM_MAX_CONNS {} + 1 replication", a.zero.upstream_max));
    } else if (!a.zero.upstream) {
      d.per_instance += a.zero.upstream_max + 1;
      parts.push_back(
          fmt::format("ZERO_UPSTREAM_MAX_CONNS {} + 1 replication", a.zero.upstream_max));
    }
    if (direct(a.zero.cvr)) {
      d.per_instance += a.zero.cvr_max;
      parts.push_back(fmt::format("ZERO_CVR_MAX_CONNS {}", a.zero.cvr_max));
    }
    if (direct(a.zero.change)) {
      d.per_instance += a.zero.change_max;
      parts.push_back(fmt::format("ZERO_CHANGE_MAX_CONNS {}", a.zero.change_max));
    }
    d.how = parts.empty() ? "all through the proxy" : fmt::format("{}", fmt::join(parts, " + "));
    return d;
  }
  int pools = 0;
  for (auto& u : a.urls)
    if (!via_proxy(u, p)) ++pools;
  if (a.urls.empty()) pools = 1;  // PGHOST-style configuration: still one pool
  int max = a.pool.max.value_or(10);
  d.per_instance = pools * max;
  d.how = fmt::format("{} pool(s) x max {}{}", pools, max, a.pool.max ? "" : " (driver default)");
  return d;
}

int app_proxy_demand(const AppConfig& a, const ProxySettings* p) {
  if (a.driver == Driver::zero) {
    int n = 0;
    if (a.zero.upstream && via_proxy(*a.zero.upstream, p)) n += a.zero.upstream_max;
    auto cvr = a.zero.cvr ? &*a.zero.cvr : (a.zero.upstream ? &*a.zero.upstream : nullptr);
    auto chg = a.zero.change ? &*a.zero.change : (a.zero.upstream ? &*a.zero.upstream : nullptr);
    if (cvr && via_proxy(*cvr, p)) n += a.zero.cvr_max;
    if (chg && via_proxy(*chg, p)) n += a.zero.change_max;
    return n * a.instances;
  }
  int pools = 0;
  for (auto& u : a.urls)
    if (via_proxy(u, p)) ++pools;
  return pools * a.pool.max.value_or(10) * a.instances;
}

long long keepalive_idle_s(const ServerSnapshot& s) {
  long long v = s.integer("tcp_keepalives_idle").value_or(0);
  return v > 0 ? v : 7200;  // 0 = the OS default (Linux 7200 s)
}

bool server_keepalive_covers(const Inputs& in) {
  return in.server && keepalive_idle_s(*in.server) < in.options.idle_cut_s;
}

std::optional<uint64_t> ram_of(const Inputs& in) {
  if (in.options.ram_bytes) return in.options.ram_bytes;
  if (in.server && in.server->detected_ram) return in.server->detected_ram;
  return std::nullopt;
}

double pct(double a, double b) {
  return b > 0 ? 100.0 * a / b : 0;
}

}  // namespace

// ---- connections -------------------------------------------------------------------

int available_slots(const ServerSnapshot& s) {
  long long max = s.integer("max_connections").value_or(100);
  long long su = s.integer("superuser_reserved_connections").value_or(3);
  long long rc = s.integer("reserved_connections").value_or(0);
  return static_cast<int>(max - su - rc);
}

Demand server_demand(const Inputs& in) {
  Demand d;
  if (in.proxy) {
    for (auto& pool : in.proxy->pools) {
      d.total += pool.server_connections;
      d.parts.push_back(fmt::format("proxy database '{}': {} = {}", pool.database, pool.how,
                                    pool.server_connections));
    }
  }
  for (auto& a : in.apps) {
    AppDemand ad = app_direct_demand(a, in.proxy);
    if (ad.per_instance == 0) continue;
    int total = ad.per_instance * a.instances;
    d.total += total;
    d.parts.push_back(
        fmt::format("{}: {} x {} instance(s) = {}", a.name, ad.how, a.instances, total));
  }
  return d;
}

namespace {

// Connections per server database and per role, from every pool that reaches the server.
struct Tally {
  std::map<std::string, int> total;
  std::map<std::string, std::vector<std::string>> parts;
  void add(const std::string& key, int n, std::string what) {
    if (key.empty() || n <= 0) return;
    total[key] += n;
    parts[key].push_back(std::move(what));
  }
};

void tally_limits(const Inputs& in, Tally& dbs, Tally& roles) {
  if (in.proxy) {
    for (auto& p : in.proxy->pools) {
      dbs.add(p.server_dbname, p.server_connections,
              fmt::format("proxy database '{}': {}", p.database, p.server_connections));
      for (auto& u : p.users)
        roles.add(u, p.per_user, fmt::format("proxy database '{}': {}", p.database, p.per_user));
    }
  }
  for (auto& a : in.apps) {
    auto one_url = [&](const ConnUrl* u, int n, const char* what) {
      if (!u || via_proxy(*u, in.proxy)) return;
      int total = n * a.instances;
      std::string db = u->dbname.empty() ? u->user : u->dbname;  // libpq: dbname defaults to user
      std::string label = fmt::format("{} {}: {} x {} instance(s)", a.name, what, n, a.instances);
      dbs.add(db, total, label);
      roles.add(u->user, total, label);
    };
    if (a.driver == Driver::zero) {
      const ConnUrl* up = a.zero.upstream ? &*a.zero.upstream : nullptr;
      one_url(up, a.zero.upstream_max + 1, "upstream + replication");
      one_url(a.zero.cvr ? &*a.zero.cvr : up, a.zero.cvr_max, "CVR");
      one_url(a.zero.change ? &*a.zero.change : up, a.zero.change_max, "change");
    } else {
      for (auto& u : a.urls) one_url(&u, a.pool.max.value_or(10), u.var.c_str());
    }
  }
}

}  // namespace

std::vector<Finding> check_connections(const Inputs& in) {
  std::vector<Finding> out;
  if (in.server) {
    Tally dbs, roles;
    tally_limits(in, dbs, roles);
    for (auto& [db, n] : dbs.total) {
      auto it = in.server->database_limits.find(db);
      if (it == in.server->database_limits.end() || n <= it->second) continue;
      out.push_back(make("conn.database-limit", Severity::error,
                         fmt::format("pg_database.{}.datconnlimit", db), std::to_string(it->second),
                         fmt::format("pools can open {} connections to database '{}' ({}) but its "
                                     "CONNECTION LIMIT is {}",
                                     n, db, fmt::join(dbs.parts[db], "; "), it->second),
                         fmt::format("ALTER DATABASE \"{}\" CONNECTION LIMIT {}; (or shrink the "
                                     "pools)",
                                     db, n + n / 10 + 1)));
    }
    for (auto& [role, n] : roles.total) {
      auto it = in.server->role_limits.find(role);
      if (it == in.server->role_limits.end() || n <= it->second) continue;
      out.push_back(make("conn.role-limit", Severity::error,
                         fmt::format("pg_roles.{}.rolconnlimit", role), std::to_string(it->second),
                         fmt::format("pools can open {} connections as role '{}' ({}) but its "
                                     "CONNECTION LIMIT is {}",
                                     n, role, fmt::join(roles.parts[role], "; "), it->second),
                         fmt::format("ALTER ROLE \"{}\" CONNECTION LIMIT {}; (or shrink the "
                                     "pools)",
                                     role, n + n / 10 + 1)));
    }
  }
  if (in.proxy) {
    int behind = 0;
    std::vector<std::string> parts;
    for (auto& a : in.apps) {
      int n = app_proxy_demand(a, in.proxy);
      if (n > 0) {
        behind += n;
        parts.push_back(fmt::format("{}: {}", a.name, n));
      }
    }
    if (behind > in.proxy->max_client_conn) {
      auto f = make("conn.proxy-clients", Severity::error, "proxy.max_client_conn",
                    std::to_string(in.proxy->max_client_conn),
                    fmt::format("app pools through the proxy can open {} client connections ({}) "
                                "but proxy.max_client_conn = {}",
                                behind, fmt::join(parts, ", "), in.proxy->max_client_conn),
                    fmt::format("[proxy] max_client_conn = {} in {} (or shrink the app pools)",
                                behind + behind / 10 + 1, in.proxy->file));
      f.location = Location{in.proxy->file, 0};
      out.push_back(f);
    }
  }
  if (!in.server) return out;
  const ServerSnapshot& s = *in.server;
  Demand d = server_demand(in);
  int avail = available_slots(s);
  long long max = s.integer("max_connections").value_or(0);
  std::string reserved = fmt::format(
      "max_connections {} - superuser_reserved_connections {}{} = {} usable slots", max,
      s.integer("superuser_reserved_connections").value_or(0),
      s.get("reserved_connections")
          ? fmt::format(" - reserved_connections {}", *s.integer("reserved_connections"))
          : "",
      avail);
  if (!d.parts.empty()) {
    std::string ev =
        fmt::format("sum of pools = {} ({}); {}", d.total, fmt::join(d.parts, "; "), reserved);
    if (d.total > avail) {
      out.push_back(make("conn.budget", Severity::error, "max_connections", std::to_string(max), ev,
                         fmt::format("max_connections = {} (pools + reserved + 10 % headroom), or "
                                     "shrink the pools / put them behind the proxy",
                                     max + (d.total - avail) + d.total / 10)));
    } else if (d.total * 10 > avail * 9) {
      out.push_back(make("conn.budget", Severity::warning, "max_connections", std::to_string(max),
                         ev + " (less than 10 % headroom for psql, migrations, monitoring)",
                         fmt::format("max_connections = {}", max + d.total / 10 + 1)));
    } else {
      out.push_back(make("conn.budget", Severity::info, "max_connections", std::to_string(max), ev,
                         "no change needed"));
    }
  }
  return out;
}

// ---- server --------------------------------------------------------------------------

std::vector<Finding> check_server(const ServerSnapshot& s, const Inputs& in) {
  std::vector<Finding> out;
  const auto& o = in.options;
  auto add = [&](Finding f) { out.push_back(std::move(f)); };

  if (!s.can_read_all_stats)
    add(make("audit.limited-privileges", Severity::warning, "pg_read_all_stats", "not granted",
             "the audit role is neither superuser nor a member of pg_read_all_stats: other roles' "
             "sessions show no state or timings, so sess.* rules only see the audit role's own",
             "GRANT pg_read_all_stats TO <audit role>;"));

  // Reserved slots.
  if (s.integer("superuser_reserved_connections").value_or(3) == 0)
    add(make("conn.reserved", Severity::warning, "superuser_reserved_connections", "0",
             "no slot is kept for a superuser: when pools fill max_connections nobody can log in "
             "to diagnose or terminate sessions",
             "superuser_reserved_connections = 3"));

  // Usage now / peak.
  {
    int clients = 1;  // the audit's own session
    std::map<std::string, std::map<std::string, int>> by_app;
    for (auto& b : s.backends) {
      if (b.backend_type != "client backend") continue;
      ++clients;
      by_app[b.application_name.empty() ? "(none)" : b.application_name]
            [b.state.empty() ? "(hidden)" : b.state]++;
    }
    int peak = std::max(clients, s.peak_client_backends);
    int avail = available_slots(s);
    std::vector<std::string> apps;
    for (auto& [app, states] : by_app) {
      std::vector<std::string> st;
      for (auto& [state, n] : states) st.push_back(fmt::format("{} {}", n, state));
      apps.push_back(fmt::format("{}: {}", app, fmt::join(st, ", ")));
    }
    double p = pct(peak, avail);
    std::string ev = fmt::format(
        "{} client connections now (the audit's included), peak {}{} = {:.0f} % of {} usable "
        "slots; by application and state: {}",
        clients, peak, s.peak_client_backends >= 0 ? " over --sample" : " (one sample)", p, avail,
        fmt::join(apps, "; "));
    if (avail > 0 && p >= 80)
      add(make("conn.usage", p >= 95 ? Severity::error : Severity::warning, "max_connections",
               std::to_string(s.integer("max_connections").value_or(0)), ev,
               "put the apps behind a pooler (pgwarden proxy) or raise max_connections; find the "
               "app holding idle connections above"));
    else
      add(make("conn.usage", Severity::info, "max_connections",
               std::to_string(s.integer("max_connections").value_or(0)), ev,
               "no change needed; --sample 60s during peak traffic gives a better peak"));
  }

  // Sessions.
  {
    int n = 0;
    double oldest = 0;
    std::set<std::string> apps;
    for (auto& b : s.backends) {
      if (!b.state.starts_with("idle in transaction")) continue;
      if (b.state_age_s < o.idle_in_transaction_s) continue;
      ++n;
      oldest = std::max(oldest, b.state_age_s);
      apps.insert(b.application_name.empty() ? "(none)" : b.application_name);
    }
    if (n > 0)
      add(make("sess.idle-in-transaction", Severity::warning, "pg_stat_activity.state",
               "idle in transaction",
               fmt::format("{} session(s) idle in transaction for >= {:.0f}s (oldest {:.0f}s), "
                           "applications: {}",
                           n, o.idle_in_transaction_s, oldest, fmt::join(apps, ", ")),
               "fix the code path that leaves the transaction open; set "
               "idle_in_transaction_session_timeout = '60s' as a safety net"));
  }
  {
    int n = 0;
    double oldest = 0;
    std::set<std::string> apps;
    for (auto& b : s.backends) {
      if (b.backend_type != "client backend" || b.state != "active") continue;
      if (b.query_age_s < o.long_query_s) continue;
      ++n;
      oldest = std::max(oldest, b.query_age_s);
      apps.insert(b.application_name.empty() ? "(none)" : b.application_name);
    }
    if (n > 0)
      add(make("sess.long-running", Severity::warning, "pg_stat_activity.query_start",
               fmt::format("{:.0f}s", oldest),
               fmt::format("{} statement(s) running for >= {:.0f}s (oldest {:.0f}s), applications: "
                           "{}",
                           n, o.long_query_s, oldest, fmt::join(apps, ", ")),
               "ALTER ROLE <app role> SET statement_timeout = '30s'; investigate the statement"));
  }

  // pg_stat_database session counters.
  {
    long long sessions = 0, abandoned = 0, fatal = 0, killed = 0;
    for (auto& d : s.databases) {
      sessions += d.sessions;
      abandoned += d.abandoned;
      fatal += d.fatal;
      killed += d.killed;
    }
    std::string base = fmt::format(
        "since the last stats reset: sessions {}, abandoned {}, fatal "
        "{}, killed {}",
        sessions, abandoned, fatal, killed);
    if (abandoned > 0) {
      bool many = sessions >= 20 && abandoned * 20 >= sessions;
      add(make(
          "stats.sessions-abandoned", many ? Severity::warning : Severity::info,
          "pg_stat_database.sessions_abandoned", std::to_string(abandoned),
          fmt::format("{} ({:.1f} % abandoned: the client's socket closed without a Terminate "
                      "message — a crash, a killed process or a middlebox cut)",
                      base, pct(static_cast<double>(abandoned), static_cast<double>(sessions))),
          "correlate with `pgwarden logs`; enable keepalives below the idle cut; make the "
          "apps call pool.end() on shutdown"));
    }
    if (fatal > 0)
      add(make("stats.sessions-fatal", Severity::info, "pg_stat_database.sessions_fatal",
               std::to_string(fatal), base,
               "look for FATAL lines in the server log (log_line_prefix with %e shows the "
               "SQLSTATE)"));
    if (killed > 0)
      add(make("stats.sessions-killed", Severity::info, "pg_stat_database.sessions_killed",
               std::to_string(killed), base,
               "sessions were ended by pg_terminate_backend or a timeout; check who and why"));
  }

  // Memory.
  {
    auto ram = ram_of(in);
    long long sb = s.bytes("shared_buffers").value_or(0);
    long long wm = s.bytes("work_mem").value_or(0);
    long long mwm = s.bytes("maintenance_work_mem").value_or(0);
    long long awm = s.bytes("autovacuum_work_mem").value_or(-1);
    long long ecs = s.bytes("effective_cache_size").value_or(0);
    long long maxc = s.integer("max_connections").value_or(100);
    long long avw = s.integer("autovacuum_max_workers").value_or(3);
    if (ecs > 0 && ecs < sb)
      add(make("mem.effective-cache-size", Severity::warning, "effective_cache_size",
               format_bytes(ecs),
               fmt::format("effective_cache_size {} < shared_buffers {}: the planner assumes "
                           "less cache than PostgreSQL itself holds",
                           format_bytes(ecs), format_bytes(sb)),
               ram ? fmt::format(
                         "effective_cache_size = '{}' (RAM x 3/4)",
                         format_bytes(static_cast<long long>(*ram) * 3 / 4 / (1 << 20) * (1 << 20)))
                   : std::string("effective_cache_size = 3/4 of the server's RAM")));
    if (!ram) {
      add(make("mem.ram-unknown", Severity::info, "--ram", "",
               "RAM was neither given (--ram) nor readable through the server "
               "(pg_read_file('/proc/meminfo') needs superuser or pg_read_server_files): "
               "mem.work-mem, mem.shared-buffers, mem.maintenance-work-mem skipped",
               "pass --ram SIZE, e.g. --ram 16GB"));
    } else {
      long long r = static_cast<long long>(*ram);
      long long av_each = awm > 0 ? awm : mwm;
      long long worst = sb + maxc * wm + avw * av_each;
      if (worst > r) {
        long long workers = s.integer("max_worker_processes").value_or(8);
        long long suggested =
            std::max<long long>(4LL << 20, (r - sb) / ((maxc + workers) * 3) / 1024 * 1024);
        add(make("mem.work-mem", Severity::warning, "work_mem", format_bytes(wm),
                 fmt::format("shared_buffers {} + max_connections {} x work_mem {} + "
                             "autovacuum_max_workers {} x {} {} = {} > RAM {}",
                             format_bytes(sb), maxc, format_bytes(wm), avw,
                             awm > 0 ? "autovacuum_work_mem" : "maintenance_work_mem",
                             format_bytes(av_each), format_bytes(worst), format_bytes(r)),
                 fmt::format("work_mem = '{}kB' ((RAM - shared_buffers) / ((max_connections + "
                             "max_worker_processes) x 3), PGTune), or lower max_connections "
                             "behind a pooler",
                             suggested / 1024)));
      }
      if (sb * 100 > r * 40)
        add(make("mem.shared-buffers", Severity::warning, "shared_buffers", format_bytes(sb),
                 fmt::format("shared_buffers {} = {:.0f} % of RAM {} (> 40 %)", format_bytes(sb),
                             pct(static_cast<double>(sb), static_cast<double>(r)), format_bytes(r)),
                 fmt::format("shared_buffers = '{}MB' (RAM / 4)", r / 4 / (1 << 20))));
      else if (sb * 100 < r * 15)
        add(make(
            "mem.shared-buffers", Severity::info, "shared_buffers", format_bytes(sb),
            fmt::format("shared_buffers {} = {:.1f} % of RAM {} (PGTune: 25 %)", format_bytes(sb),
                        pct(static_cast<double>(sb), static_cast<double>(r)), format_bytes(r)),
            fmt::format("shared_buffers = '{}MB' (RAM / 4; needs a restart)", r / 4 / (1 << 20))));
      if (mwm * 8 > r)
        add(make("mem.maintenance-work-mem", Severity::warning, "maintenance_work_mem",
                 format_bytes(mwm),
                 fmt::format("maintenance_work_mem {} > RAM/8 ({}); each of autovacuum_max_workers "
                             "{} can use it",
                             format_bytes(mwm), format_bytes(r / 8), avw),
                 fmt::format("maintenance_work_mem = '{}MB' (RAM / 16, at most 8GB)",
                             std::min<long long>(r / 16, 8LL << 30) / (1 << 20))));
      if (ecs > r)
        add(make(
            "mem.effective-cache-size", Severity::warning, "effective_cache_size",
            format_bytes(ecs),
            fmt::format("effective_cache_size {} > RAM {}", format_bytes(ecs), format_bytes(r)),
            fmt::format("effective_cache_size = '{}MB' (RAM x 3/4)", r * 3 / 4 / (1 << 20))));
    }
  }

  // Timeouts.
  if (s.millis("statement_timeout").value_or(0) == 0 &&
      s.overridden_by("statement_timeout").empty())
    add(make("timeout.statement", Severity::info, "statement_timeout", "0",
             "no server-wide bound on a statement; a runaway query holds its connection and locks",
             "ALTER ROLE <app role> SET statement_timeout = '30s'; (per app role, not globally: "
             "Zero's initial sync and migrations need long statements)"));
  if (s.millis("idle_in_transaction_session_timeout").value_or(0) == 0) {
    std::string roles = s.overridden_by("idle_in_transaction_session_timeout");
    add(make("timeout.idle-in-transaction", roles.empty() ? Severity::warning : Severity::info,
             "idle_in_transaction_session_timeout", "0",
             roles.empty() ? std::string("a client that leaks a transaction (crashed handler, "
                                         "forgotten release) holds its connection, locks and "
                                         "xmin forever")
                           : fmt::format("0 server-wide; set per role/database only ({}): other "
                                         "roles' leaked transactions are unbounded",
                                         roles),
             "idle_in_transaction_session_timeout = '60s'"));
  }
  if (long long ist = s.millis("idle_session_timeout").value_or(0);
      ist > 0 && in.apps.empty() && !in.proxy)
    add(make("timeout.idle-session", Severity::info, "idle_session_timeout", secs(ist),
             fmt::format("the server closes sessions idle for {}; every pool in front of it must "
                         "close idle connections sooner (pass --app / --proxy-config to check)",
                         secs(ist)),
             "idle_session_timeout = 0, or make every pool's idle timeout shorter"));
  {
    long long idle = keepalive_idle_s(s);
    long long intvl = s.integer("tcp_keepalives_interval").value_or(0);
    long long cnt = s.integer("tcp_keepalives_count").value_or(0);
    if (intvl <= 0) intvl = 75;
    if (cnt <= 0) cnt = 9;
    if (idle >= o.idle_cut_s)
      add(make("timeout.keepalives", Severity::warning, "tcp_keepalives_idle",
               std::to_string(s.integer("tcp_keepalives_idle").value_or(0)),
               fmt::format("first keepalive after {}s (0 = OS default, Linux 7200 s), then every "
                           "{}s x {}: a dead or middlebox-cut client is noticed after {}s; the {} "
                           "idle cut is {}s",
                           idle, intvl, cnt, idle + intvl * cnt, o.idle_cut_name, o.idle_cut_s),
               "tcp_keepalives_idle = 60, tcp_keepalives_interval = 10, tcp_keepalives_count = 6"));
    if (s.get("tcp_user_timeout") && s.integer("tcp_user_timeout").value_or(0) == 0)
      add(make("timeout.tcp-user", Severity::info, "tcp_user_timeout", "0",
               "unacknowledged data may stay in flight for the kernel default (about 15 min of "
               "retransmissions) before a dead client's socket is closed",
               fmt::format("tcp_user_timeout = {} (ms; keepalive idle + interval x count)",
                           std::min<long long>(idle, 60) * 1000 + 10 * 6 * 1000)));
  }
  if (s.get("client_connection_check_interval") &&
      s.millis("client_connection_check_interval").value_or(0) == 0)
    add(make("timeout.client-connection-check", Severity::info, "client_connection_check_interval",
             "0", "a long query keeps running after its client has gone",
             "client_connection_check_interval = '10s'"));
  if (long long at = s.millis("authentication_timeout").value_or(60'000); at > 60'000)
    add(make("timeout.authentication", Severity::warning, "authentication_timeout", secs(at),
             fmt::format("a stalled authentication holds a connection slot for {} (default 1min)",
                         secs(at)),
             "authentication_timeout = '30s'"));

  // Logging.
  if (s.text("log_connections").value_or("off") != "on")
    add(make("log.connections", Severity::warning, "log_connections",
             s.text("log_connections").value_or("?"),
             "connection attempts are not logged: storms and failed logins are invisible",
             "log_connections = on"));
  if (s.text("log_disconnections").value_or("off") != "on")
    add(make("log.disconnections", Severity::warning, "log_disconnections",
             s.text("log_disconnections").value_or("?"),
             "session ends and durations are not logged: drops cannot be timed",
             "log_disconnections = on"));
  {
    std::string prefix = s.text("log_line_prefix").value_or("");
    std::vector<std::string> missing;
    for (const char* esc : {"%a", "%e", "%p"})
      if (prefix.find(esc) == std::string::npos) missing.push_back(esc);
    if (!missing.empty())
      add(make("log.line-prefix", Severity::warning, "log_line_prefix", prefix,
               fmt::format("missing {} (%a application_name, %e SQLSTATE, %p backend PID): log "
                           "lines cannot be tied to an app, an error code or a session",
                           fmt::join(missing, ", ")),
               "log_line_prefix = '%m [%p] %e %q%u@%d/%a %r '"));
  }

  // Replication slots (any user, not only Zero).
  for (auto& sl : s.slots) {
    if (sl.wal_status == "lost") {
      add(make("slot.invalidated", Severity::error, "pg_replication_slots." + sl.name, "lost",
               fmt::format("{} slot '{}' is invalidated (wal_status = lost): its consumer must "
                           "resync from scratch",
                           sl.type, sl.name),
               fmt::format("SELECT pg_drop_replication_slot('{}'); and let the consumer recreate "
                           "it (Zero resyncs on its own)",
                           sl.name)));
    } else if (!sl.active) {
      add(make(
          "slot.inactive", Severity::warning, "pg_replication_slots." + sl.name, "active = false",
          fmt::format("{} slot '{}' has no consumer (wal_status {}, retains {} of WAL); WAL "
                      "and vacuum are held back",
                      sl.type, sl.name, sl.wal_status.empty() ? "?" : sl.wal_status,
                      sl.retained_bytes >= 0 ? format_bytes(sl.retained_bytes) : "?"),
          fmt::format("restart its consumer, or SELECT pg_drop_replication_slot('{}');", sl.name)));
    }
  }

  // What Zero needs.
  if (uses_zero(in)) {
    bool aurora = o.target == Target::aurora;
    if (aurora && s.get("rds.logical_replication")) {
      std::string v = *s.text("rds.logical_replication");
      if (v != "on" && v != "1")
        add(make("aurora.logical-replication", Severity::error, "rds.logical_replication", v,
                 "Zero streams changes through logical replication",
                 "rds.logical_replication = 1 in the DB cluster parameter group (static: reboot "
                 "the writer)"));
    } else if (s.text("wal_level").value_or("") != "logical") {
      add(make(aurora ? "aurora.logical-replication" : "zero.wal-level", Severity::error,
               "wal_level", s.text("wal_level").value_or("?"),
               "Zero's zero-cache streams changes through a logical replication slot (pgoutput)",
               aurora ? "rds.logical_replication = 1 in the DB cluster parameter group (static: "
                        "reboot the writer); it sets wal_level = logical"
                      : "wal_level = logical (needs a restart)"));
    }
    long long senders = s.integer("max_wal_senders").value_or(0);
    int in_use = 0;
    for (auto& b : s.backends)
      if (b.backend_type == "walsender") ++in_use;
    if (senders - in_use < 2)
      add(make("zero.wal-senders", senders == 0 ? Severity::error : Severity::warning,
               "max_wal_senders", std::to_string(senders),
               fmt::format("max_wal_senders {} with {} in use leaves {} free; Zero needs one for "
                           "its stream and one spare while a dead stream is being replaced",
                           senders, in_use, senders - in_use),
               fmt::format("max_wal_senders = {} (needs a restart)", in_use + 4)));
    long long slots = s.integer("max_replication_slots").value_or(0);
    long long used = static_cast<long long>(s.slots.size());
    if (slots - used < 2)
      add(make("zero.replication-slots", slots == 0 ? Severity::error : Severity::warning,
               "max_replication_slots", std::to_string(slots),
               fmt::format("max_replication_slots {} with {} slot(s) existing leaves {} free; Zero "
                           "needs one slot and a second while a resync replaces it",
                           slots, used, slots - used),
               fmt::format("max_replication_slots = {} (needs a restart)", used + 4)));
    if (s.get("wal_sender_timeout") && s.millis("wal_sender_timeout").value_or(60'000) == 0)
      add(make("zero.wal-sender-timeout", Severity::warning, "wal_sender_timeout", "0",
               "the server never notices a dead zero-cache on the replication stream; zero-cache "
               "1.8.0 went into a reconnect storm with 0 (rocicorp/mono PR #6244)",
               "wal_sender_timeout = '60s'"));
    if (auto* ks = s.get("max_slot_wal_keep_size")) {
      long long v = s.integer("max_slot_wal_keep_size").value_or(-1);
      if (v >= 0)
        add(make("zero.max-slot-wal-keep-size", Severity::warning, "max_slot_wal_keep_size",
                 fmt::format("{}{}", ks->value, ks->unit),
                 "a finite limit invalidates Zero's slot when zero-cache lags or is down long "
                 "enough; zero-cache then resets and resyncs every replica (Zero docs advise "
                 "against it in production)",
                 "max_slot_wal_keep_size = -1, and alert on slot lag / disk instead"));
      else
        add(make("zero.max-slot-wal-keep-size", Severity::info, "max_slot_wal_keep_size", "-1",
                 "unlimited: an abandoned Zero slot retains WAL until the disk fills",
                 "keep -1 but alert on pg_replication_slots lag (slot.inactive) and disk usage"));
    }
  }
  return out;
}

// ---- applications -------------------------------------------------------------------------

std::vector<Finding> check_apps(const Inputs& in) {
  std::vector<Finding> out;
  const auto& o = in.options;
  const ServerSnapshot* s = in.server;
  long long server_ist = s ? s->millis("idle_session_timeout").value_or(0) : 0;
  bool aurora = o.target == Target::aurora;
  bool server_ka = server_keepalive_covers(in);

  for (auto& a : in.apps) {
    // Does any of the app's connections reach the server without the proxy?
    const ConnUrl* direct_url = nullptr;
    for (auto& u : a.urls)
      if (!direct_url && !via_proxy(u, in.proxy)) direct_url = &u;
    long long ist = server_ist;
    if (!direct_url && !a.urls.empty())
      ist = 0;  // only through the proxy: proxy.server-idle covers the server side
    else if (direct_url && s)
      ist = s->millis_for("idle_session_timeout", direct_url->user, direct_url->dbname)
                .value_or(server_ist);
    auto at = [&](Finding f, int line) {
      f.location = Location{a.file, line};
      out.push_back(std::move(f));
    };
    auto line_of = [&](const char* opt) {
      auto it = a.pool.lines.find(opt);
      return it == a.pool.lines.end() ? 0 : it->second;
    };
    if (a.driver == Driver::unknown)
      at(make("app.driver-unknown", Severity::info, "driver", "unknown",
              fmt::format("{}: no driver declared and none recognisable from the variables; "
                          "the pool is counted with max 10 (node-postgres and postgres.js "
                          "default), timeouts not checked",
                          a.name),
              "add a line '# pgwarden: driver=pg max=20 idleTimeoutMillis=30000 "
              "connectionTimeoutMillis=5000 keepAlive=true keepAliveInitialDelayMillis=60000' "
              "(or driver=postgres ...)"),
         0);

    // TLS.
    if (!aurora) {
      for (auto& u : a.urls) {
        if (is_local_host(u.host)) continue;
        TlsVerdict v = tls_verdict(a.driver, u.sslmode);
        if (v.tls == Tls::verified && v.why.empty()) continue;
        Severity sev = (v.tls == Tls::verified || v.tls == Tls::unverified) ? Severity::info
                                                                            : Severity::warning;
        at(make("app.sslmode", sev, u.var + " sslmode", u.sslmode.empty() ? "(not set)" : u.sslmode,
                fmt::format("{} = {} to a remote host ({}): {}", u.var, u.raw_redacted,
                            to_string(a.driver), v.why),
                fmt::format("append ?sslmode=verify-full (with the server's CA) to {}", u.var)),
           u.line);
      }
    }

    // node-postgres.
    if (a.driver == Driver::node_postgres) {
      long long ct = a.pool.connection_timeout_ms.value_or(0);
      if (ct == 0)
        at(make("app.pg-connection-timeout", Severity::warning, "connectionTimeoutMillis",
                a.pool.connection_timeout_ms ? "0" : "(not set)",
                fmt::format("{}: pg.Pool without connectionTimeoutMillis waits forever for a free "
                            "client when the pool is exhausted or the server unreachable",
                            a.name),
                "connectionTimeoutMillis=5000 in the Pool options"),
           line_of("connectionTimeoutMillis"));
      long long idle = a.pool.idle_timeout_ms.value_or(10'000);
      bool ka = a.pool.keep_alive.value_or(false);
      long long delay = a.pool.keep_alive_delay_ms.value_or(0);
      std::string why;
      if (!ka)
        why = "keepAlive is false (node-postgres default)";
      else if (delay == 0)
        why =
            "keepAlive is true but keepAliveInitialDelayMillis is 0, which leaves the OS "
            "default (Linux 7200 s) in place";
      else if (delay >= o.idle_cut_s * 1000)
        why = fmt::format("keepAliveInitialDelayMillis {} is not below the idle cut", delay);
      if (!why.empty()) {
        bool idle_ok = idle > 0 && idle < o.idle_cut_s * 1000;
        Severity sev = (idle_ok || server_ka) ? Severity::info : Severity::warning;
        at(make("app.keepalive", sev, "keepAlive", ka ? "true" : "false",
                fmt::format("{}: {}; idleTimeoutMillis {}{}; the {} idle cut is {}s{}", a.name, why,
                            idle, idle == 0 ? " (never)" : "", o.idle_cut_name, o.idle_cut_s,
                            server_ka ? " (the server's own keepalive is below it)" : ""),
                "keepAlive=true keepAliveInitialDelayMillis=60000 in the Pool options"),
           line_of("keepAlive"));
      }
      if (ist > 0 && (idle == 0 || idle >= ist))
        at(make("app.idle-vs-server", Severity::warning, "idleTimeoutMillis", std::to_string(idle),
                fmt::format("{}: the pool keeps idle clients {} but the server ends idle sessions "
                            "after idle_session_timeout {}: the next checkout gets a dead client "
                            "('Connection terminated unexpectedly')",
                            a.name, idle == 0 ? "forever" : fmt::format("{} ms", idle), secs(ist)),
                fmt::format("idleTimeoutMillis={} (below idle_session_timeout)", ist / 2)),
           line_of("idleTimeoutMillis"));
    }

    // postgres.js (and Zero, which uses postgres.js with its own settings).
    if (a.driver == Driver::postgres_js) {
      long long idle = a.pool.idle_timeout_ms.value_or(0);  // null = never
      bool ka = a.pool.keep_alive.value_or(true);
      long long delay = a.pool.keep_alive_delay_ms.value_or(60'000);
      if (!ka || delay >= o.idle_cut_s * 1000) {
        bool idle_ok = idle > 0 && idle < o.idle_cut_s * 1000;
        at(make("app.keepalive", (idle_ok || server_ka) ? Severity::info : Severity::warning,
                "keep_alive", ka ? std::to_string(delay / 1000) : "false",
                fmt::format("{}: postgres.js keep_alive {} with idle_timeout {}; the {} idle cut "
                            "is {}s",
                            a.name, ka ? fmt::format("{}s", delay / 1000) : "off",
                            idle == 0 ? "never (default)" : secs(idle), o.idle_cut_name,
                            o.idle_cut_s),
                "keep_alive: 60 (the postgres.js default)"),
           line_of("keep_alive"));
      }
      if (ist > 0 && (idle == 0 || idle >= ist))
        at(make("app.idle-vs-server", Severity::warning, "idle_timeout",
                idle == 0 ? "null (never)" : secs(idle),
                fmt::format("{}: postgres.js keeps idle connections {} but the server ends idle "
                            "sessions after idle_session_timeout {}",
                            a.name, idle == 0 ? "forever (idle_timeout default null)" : secs(idle),
                            secs(ist)),
                fmt::format("idle_timeout: {} (seconds, below idle_session_timeout)",
                            std::max<long long>(1, ist / 2000))),
           line_of("idle_timeout"));
      bool prepare = a.pool.prepare.value_or(true);
      for (auto& u : a.urls) {
        auto g = guess_pooler(u, in.proxy);
        if (prepare && g.transaction && !g.supports_prepared)
          at(make("app.prepare-through-pooler", Severity::warning, "prepare", "true",
                  fmt::format("{}: postgres.js prepares named statements by default and {} goes "
                              "through a transaction pooler ({}): '26000 prepared statement does "
                              "not exist' on another server connection",
                              a.name, u.var, g.why),
                  "prepare: false in the postgres() options, or ?prepare=false in the URL"),
             u.line);
      }
    }
    for (auto& ig : a.ignored)
      at(make("app.env-ignored", Severity::warning, ig.var, ig.value,
              fmt::format("{}: {}={}: {}", a.name, ig.var, ig.value, ig.why),
              "pass prepare: false in the postgres() options, or ?prepare=false in the URL"),
         ig.line);

    // Zero.
    if (a.driver == Driver::zero && s && a.zero.upstream && !a.zero.upstream->user.empty()) {
      const ConnUrl& up = *a.zero.upstream;
      auto it = s->can_replicate.find(up.user);
      if (it != s->can_replicate.end() && !it->second)
        at(make("zero.replication-role", Severity::error, "ZERO_UPSTREAM_DB user", up.user,
                fmt::format("{}: role '{}' is neither superuser nor REPLICATION (nor a member of "
                            "rds_replication): zero-cache cannot create its slot or start "
                            "replication",
                            a.name, up.user),
                o.target == Target::aurora
                    ? fmt::format("GRANT rds_replication TO \"{}\";", up.user)
                    : fmt::format("ALTER ROLE \"{}\" REPLICATION;", up.user)),
           up.line);
    }
    if (a.driver == Driver::zero) {
      if (a.zero.upstream) {
        auto g = guess_pooler(*a.zero.upstream, in.proxy);
        if (g.pooler)
          at(make("zero.upstream-pooler", Severity::error, "ZERO_UPSTREAM_DB",
                  a.zero.upstream->raw_redacted,
                  fmt::format("{}: {}; logical replication needs a direct walsender session",
                              a.name, g.why),
                  "point ZERO_UPSTREAM_DB at the server itself (port 5432 or the Aurora cluster "
                  "endpoint); CVR and change DBs may use a session pooler"),
             a.zero.upstream->line);
      }
      for (auto* u :
           {a.zero.cvr ? &*a.zero.cvr : nullptr, a.zero.change ? &*a.zero.change : nullptr}) {
        if (!u) continue;
        auto g = guess_pooler(*u, in.proxy);
        if (g.transaction && !g.supports_prepared)
          at(make("app.prepare-through-pooler", Severity::warning, u->var, u->raw_redacted,
                  fmt::format("{}: {} goes through a transaction pooler ({}); Zero's docs: it "
                              "breaks prepared statements ('26000 prepared statement ... does not "
                              "exist')",
                              a.name, u->var, g.why),
                  "use a session-mode pooler or a direct connection for " + u->var),
             u->line);
      }
      if (ist > 0 && ist <= 60'000)
        at(make("app.idle-vs-server", Severity::warning, "idle_session_timeout", secs(ist),
                fmt::format("{}: zero-cache's postgres.js pools close idle connections after 60 s "
                            "but the server ends them after {}",
                            a.name, secs(ist)),
                "idle_session_timeout = 0 (or above 60s) for Zero's role: ALTER ROLE <zero role> "
                "SET idle_session_timeout = 0"),
           0);
    }
  }
  return out;
}

// ---- proxy ----------------------------------------------------------------------------------

std::vector<Finding> check_proxy(const Inputs& in) {
  std::vector<Finding> out;
  if (!in.proxy) return out;
  const ProxySettings& p = *in.proxy;
  const auto& o = in.options;
  auto at = [&](Finding f) {
    f.location = Location{p.file, 0};
    out.push_back(std::move(f));
  };
  if (!p.keepalive)
    at(make("proxy.keepalive", Severity::warning, "keepalive.enabled", "false",
            fmt::format("TCP keepalive is off on the proxy's sockets: idle links through a "
                        "middlebox are cut after {}s ({}) without either side noticing",
                        o.idle_cut_s, o.idle_cut_name),
            "[keepalive] enabled = true, idle = 60, interval = 10, count = 6"));
  else if (p.keepalive_idle_s >= o.idle_cut_s)
    at(make("proxy.keepalive", Severity::warning, "keepalive.idle",
            std::to_string(p.keepalive_idle_s),
            fmt::format("first keepalive after {}s but the {} idle cut is {}s", p.keepalive_idle_s,
                        o.idle_cut_name, o.idle_cut_s),
            fmt::format("[keepalive] idle = {}", std::min<long long>(60, o.idle_cut_s / 2))));
  if (in.server) {
    const ServerSnapshot& s = *in.server;
    long long ist = s.millis("idle_session_timeout").value_or(0);
    if (ist > 0 && (p.server_idle_ms == 0 || p.server_idle_ms >= ist))
      at(make("proxy.server-idle", Severity::warning, "timeouts.server_idle_timeout",
              secs(p.server_idle_ms),
              fmt::format("the proxy keeps idle server links {} but the server ends idle sessions "
                          "after idle_session_timeout {}",
                          p.server_idle_ms == 0 ? "forever" : secs(p.server_idle_ms), secs(ist)),
              fmt::format("[timeouts] server_idle_timeout = \"{}\" (or idle_session_timeout = 0 "
                          "for the proxy's role)",
                          secs(ist / 2))));
    long long st = s.millis("statement_timeout").value_or(0);
    if (st > 0 && p.query_ms > 0 && p.query_ms <= st)
      at(make("proxy.query-timeout", Severity::warning, "timeouts.query_timeout", secs(p.query_ms),
              fmt::format("proxy query_timeout {} <= server statement_timeout {}: the proxy "
                          "drops the server link before the server can cancel cleanly",
                          secs(p.query_ms), secs(st)),
              fmt::format("[timeouts] query_timeout = \"{}\" (a little above statement_timeout)",
                          secs(st + std::max<long long>(5000, st / 10)))));
  }
  if (p.client_idle_ms > 0) {
    for (auto& a : in.apps) {
      bool behind = false;
      for (auto& u : a.urls) behind = behind || via_proxy(u, &p);
      if (!behind) continue;
      long long idle = 0;
      if (a.driver == Driver::node_postgres)
        idle = a.pool.idle_timeout_ms.value_or(10'000);
      else if (a.driver == Driver::postgres_js)
        idle = a.pool.idle_timeout_ms.value_or(0);
      else if (a.driver == Driver::zero)
        idle = 60'000;
      else
        continue;
      if (idle == 0 || idle >= p.client_idle_ms) {
        Finding f =
            make("proxy.client-idle", Severity::warning, "timeouts.client_idle_timeout",
                 secs(p.client_idle_ms),
                 fmt::format("{} keeps idle connections {} but the proxy closes clients "
                             "idle for {}: the order must be app < proxy < server",
                             a.name, idle == 0 ? "forever" : secs(idle), secs(p.client_idle_ms)),
                 fmt::format("make {}'s pool idle timeout shorter than {}, or raise "
                             "[timeouts] client_idle_timeout",
                             a.name, secs(p.client_idle_ms)));
        f.location = Location{a.file, 0};
        out.push_back(f);
      }
    }
  }
  return out;
}

// ---- Aurora ----------------------------------------------------------------------------------

namespace {
// AWS AuroraPostgreSQL.Managing default max_connections per instance class.
std::optional<int> aurora_class_max(const std::string& cls) {
  static const std::map<std::string, int> table = {
      {"db.t3.medium", 420},     {"db.t4g.medium", 405},    {"db.t3.large", 844},
      {"db.t4g.large", 844},     {"db.r6g.large", 1722},    {"db.r6g.xlarge", 3479},
      {"db.r6g.2xlarge", 5000},  {"db.r6g.4xlarge", 5000},  {"db.r6g.8xlarge", 5000},
      {"db.r6g.12xlarge", 5000}, {"db.r6g.16xlarge", 5000},
  };
  auto it = table.find(cls);
  if (it == table.end()) return std::nullopt;
  return it->second;
}
}  // namespace

std::vector<Finding> check_aurora(const Inputs& in) {
  std::vector<Finding> out;
  const auto& o = in.options;
  const ServerSnapshot* s = in.server;
  bool zero = uses_zero(in);

  // max_connections for the instance class.
  {
    Demand d = server_demand(in);
    std::optional<int> limit;
    std::string how;
    if (o.instance_class) {
      limit = aurora_class_max(*o.instance_class);
      if (limit)
        how = fmt::format("AWS's table for {}: LEAST(DBInstanceClassMemory/9531392, 5000) = {}",
                          *o.instance_class, *limit);
    }
    if (!limit && o.ram_bytes) {
      limit = static_cast<int>(std::min<uint64_t>(*o.ram_bytes / 9531392, 5000));
      how = fmt::format(
          "LEAST({} / 9531392, 5000) = {} (an upper bound: DBInstanceClassMemory is "
          "below the nominal RAM)",
          format_bytes(static_cast<long long>(*o.ram_bytes)), *limit);
    }
    if (limit) {
      int need = d.total + 3;  // AWS: "plus at least 3 more connections to support AWS automation"
      bool over = need > *limit;
      out.push_back(make(
          "aurora.max-connections", over ? Severity::error : Severity::info, "max_connections",
          std::to_string(*limit),
          fmt::format("{}; pools need {} + 3 for AWS automation = {}{}", how, d.total, need,
                      d.parts.empty() ? "" : fmt::format(" ({})", fmt::join(d.parts, "; "))),
          over ? "pick a larger instance class, set max_connections in the DB parameter group, "
                 "or pool through the proxy"
               : "no change needed"));
    } else if (o.instance_class) {
      out.push_back(make("aurora.max-connections", Severity::info, "--instance-class",
                         *o.instance_class,
                         "instance class not in pgwarden's table (AWS AuroraPostgreSQL.Managing); "
                         "the default is LEAST(DBInstanceClassMemory/9531392, 5000)",
                         "pass --ram with the instance's memory to compute it"));
    }
  }

  if (s) {
    // Logical replication: check_server reports it when Zero is in use; without Zero say so here.
    if (!zero) {
      std::string v =
          s->text("rds.logical_replication").value_or(s->text("wal_level").value_or(""));
      if (v != "on" && v != "1" && v != "logical")
        out.push_back(
            make("aurora.logical-replication", Severity::info,
                 s->get("rds.logical_replication") ? "rds.logical_replication" : "wal_level", v,
                 "logical replication is off; Zero (and any CDC) needs it on Aurora",
                 "rds.logical_replication = 1 in the DB cluster parameter group"));
    }
    std::vector<std::string> ext;
    for (auto& e : s->extensions)
      if (e != "plpgsql") ext.push_back(e);
    if (auto allowed = s->text("rds.extensions")) {
      std::set<std::string> ok;
      std::string cur;
      for (char c : *allowed + ",") {
        if (c == ',') {
          if (!cur.empty()) ok.insert(cur);
          cur.clear();
        } else if (c != ' ') {
          cur.push_back(c);
        }
      }
      for (auto& e : ext)
        if (!ok.count(e))
          out.push_back(
              make("aurora.extensions", Severity::error, "extension " + e, e,
                   fmt::format("extension '{}' is installed but not in rds.extensions", e),
                   "remove the dependency or find an Aurora-supported alternative"));
    } else if (!ext.empty()) {
      out.push_back(make("aurora.extensions", Severity::info, "pg_extension",
                         fmt::format("{}", fmt::join(ext, ",")),
                         fmt::format("extensions in use: {}; this server is not Aurora "
                                     "(no rds.extensions), so support cannot be checked here",
                                     fmt::join(ext, ", ")),
                         "check each against the Aurora PostgreSQL extension list for your "
                         "engine version (SHOW rds.extensions on the target)"));
    }
    if (zero && s->get("rds.logical_replication") && s->version_num > 0 && s->version_num < 150006)
      out.push_back(make("aurora.version", Severity::error, "server_version_num",
                         std::to_string(s->version_num),
                         "Zero's docs list AWS Aurora as supported from v15.6",
                         "upgrade the Aurora cluster to PostgreSQL 15.6 or later"));
  }

  bool has_logical_slot = false;
  if (s)
    for (auto& sl : s->slots) has_logical_slot = has_logical_slot || sl.type == "logical";
  if (zero || has_logical_slot)
    out.push_back(make(
        "aurora.failover-slot", Severity::warning, "replication slot", zero ? "zero" : "logical",
        "PostgreSQL 15 has no failover slots; whether Aurora keeps a logical slot across a writer "
        "failover is unverified: plan for zero-cache to find its slot missing and resync all "
        "replicas (57P01/CONNECTION_CLOSED, then AutoResetSignal)",
        "point ZERO_UPSTREAM_DB at the cluster (writer) endpoint, budget the resync time, alert on "
        "zero_replication_slot_health, and rehearse with aws rds failover-db-cluster"));

  for (auto& a : in.apps) {
    for (auto& u : a.urls) {
      auto at = [&](Finding f) {
        f.location = Location{a.file, u.line};
        out.push_back(std::move(f));
      };
      if (is_local_host(u.host) || via_proxy(u, in.proxy)) continue;
      bool aws = u.host.find(".rds.amazonaws.com") != std::string::npos;
      if (aws && u.host.find(".cluster-ro-") != std::string::npos &&
          (a.driver == Driver::zero || u.var == "DATABASE_URL"))
        at(make(
            "aurora.endpoint", Severity::error, u.var, u.host,
            fmt::format("{} uses the reader endpoint: writes fail (25006) and logical "
                        "replication is impossible there",
                        u.var),
            "use the cluster (writer) endpoint <cluster>.cluster-<id>.<region>.rds.amazonaws.com"));
      else if (aws && u.host.find(".cluster-") == std::string::npos &&
               u.host.find(".proxy-") == std::string::npos)
        at(make("aurora.endpoint", Severity::warning, u.var, u.host,
                fmt::format("{} names an instance endpoint: after a failover it points at a "
                            "reader, not the new writer",
                            u.var),
                "use the cluster (writer) endpoint"));
      std::string m = u.sslmode;
      TlsVerdict v = tls_verdict(a.driver, m);
      if (v.tls != Tls::verified)
        at(make("aurora.tls", v.tls == Tls::plain ? Severity::error : Severity::warning,
                u.var + " sslmode", m.empty() ? "(not set)" : m,
                fmt::format("{} ({}): {}; the Aurora server certificate is not verified", u.var,
                            to_string(a.driver), v.why),
                fmt::format("append ?sslmode=verify-full&sslrootcert=<AWS RDS CA bundle> to {}",
                            u.var)));
    }
  }
  return out;
}

std::vector<Finding> evaluate(const Inputs& in) {
  std::vector<Finding> out;
  auto append = [&](std::vector<Finding> v) {
    for (auto& f : v) out.push_back(std::move(f));
  };
  if (in.server) append(check_server(*in.server, in));
  append(check_connections(in));
  append(check_apps(in));
  append(check_proxy(in));
  if (in.options.target == Target::aurora) append(check_aurora(in));
  std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
    return static_cast<int>(a.severity) > static_cast<int>(b.severity);
  });
  return out;
}

}  // namespace pgw::audit
