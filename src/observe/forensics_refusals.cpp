// Patterns named by what the server or pgwarden said: exhausted pools,
// max_connections refusals, idle-transaction and idle-session kills,
// administrator terminations.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <utility>

#include "forensics_patterns.hpp"

namespace pgw::observe::forensics {

namespace {

constexpr const char* kTooManyConnections = "53300";
constexpr const char* kIdleInTransaction = "25P03";
constexpr const char* kIdleSession = "57P05";
constexpr const char* kAdminShutdown = "57P01";

using Groups = std::map<std::string, Events>;

std::string or_none(const std::string& v, const char* none) {
  return v.empty() ? none : v;
}

std::string app_label(const Finding& f) {
  std::string app = f.application_name.empty() ? "an application without application_name"
                                               : "application " + f.application_name;
  return f.pool.empty() ? app : app + " in pool " + f.pool;
}

bool any_of(const Events& m, bool (*pred)(const ObservedEvent&)) {
  return std::any_of(m.begin(), m.end(), [&](const ObservedEvent* e) { return pred(*e); });
}

// "the server's X and pgwarden's Y", naming whoever enforced the timeout.
std::string enforcers(const Events& m, const char* server_setting, const char* proxy_setting) {
  bool server = any_of(m, [](const ObservedEvent& e) { return e.initiator != "proxy"; });
  bool proxy = any_of(m, [](const ObservedEvent& e) { return e.initiator == "proxy"; });
  std::string s = fmt::format("the server's {}", server_setting);
  std::string p = fmt::format("pgwarden's {}", proxy_setting);
  if (server && proxy) return s + " and " + p;
  return proxy ? p : s;
}

std::vector<Finding> pool_exhaustion(const Events& window, size_t min_count) {
  Groups timeouts;
  std::map<std::string, uint64_t> waits;
  for (const ObservedEvent* e : window) {
    if (e->event == "pool.timeout") timeouts[e->pool].push_back(e);
    if (e->event == "pool.wait") ++waits[e->pool];
  }
  std::vector<Finding> out;
  for (const auto& [pool, members] : timeouts) {
    if (members.size() < min_count) continue;
    Finding f = make_finding("pool_exhaustion", members);
    int64_t max_wait_ms = -1;
    for (const ObservedEvent* e : members) max_wait_ms = std::max(max_wait_ms, e->wait_ms);
    f.value = max_wait_ms >= 0 ? static_cast<double>(max_wait_ms) / 1000 : 0;
    f.key = "pool_exhaustion/" + pool;
    std::string detail;
    if (max_wait_ms >= 0) detail = "max wait " + seconds_text(f.value);
    if (waits[pool]) {
      if (!detail.empty()) detail += "; ";
      detail += fmt::format("{} pool.wait events", waits[pool]);
    }
    f.summary =
        fmt::format("pool {} exhausted: {} clients timed out waiting for a server connection{}.",
                    or_none(pool, "(unnamed)"), f.count, detail.empty() ? "" : " (" + detail + ")");
    f.fix = fmt::format(
        "Raise pool_size for {} (keeping the sum of all pools below the server's "
        "max_connections), shorten transactions, and look for leaked connections: sessions "
        "'idle in transaction' in pg_stat_activity or app code that never releases a client.",
        or_none(pool, "this pool"));
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<Finding> max_connections(const Events& window) {
  Groups by_backend;
  for (const ObservedEvent* e : window) {
    bool refusal = is_close(*e) || e->event == "server.connect_failed";
    // pgwarden's own max_client_conn also answers 53300; that is not the server.
    if (refusal && e->sqlstate == kTooManyConnections && e->initiator != "proxy") {
      by_backend[e->backend].push_back(e);
    }
  }
  std::vector<Finding> out;
  for (const auto& [backend, members] : by_backend) {
    Finding f = make_finding("max_connections", members);
    f.value = static_cast<double>(f.count);
    f.key = backend.empty() ? "max_connections" : "max_connections/" + backend;
    f.summary = fmt::format("The server{} refused connections: max_connections reached ({} times).",
                            backend.empty() ? "" : " " + backend, f.count);
    f.fix =
        "Lower the pool budgets so every pgwarden pool plus every other client stays below the "
        "server's max_connections minus its reserved connections, and find the other clients "
        "(pgwarden audit, pg_stat_activity grouped by application_name).";
    out.push_back(std::move(f));
  }
  return out;
}

Groups closes_by_app(const Events& window, const char* sqlstate) {
  Groups groups;
  for (const ObservedEvent* e : window) {
    if (is_close(*e) && e->sqlstate == sqlstate) {
      groups[e->pool + "/" + e->application_name].push_back(e);
    }
  }
  return groups;
}

std::vector<Finding> idle_in_transaction(const Events& window, size_t min_count) {
  std::vector<Finding> out;
  for (const auto& [group, members] : closes_by_app(window, kIdleInTransaction)) {
    if (members.size() < min_count) continue;
    Finding f = make_finding("idle_in_transaction", members);
    f.value = static_cast<double>(f.count);
    f.key = "idle_in_transaction/" + group;
    const std::string who =
        enforcers(members, "idle_in_transaction_session_timeout", "idle_transaction_timeout");
    f.summary = fmt::format(
        "{} connections of {} were closed for sitting idle inside a transaction, by {}: the app "
        "leaves transactions open.",
        f.count, app_label(f), who);
    f.fix = fmt::format(
        "Make {} commit or roll back promptly: release pooled clients in finally blocks and never "
        "wait on network calls or users inside a transaction; find the leaks with pg_stat_activity "
        "(state 'idle in transaction'). Raise {} only if long idle transactions are intended.",
        or_none(f.application_name, "the app"), who);
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<Finding> idle_session(const Events& window, size_t min_count) {
  std::vector<Finding> out;
  for (const auto& [group, members] : closes_by_app(window, kIdleSession)) {
    if (members.size() < min_count) continue;
    Finding f = make_finding("idle_session", members);
    f.value = static_cast<double>(f.count);
    f.key = "idle_session/" + group;
    const std::string who = enforcers(members, "idle_session_timeout", "client_idle_timeout");
    f.summary = fmt::format(
        "{} idle connections of {} were closed by {}: connections stay idle in a pool longer than "
        "that timeout.",
        f.count, app_label(f), who);
    f.fix = fmt::format(
        "Set the pool idle timeout below {} so the pool retires connections before they are "
        "killed: the app pool's (node-postgres idleTimeoutMillis, postgres.js idle_timeout){}.",
        who,
        any_of(members, [](const ObservedEvent& e) { return e.side == "server"; })
            ? " and pgwarden's server_idle_timeout for its own server connections"
            : "");
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<Finding> server_terminated(const Events& window, size_t min_count) {
  Groups by_backend;
  for (const ObservedEvent* e : window) {
    if (is_close(*e) && e->sqlstate == kAdminShutdown) by_backend[e->backend].push_back(e);
  }
  std::vector<Finding> out;
  for (const auto& [backend, members] : by_backend) {
    if (members.size() < min_count) continue;
    Finding f = make_finding("server_terminated", members);
    f.value = static_cast<double>(f.count);
    f.key = backend.empty() ? "server_terminated" : "server_terminated/" + backend;
    f.summary = fmt::format(
        "{} connections{} terminated by an administrator or a server shutdown (57P01) between {} "
        "and {}.",
        f.count, backend.empty() ? "" : " to " + backend, utc_second(f.first), utc_second(f.last));
    f.fix =
        "Find who runs pg_terminate_backend (the server log with log_connections and "
        "log_line_prefix %u %a; scheduled jobs, deploy scripts) or why the server shut down or "
        "restarted then; make the apps retry on 57P01.";
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

std::vector<Finding> find_refusals_and_kills(const Events& window, const ForensicsConfig& cfg) {
  const auto min_count = static_cast<size_t>(std::max(cfg.min_count, 1));
  std::vector<Finding> out;
  auto append = [&](std::vector<Finding> more) {
    for (Finding& f : more) out.push_back(std::move(f));
  };
  append(pool_exhaustion(window, min_count));
  append(max_connections(window));
  append(idle_in_transaction(window, min_count));
  append(idle_session(window, min_count));
  append(server_terminated(window, min_count));
  return out;
}

}  // namespace pgw::observe::forensics
