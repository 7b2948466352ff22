#include "pgwarden/audit/rules.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <set>

#include "pgwarden/audit/inputs.hpp"
#include "rule_helpers.hpp"

namespace pgw::audit {

using namespace rule_helpers;

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
