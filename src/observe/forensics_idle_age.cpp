// idle_cut and fixed_age: closes that cluster at one idle age (something cuts
// idle connections) or at one connection age (something retires old ones).
#include <fmt/format.h>
#include <algorithm>

#include <cmath>
#include <optional>
#include <string_view>

#include "forensics_patterns.hpp"

namespace pgw::observe::forensics {

namespace {

// A cluster must hold this share of a side's candidate closes: random idle
// ages scattered over minutes put a few in any ±5% band by chance.
constexpr double kMinIdleShare = 0.25;
constexpr double kMinAgeShare = 0.25;
// Members of an age cluster whose idle ages cluster this much are an idle
// policy, not a lifetime.
constexpr double kIdleWithinAgeShare = 0.5;

const char* const kSides[] = {"server", "client"};

bool near(double seconds, double target) {
  return std::abs(seconds - target) <= std::max(1.0, 0.05 * target);
}

// A stable id for a cluster's value: its median moves a little as closes
// come and go, so keys use whole seconds below 100 s and tens above.
long key_seconds(double seconds) {
  long s = std::lround(seconds);
  return s >= 100 ? std::lround(seconds / 10) * 10 : s;
}

// Closes whose idle age tells who cut them: no server message (a FATAL with
// a SQLSTATE is explained by the refusals-and-kills patterns) and not a
// proxy policy.
bool idle_cut_candidate(const ObservedEvent& e, std::string_view side) {
  // The integer test first: it rejects nearly every close of a busy window.
  if (e.idle_ms < 1000 || !is_close(e) || e.side != side || !e.sqlstate.empty()) return false;
  if (side == "server") return initiated_by_server_or_network(e);
  return e.initiator == "network" ||
         (e.initiator == "client" && (e.cause == "client_eof" || e.cause == "peer_reset"));
}

std::string middlebox(double seconds) {
  if (near(seconds, 350)) return "the AWS NAT gateway / NLB idle timeout (350 s)";
  if (near(seconds, 240)) return "the Azure Load Balancer default idle timeout (4 min)";
  return "a firewall or load balancer idle timeout";
}

std::string keepalive_fix(long n) {
  long half = std::max(1L, n / 2);
  return fmt::format(
      "enable TCP keepalives with an idle time below {n} s (e.g. {half} s) on both sides of the "
      "cut: pgwarden's [keepalive] idle = {half} (client and server sockets), the server's "
      "tcp_keepalives_idle = {half}, and the client driver's keepalive (node-postgres keepAlive: "
      "true with keepAliveInitialDelayMillis: {half}000, libpq keepalives_idle={half})",
      fmt::arg("n", n), fmt::arg("half", half));
}

Finding idle_cut_finding(const Events& members, std::string_view side, double median_ms) {
  Finding f = make_finding("idle_cut", members);
  const long n = std::lround(median_ms / 1000);
  f.value = static_cast<double>(n);
  f.key = fmt::format("idle_cut/{}/{}", side, key_seconds(median_ms / 1000));
  if (side == "server") {
    f.summary = fmt::format(
        "{} server connections were cut after {} s idle ({}): matches {} between pgwarden and "
        "the server.",
        f.count, n, counts_text(f.causes), middlebox(n));
    f.fix = "Keep idle server links alive: " + keepalive_fix(n) + ".";
  } else {
    f.summary = fmt::format(
        "{} client connections were cut after {} s idle ({}): an app-side pool idle timeout, or "
        "{} between the app and pgwarden.",
        f.count, n, counts_text(f.causes), middlebox(n));
    f.fix = "If the app's pool discards idle connections at " + std::to_string(n) +
            " s on purpose, nothing is lost; otherwise " + keepalive_fix(n) + ".";
  }
  return f;
}

std::string lifetime_source(double seconds) {
  if (near(seconds, 86'400)) return "matches RDS Proxy's 24 h connection lifetime";
  return "a max-lifetime setting somewhere (app pool maxLifetime, a proxy, RDS Proxy's 24 h)";
}

}  // namespace

std::optional<double> shared_idle_ms(const Events& events, double min_share) {
  std::vector<Sample> idle;
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i]->idle_ms >= 0) idle.push_back({static_cast<double>(events[i]->idle_ms), i});
  }
  const auto needed =
      static_cast<size_t>(std::ceil(min_share * static_cast<double>(events.size())));
  auto clusters = find_clusters(std::move(idle), std::max<size_t>(needed, 2), min_share);
  if (clusters.empty()) return std::nullopt;
  return clusters.front().median_ms;
}

