// Many connections dropped by the server or the network at once, told apart
// by the server's last words: a crash restart (57P02), a planned restart or
// failover (57P01/57P03), or no words at all (a network blip).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <set>

#include "forensics_patterns.hpp"

namespace pgw::observe::forensics {

namespace {

constexpr const char* kCrashShutdown = "57P02";
constexpr const char* kAdminShutdown = "57P01";
constexpr const char* kCannotConnectNow = "57P03";

bool by_time(const ObservedEvent* a, const ObservedEvent* b) {
  return a->ts < b->ts;
}

// A client that lost its server link closes with the link's cause and
// initiator a moment after the link's server.close, which says
// client_impact "disconnected": one drop, reported by the link. Marks those
// client closes in `drops` (sorted by time).
std::vector<bool> mirrors_of_lost_links(const Events& drops, const ForensicsConfig& cfg) {
  std::vector<bool> mirror(drops.size(), false);
  std::map<std::pair<std::string, std::string>, std::deque<const ObservedEvent*>> unpaired;
  for (size_t i = 0; i < drops.size(); ++i) {
    const ObservedEvent& e = *drops[i];
    auto& links = unpaired[{e.cause, e.initiator}];
    if (e.side == "server") {
      if (e.client_impact == "disconnected") links.push_back(&e);
      continue;
    }
    while (!links.empty() && e.ts - links.front()->ts > cfg.burst_window) links.pop_front();
    if (!links.empty()) {
      links.pop_front();
      mirror[i] = true;
    }
  }
  return mirror;
}

enum class Verdict { crash_restart, planned_restart, no_words };

// The server's last words decide: one 57P02 means the postmaster ended the
// sessions because a backend crashed (the crashed one itself closed
// without a word).
Verdict verdict_of(const std::map<std::string, uint64_t>& sqlstates) {
  if (sqlstates.contains(kCrashShutdown)) return Verdict::crash_restart;
  if (sqlstates.contains(kAdminShutdown) || sqlstates.contains(kCannotConnectNow))
    return Verdict::planned_restart;
  return Verdict::no_words;
}

}  // namespace

std::vector<Events> find_bursts(const Events& window, const ForensicsConfig& cfg) {
  Events closes;
  for (const ObservedEvent* e : window) {
    if (is_close(*e) && initiated_by_server_or_network(*e)) closes.push_back(e);
  }
  std::stable_sort(closes.begin(), closes.end(), by_time);
  const std::vector<bool> mirror = mirrors_of_lost_links(closes, cfg);
  Events drops;
  for (size_t i = 0; i < closes.size(); ++i) {
    if (!mirror[i]) drops.push_back(closes[i]);
  }
  const auto burst_min = static_cast<size_t>(std::max(cfg.burst_min, 1));

  // Mark every drop inside some burst_window-long span holding burst_min
  // distinct connections; marked drops with overlapping spans join one burst.
  std::vector<bool> marked(drops.size(), false);
  std::map<uint64_t, size_t> conns_in_span;  // conn id -> drops of it in [b, e)
  size_t e = 0;
  for (size_t b = 0; b < drops.size(); ++b) {
    while (e < drops.size() && drops[e]->ts - drops[b]->ts <= cfg.burst_window) {
      ++conns_in_span[drops[e]->conn_id];
      ++e;
    }
    if (conns_in_span.size() >= burst_min) {
      for (size_t i = b; i < e; ++i) marked[i] = true;
    }
    auto it = conns_in_span.find(drops[b]->conn_id);
    if (--it->second == 0) conns_in_span.erase(it);
  }

  std::vector<Events> bursts;
  for (size_t i = 0; i < drops.size(); ++i) {
    if (!marked[i]) continue;
    bool joins = i > 0 && marked[i - 1] && drops[i]->ts - drops[i - 1]->ts <= cfg.burst_window;
    if (!joins) bursts.emplace_back();
    bursts.back().push_back(drops[i]);
  }
  return bursts;
}

Finding burst_finding(const Events& members) {
  std::set<uint64_t> conns;
  std::map<std::string, uint64_t> sqlstates;
  uint64_t without_words = 0;
  for (const ObservedEvent* e : members) {
    conns.insert(e->conn_id);
    if (!e->sqlstate.empty()) ++sqlstates[e->sqlstate];
    if (e->side == "server" && e->sqlstate.empty()) ++without_words;
  }
  const Verdict verdict = verdict_of(sqlstates);
  const char* kind = verdict == Verdict::crash_restart     ? "server_crash"
                     : verdict == Verdict::planned_restart ? "server_restart"
                                                           : "burst";
  Finding f = make_finding(kind, members);
  f.value = static_cast<double>(conns.size());
  const std::string at = utc_second(f.first);
  f.key = std::string(kind) + "/" + at;
  const double span_s = std::chrono::duration<double>(f.last - f.first).count();
  std::string why = "causes " + counts_text(f.causes);
  if (!sqlstates.empty()) why += "; sqlstates " + counts_text(sqlstates);
  const std::string dropped = fmt::format("{} connections dropped within {} at {} ({})",
                                          conns.size(), seconds_text(span_s), at, why);
  const std::string retry =
      "make the apps retry on connection errors and handle failover (reconnect, re-run "
      "idempotent work).";
  switch (verdict) {
    case Verdict::crash_restart:
      f.summary = fmt::format(
          "{}: a crash restart: {} closed without a word (the server process that died) and the "
          "postmaster ended the rest with {} (crash of another server process).",
          dropped, without_words, kCrashShutdown);
      f.fix = fmt::format(
          "Look for the OOM killer or a kill -9 around {}: the server log ('server process (PID "
          "N) was terminated by signal 9: Killed') and the kernel log (dmesg, journalctl -k: 'Out "
          "of memory: Killed process'); give the server memory headroom (work_mem, "
          "max_connections, shared_buffers) or find who kills it; {}",
          at, retry);
      break;
    case Verdict::planned_restart:
      f.summary = fmt::format(
          "{}: a planned restart or failover: the server said it was shutting down or not "
          "accepting connections.",
          dropped);
      f.fix = fmt::format(
          "Check the server log around {} for the shutdown, restart or failover (or a mass "
          "pg_terminate_backend) and who started it; {}",
          at, retry);
      break;
    case Verdict::no_words:
      f.summary = fmt::format(
          "{}: no words from the server (resets, timeouts, EOFs): a network blip, or a server or "
          "host that died without a word.",
          dropped);
      f.fix = fmt::format(
          "Check the network path around {} (resets, timeouts: firewalls, NAT, load balancers, "
          "the host's interface) and the server log (shutdown, crash, failover); {}",
          at, retry);
      break;
  }
  return f;
}

}  // namespace pgw::observe::forensics
