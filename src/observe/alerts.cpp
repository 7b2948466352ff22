#include "pgwarden/observe/alerts.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "alerts_text.hpp"

namespace pgw::observe {

namespace {

// close_rate counts closes and refused server connections alike: both end
// a connection and carry a cause.
bool counted_by_close_rate(const AlertRuleConfig& r, const ConnectionEvent& e) {
  if (!e.event.ends_with(".close") && e.event != "server.connect_failed") return false;
  auto matches = [](const std::string& want, const std::string& got) {
    return want.empty() || want == got;
  };
  return matches(r.cause, e.cause) && matches(r.side, e.side) && matches(r.initiator, e.initiator);
}

// sink_failing compares time down with its window, so that is its threshold.
int threshold_of(const AlertRuleConfig& r) {
  if (r.kind != "sink_failing") return r.threshold;
  return static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(r.window).count());
}

bool counts(const AlertRuleConfig& r, const ConnectionEvent& e) {
  if (r.kind == "close_rate") return counted_by_close_rate(r, e);
  if (r.kind == "wait_timeouts") return e.event == "pool.timeout";
  return false;
}

}  // namespace

AlertEngine::AlertEngine(AlertsConfig cfg) : cfg_(std::move(cfg)) {
  for (const AlertRuleConfig& r : cfg_.rules) rules_.push_back(Rule{r});
}

void AlertEngine::on_event(const ConnectionEvent& e) {
  std::lock_guard lock(mu_);
  for (Rule& r : rules_) {
    if (!counts(r.cfg, e)) continue;
    const auto horizon = e.ts - r.cfg.window;
    while (!r.hits.empty() && (r.hits.size() >= kMaxHitsPerRule || r.hits.front() < horizon)) {
      r.hits.pop_front();
    }
    r.hits.push_back(e.ts);
  }
}

void AlertEngine::set_headroom(const std::string& backend, int free_connections) {
  std::lock_guard lock(mu_);
  if (free_connections < 0) {
    headroom_.erase(backend);
  } else {
    headroom_[backend] = free_connections;
  }
}

void AlertEngine::set_sink_down(const std::string& sink, bool down, SystemClock::time_point since) {
  std::lock_guard lock(mu_);
  if (!down) {
    sinks_down_.erase(sink);
  } else {
    // A sink reported down again keeps the time it first went down.
    sinks_down_.try_emplace(sink, since);
  }
}

// Sets r.value and r.subject from the current inputs.
void AlertEngine::measure(Rule& r, SystemClock::time_point now) {
  r.subject.clear();
  if (r.cfg.kind == "close_rate" || r.cfg.kind == "wait_timeouts") {
    const auto horizon = now - r.cfg.window;
    while (!r.hits.empty() && r.hits.front() < horizon) r.hits.pop_front();
    r.value = static_cast<double>(r.hits.size());
  } else if (r.cfg.kind == "headroom") {
    auto lowest =
        std::min_element(headroom_.begin(), headroom_.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    r.value = lowest == headroom_.end() ? 0 : lowest->second;
    if (lowest != headroom_.end()) r.subject = lowest->first;
  } else if (r.cfg.kind == "sink_failing") {
    r.value = 0;
    for (const auto& [sink, since] : sinks_down_) {
      double down_s = std::chrono::duration<double>(now - since).count();
      if (r.subject.empty() || down_s > r.value) {
        r.value = std::max(0.0, std::floor(down_s));
        r.subject = sink;
      }
    }
  }
}

std::vector<AlertNotice> AlertEngine::evaluate(SystemClock::time_point now) {
  std::lock_guard lock(mu_);
  std::vector<AlertNotice> notices;
  for (Rule& r : rules_) {
    measure(r, now);
    bool condition = false;
    if (r.cfg.kind == "close_rate" || r.cfg.kind == "wait_timeouts") {
      condition = r.value >= r.cfg.threshold;
    } else if (r.cfg.kind == "headroom") {
      condition = !r.subject.empty() && r.value <= r.cfg.threshold;
    } else if (r.cfg.kind == "sink_failing") {
      condition = !r.subject.empty() && now - sinks_down_.at(r.subject) >= r.cfg.window;
    }

    std::string status;
    if (condition && !r.firing) {
      status = "firing";
      r.firing = true;
      r.since = now;
      r.last_sent = now;
    } else if (condition && cfg_.repeat_interval.count() > 0 &&
               now - r.last_sent >= cfg_.repeat_interval) {
      status = "repeat";
      r.last_sent = now;
    } else if (!condition && r.firing) {
      status = "resolved";
      r.firing = false;
    }
    if (status.empty()) continue;
    AlertNotice n;
    n.rule = r.cfg.name;
    n.kind = r.cfg.kind;
    n.status = status;
    n.value = r.value;
    n.threshold = threshold_of(r.cfg);
    n.at = now;
    n.since = r.since;
    n.text = alert_text(r.cfg, status, r.value, r.subject, r.since, now);
    notices.push_back(std::move(n));
  }
  return notices;
}

std::vector<AlertState> AlertEngine::states() const {
  std::lock_guard lock(mu_);
  std::vector<AlertState> out;
  for (const Rule& r : rules_) {
    AlertState s;
    s.rule = r.cfg.name;
    s.kind = r.cfg.kind;
    s.firing = r.firing;
    s.value = r.value;
    s.threshold = threshold_of(r.cfg);
    s.since = r.since;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace pgw::observe
