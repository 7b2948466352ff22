#include "pgwarden/observe/forensics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <unordered_map>

#include "forensics_patterns.hpp"

namespace pgw::observe {

namespace {

constexpr double kSimultaneousCutShare = 0.8;
constexpr double kMinSimultaneousCutIdleMs = 10'000;

bool server_spoke(const forensics::Events& closes) {
  return std::any_of(closes.begin(), closes.end(),
                     [](const ObservedEvent* e) { return !e->sqlstate.empty(); });
}

bool worth_keeping(const ConnectionEvent& e) {
  return e.event.ends_with(".close") || e.event == "server.connect_failed" ||
         e.event == "pool.timeout" || e.event == "pool.wait";
}

ObservedEvent observed(const ConnectionEvent& e) {
  ObservedEvent o;
  o.ts = e.ts;
  o.event = e.event;
  // Events always carry a side today; the event name says it if one does not.
  o.side = !e.side.empty() ? e.side : e.event.substr(0, e.event.find('.'));
  o.initiator = e.initiator;
  o.cause = e.cause;
  o.sqlstate = e.sqlstate;
  o.pool = e.pool;
  o.application_name = e.application_name;
  o.backend = e.backend;
  o.peer_host = forensics::peer_host(e.peer);
  o.client_impact = e.client_impact;
  o.conn_id = e.conn_id;
  o.age_ms = e.age_ms;
  o.idle_ms = e.idle_ms;
  o.wait_ms = e.wait_ms;
  return o;
}

// Two findings of one kind may land on one key (two bursts starting within
// one second); later ones get "#2", "#3".
void make_keys_unique(std::vector<Finding>& findings) {
  std::map<std::string, int> seen;
  for (Finding& f : findings) {
    int n = ++seen[f.key];
    if (n > 1) f.key += "#" + std::to_string(n);
  }
}

}  // namespace

Forensics::Forensics(ForensicsConfig cfg) : cfg_(std::move(cfg)) {}

void Forensics::on_event(const ConnectionEvent& e) {
  if (!cfg_.enabled || !worth_keeping(e)) return;
  ObservedEvent o = observed(e);
  std::lock_guard lock(mu_);
  if (arrived_.size() >= kMaxEvents) arrived_.pop_front();
  arrived_.push_back(std::move(o));
}

Forensics::Evaluation Forensics::evaluate(SystemClock::time_point now) {
  using namespace forensics;
  std::lock_guard eval_lock(eval_mu_);
  {
    std::lock_guard lock(mu_);
    for (ObservedEvent& o : arrived_) window_.push_back(std::move(o));
    arrived_.clear();
  }
  const auto horizon = now - cfg_.window;
  while (!window_.empty() && (window_.size() > kMaxEvents || window_.front().ts < horizon)) {
    window_.pop_front();
  }

  Events window;
  window.reserve(window_.size());
  // Arrival order is nearly time order; a late straggler older than the
  // window stays out of the analysis.
  for (const ObservedEvent& e : window_) {
    if (e.ts >= horizon) window.push_back(&e);
  }

  std::vector<Finding> all;
  if (cfg_.enabled) {
    // Index of each event, built only when a burst or an exit needs it (most windows
    // have none, and a map entry per event would cost an allocation each).
    std::unordered_map<const ObservedEvent*, size_t> position;
    auto index_of = [&](const ObservedEvent* e) {
      if (position.empty()) {
        position.reserve(window.size());
        for (size_t i = 0; i < window.size(); ++i) position[window[i]] = i;
      }
      return position.at(e);
    };

    // A burst explains its closes, unless nearly all share one idle age of
    // some length and the server said nothing: then they are connections cut
    // at once after the same idle time, and the idle cut below names them.
    // (Busy connections all have a short idle age; that says nothing. Idle
    // links that went idle together and then got the server's 57P02 were
    // ended by a crash restart, not cut.)
    std::vector<bool> explained_elsewhere(window.size(), false);
    std::vector<Finding> burst_findings;
    for (const Events& b : find_bursts(window, cfg_)) {
      auto idle = shared_idle_ms(b, kSimultaneousCutShare);
      if (idle && *idle >= kMinSimultaneousCutIdleMs && !server_spoke(b)) continue;
      for (const ObservedEvent* e : b) explained_elsewhere[index_of(e)] = true;
      burst_findings.push_back(burst_finding(b));
    }
    // A peer's process that exited closed its connections at whatever idle
    // and connection age they had: that says nothing about the network.
    std::vector<Finding> exit_findings;
    for (const Events& exit : find_client_exits(window, cfg_)) {
      for (const ObservedEvent* e : exit) explained_elsewhere[index_of(e)] = true;
      exit_findings.push_back(client_exit_finding(exit));
    }
    std::vector<bool> explained = explained_elsewhere;
    std::vector<Finding> idle_cuts = find_idle_cuts(window, explained_elsewhere, cfg_, explained);

    for (Finding& f : idle_cuts) all.push_back(std::move(f));
    for (Finding& f : find_fixed_ages(window, explained, cfg_)) all.push_back(std::move(f));
    for (Finding& f : burst_findings) all.push_back(std::move(f));
    for (Finding& f : exit_findings) all.push_back(std::move(f));
    for (Finding& f : find_refusals_and_kills(window, cfg_)) all.push_back(std::move(f));
    make_keys_unique(all);
  }

  Evaluation result;
  std::set<std::string> keys;
  for (const Finding& f : all) {
    keys.insert(f.key);
    if (!last_keys_.contains(f.key)) result.fresh.push_back(f);
  }
  last_keys_ = std::move(keys);
  {
    std::lock_guard lock(mu_);
    last_ = all;
  }
  result.all = std::move(all);
  return result;
}

std::vector<Finding> Forensics::findings() const {
  std::lock_guard lock(mu_);
  return last_;
}

nlohmann::json to_json(const Finding& f) {
  nlohmann::json j;
  j["kind"] = f.kind;
  j["key"] = f.key;
  j["summary"] = f.summary;
  j["fix"] = f.fix;
  j["count"] = f.count;
  j["first"] = format_ts(f.first);
  j["last"] = format_ts(f.last);
  j["conn_ids"] = f.conn_ids;
  if (!f.pool.empty()) j["pool"] = f.pool;
  if (!f.application_name.empty()) j["application_name"] = f.application_name;
  if (!f.backend.empty()) j["backend"] = f.backend;
  if (!f.peer.empty()) j["peer"] = f.peer;
  j["value"] = f.value;
  j["causes"] = f.causes;
  // application_name comes from clients: replace invalid UTF-8 now so no
  // later dump() of this object can throw.
  return nlohmann::json::parse(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

ConnectionEvent finding_event(const Finding& f) {
  ConnectionEvent e;
  e.event = "forensics.finding";
  e.cause = f.kind;
  e.message = f.summary + " Fix: " + f.fix;
  e.pool = f.pool;
  e.application_name = f.application_name;
  e.backend = f.backend;
  return e;
}

void validate_forensics(const ForensicsConfig& cfg) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("[forensics] " + what); };
  if (cfg.window.count() <= 0) fail("window must be positive");
  if (cfg.min_count < 1) fail(fmt::format("min_count must be at least 1 (got {})", cfg.min_count));
  if (cfg.burst_window.count() <= 0) fail("burst_window must be positive");
  if (cfg.burst_min < 2) fail(fmt::format("burst_min must be at least 2 (got {})", cfg.burst_min));
  if (cfg.evaluate_every.count() <= 0) fail("evaluate_every must be positive");
}

}  // namespace pgw::observe
