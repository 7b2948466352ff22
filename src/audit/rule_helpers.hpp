#pragma once
// Helpers shared by the audit rule files (rules.cpp, rules_server.cpp):
// finding construction, unit text, pooler and TLS guesses, app demand.
// Internal to src/audit.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "pgwarden/audit/inputs.hpp"
#include "pgwarden/audit/rules.hpp"

namespace pgw::audit::rule_helpers {

inline Finding make(const char* rule, Severity sev, std::string setting, std::string value,
                    std::string evidence, std::string fix) {
  return Finding{
      rule,           sev,         std::move(setting), std::move(value), std::move(evidence),
      std::move(fix), std::nullopt};
}

inline std::string secs(long long ms) {
  if (ms < 0) return std::to_string(ms);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

inline bool is_local_host(const std::string& h) {
  return h.empty() || h.front() == '/' || h == "localhost" || h == "127.0.0.1" || h == "::1";
}

inline bool uses_zero(const Inputs& in) {
  if (in.options.zero) return true;
  for (auto& a : in.apps)
    if (a.driver == Driver::zero) return true;
  return false;
}

// Does this URL reach the server through pgwarden's proxy?
inline bool via_proxy(const ConnUrl& u, const ProxySettings* p) {
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

inline PoolerGuess guess_pooler(const ConnUrl& u, const ProxySettings* p) {
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

inline TlsVerdict tls_verdict(Driver d, const std::string& m) {
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

inline AppDemand app_direct_demand(const AppConfig& a, const ProxySettings* p) {
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

inline int app_proxy_demand(const AppConfig& a, const ProxySettings* p) {
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

inline long long keepalive_idle_s(const ServerSnapshot& s) {
  long long v = s.integer("tcp_keepalives_idle").value_or(0);
  return v > 0 ? v : 7200;  // 0 = the OS default (Linux 7200 s)
}

inline bool server_keepalive_covers(const Inputs& in) {
  return in.server && keepalive_idle_s(*in.server) < in.options.idle_cut_s;
}

inline std::optional<uint64_t> ram_of(const Inputs& in) {
  if (in.options.ram_bytes) return in.options.ram_bytes;
  if (in.server && in.server->detected_ram) return in.server->detected_ram;
  return std::nullopt;
}

inline double pct(double a, double b) {
  return b > 0 ? 100.0 * a / b : 0;
}

}  // namespace pgw::audit::rule_helpers