std::vector<Finding> find_idle_cuts(const Events& window, const std::vector<bool>& excluded,
                                    const ForensicsConfig& cfg, std::vector<bool>& explained) {
  std::vector<Finding> out;
  auto min_count = static_cast<size_t>(std::max(cfg.min_count, 1));
  for (const char* side : kSides) {
    std::vector<Sample> samples;
    for (size_t i = 0; i < window.size(); ++i) {
      const ObservedEvent& e = *window[i];
      if (!excluded[i] && idle_cut_candidate(e, side)) {
        samples.push_back({static_cast<double>(e.idle_ms), i});
      }
    }
    for (const Cluster& c : find_clusters(std::move(samples), min_count, kMinIdleShare)) {
      Events members;
      for (size_t i : c.indices) {
        members.push_back(window[i]);
        explained[i] = true;
      }
      out.push_back(idle_cut_finding(members, side, c.median_ms));
    }
  }
  return out;
}

namespace {
// The largest number of `events` that closed within one `span`.
size_t most_within(const Events& events, std::chrono::milliseconds span) {
  std::vector<SystemClock::time_point> ts;
  for (const auto* e : events) ts.push_back(e->ts);
  std::sort(ts.begin(), ts.end());
  size_t best = 0;
  for (size_t lo = 0, hi = 0; hi < ts.size(); ++hi) {
    while (ts[hi] - ts[lo] > span) ++lo;
    best = std::max(best, hi - lo + 1);
  }
  return best;
}
}  // namespace

std::vector<Finding> find_fixed_ages(const Events& window, const std::vector<bool>& excluded,
                                     const ForensicsConfig& cfg) {
  std::vector<Finding> out;
  auto min_count = static_cast<size_t>(std::max(cfg.min_count, 1));
  for (const char* side : kSides) {
    std::vector<Sample> samples;
    for (size_t i = 0; i < window.size(); ++i) {
      const ObservedEvent& e = *window[i];
      if (e.age_ms < 1000 || excluded[i] || !is_close(e) || e.side != side) continue;
      // pgwarden's own server_lifetime is its policy, already named by its cause.
      bool own_lifetime = e.initiator == "proxy" && e.cause == "lifetime";
      // A close with a SQLSTATE names its own cause (the kinds in refusals).
      if (!own_lifetime && e.sqlstate.empty()) {
        samples.push_back({static_cast<double>(e.age_ms), i});
      }
    }
    for (const Cluster& c : find_clusters(std::move(samples), min_count, kMinAgeShare)) {
      Events members;
      for (size_t i : c.indices) members.push_back(window[i]);
      if (shared_idle_ms(members, kIdleWithinAgeShare)) continue;
      // Connections opened together and closed in one moment (pgbench ending,
      // a restart) share an age without any lifetime policy: a lifetime shows
      // as closes spread over time, not as most of them at once.
      if (2 * most_within(members, cfg.burst_window) > members.size()) continue;
      Finding f = make_finding("fixed_age", members);
      const long n = std::lround(c.median_ms / 1000);
      f.value = static_cast<double>(n);
      f.key = fmt::format("fixed_age/{}/{}", side, key_seconds(c.median_ms / 1000));
      f.summary =
          fmt::format("{} {} connections ended at age {} s while their idle times varied ({}): {}.",
                      f.count, side, n, counts_text(f.causes), lifetime_source(n));
      f.fix = fmt::format(
          "Find what retires connections at {} s (the app pool's maxLifetime / "
          "maxLifetimeSeconds / max_lifetime, a proxy's server lifetime, RDS Proxy); if it is "
          "intended, make sure the pool replaces connections between uses and the app retries "
          "on connection errors, otherwise raise or disable it.",
          n);
      out.push_back(std::move(f));
    }
  }
  return out;
}

}  // namespace pgw::observe::forensics
