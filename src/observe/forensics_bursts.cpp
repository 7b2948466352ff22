// burst: many connections dropped by the server or the network at once — a
// restart, a failover or a network blip.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "forensics_patterns.hpp"

namespace pgw::observe::forensics {

std::vector<Events> find_bursts(const Events& window, const ForensicsConfig& cfg) {
  Events drops;
  for (const ObservedEvent* e : window) {
    if (is_close(*e) && initiated_by_server_or_network(*e)) drops.push_back(e);
  }
  std::stable_sort(drops.begin(), drops.end(),
                   [](const ObservedEvent* a, const ObservedEvent* b) { return a->ts < b->ts; });
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
  Finding f = make_finding("burst", members);
  std::set<uint64_t> conns;
  std::map<std::string, uint64_t> sqlstates;
  for (const ObservedEvent* e : members) {
    conns.insert(e->conn_id);
    if (!e->sqlstate.empty()) ++sqlstates[e->sqlstate];
  }
  f.value = static_cast<double>(conns.size());
  const std::string at = utc_second(f.first);
  f.key = "burst/" + at;
  const double span_s = std::chrono::duration<double>(f.last - f.first).count();
  std::string why = "causes " + counts_text(f.causes);
  if (!sqlstates.empty()) why += "; sqlstates " + counts_text(sqlstates);
  f.summary = fmt::format(
      "{} connections dropped within {} at {} ({}): a server restart, failover or network blip.",
      conns.size(), seconds_text(span_s), at, why);
  f.fix = fmt::format(
      "Check the server log around {} (shutdown, crash, failover, pg_terminate_backend) and the "
      "network path; make the apps retry on connection errors and handle failover (reconnect, "
      "re-run idempotent work).",
      at);
  return f;
}

}  // namespace pgw::observe::forensics
