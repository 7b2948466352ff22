#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <set>

#include "forensics_patterns.hpp"

namespace pgw::observe::forensics {

namespace {

constexpr size_t kMaxConnIds = 10;

// Keeps a field's value while every member agrees, else empties it.
class Common {
 public:
  void see(const std::string& v) {
    if (!seen_) {
      value_ = v;
      seen_ = true;
    } else if (value_ != v) {
      value_.clear();
    }
  }
  std::string value() const { return value_; }

 private:
  bool seen_ = false;
  std::string value_;
};

}  // namespace

bool is_close(const ObservedEvent& e) {
  return e.event.ends_with(".close");
}

bool initiated_by_server_or_network(const ObservedEvent& e) {
  return e.initiator == "server" || e.initiator == "network";
}

Finding make_finding(std::string kind, const Events& members) {
  Finding f;
  f.kind = std::move(kind);
  f.count = members.size();
  Events by_time = members;
  std::stable_sort(by_time.begin(), by_time.end(),
                   [](const ObservedEvent* a, const ObservedEvent* b) { return a->ts < b->ts; });
  Common pool, app, backend;
  std::set<uint64_t> ids;
  if (!by_time.empty()) {
    f.first = by_time.front()->ts;
    f.last = by_time.back()->ts;
  }
  for (const ObservedEvent* e : by_time) {
    if (!e->cause.empty()) ++f.causes[e->cause];
    if (e->conn_id && f.conn_ids.size() < kMaxConnIds && ids.insert(e->conn_id).second) {
      f.conn_ids.push_back(e->conn_id);
    }
    pool.see(e->pool);
    app.see(e->application_name);
    backend.see(e->backend);
  }
  f.pool = pool.value();
  f.application_name = app.value();
  f.backend = backend.value();
  return f;
}

std::string seconds_text(double seconds) {
  if (seconds >= 10) return fmt::format("{} s", std::llround(seconds));
  return fmt::format("{:.1f} s", seconds);
}

std::string utc_second(SystemClock::time_point tp) {
  std::time_t secs = SystemClock::to_time_t(std::chrono::floor<std::chrono::seconds>(tp));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", tm);
}

std::string counts_text(const std::map<std::string, uint64_t>& counts) {
  std::vector<std::pair<std::string, uint64_t>> sorted(counts.begin(), counts.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out;
  for (const auto& [name, n] : sorted) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{}×{}", name, n);
  }
  return out;
}

}  // namespace pgw::observe::forensics
