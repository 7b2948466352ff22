#include "alerts_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include <nlohmann/json.hpp>

#include "pgwarden/observe/alerts.hpp"

namespace pgw::observe {

namespace {

// "60s", "300s", "1500ms": alert readers compare windows, so one unit.
std::string duration_text(Millis d) {
  if (d.count() % 1000 == 0) return fmt::format("{}s", d.count() / 1000);
  return fmt::format("{}ms", d.count());
}

std::string plural(long long n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string close_rate_body(const AlertRuleConfig& r, long long n) {
  std::string what = r.side.empty() ? "" : r.side + " ";
  what += n == 1 ? "close" : "closes";
  if (!r.initiator.empty()) what += " initiated by " + r.initiator;
  if (!r.cause.empty()) what += " with cause " + r.cause;
  return fmt::format("{} {} in the last {} (threshold {})", n, what, duration_text(r.window),
                     r.threshold);
}

std::string body(const AlertRuleConfig& r, long long n, const std::string& subject) {
  if (r.kind == "close_rate") return close_rate_body(r, n);
  if (r.kind == "wait_timeouts") {
    return fmt::format("{} timed out waiting for a server connection in the last {} (threshold {})",
                       plural(n, "client", "clients"), duration_text(r.window), r.threshold);
  }
  if (r.kind == "headroom") {
    if (subject.empty()) return fmt::format("no headroom measured (threshold {})", r.threshold);
    return fmt::format("{} on {} (threshold {})",
                       plural(n, "free server connection", "free server connections"), subject,
                       r.threshold);
  }
  if (subject.empty()) {
    return fmt::format("every event sink delivering (alert after {} down)",
                       duration_text(r.window));
  }
  return fmt::format("event sink {} down for {}s (alert after {} down)", subject, n,
                     duration_text(r.window));
}

std::string meaning(const AlertRuleConfig& r) {
  if (r.kind == "wait_timeouts")
    return ": a pool is exhausted; clients get errors instead of a connection";
  if (r.kind == "headroom")
    return ": the server is close to max_connections; new logins will fail with 53300";
  if (r.kind == "sink_failing") return ": events are not reaching it";
  return "";  // a close_rate body already says what it counts
}

std::string elapsed(SystemClock::time_point since, SystemClock::time_point at) {
  auto secs =
      std::chrono::floor<std::chrono::seconds>(std::max(at - since, SystemClock::duration{}));
  return duration_text(std::chrono::duration_cast<Millis>(secs));
}

}  // namespace

std::string alert_text(const AlertRuleConfig& rule, const std::string& status, double value,
                       const std::string& subject, SystemClock::time_point since,
                       SystemClock::time_point at) {
  const long long n = std::llround(value);
  std::string upper = status;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  std::string text = fmt::format("[{}] {}: {}", upper, rule.name, body(rule, n, subject));
  if (status == "firing") return text + meaning(rule);
  if (status == "repeat") return text + meaning(rule) + "; firing for " + elapsed(since, at);
  return text + "; fired for " + elapsed(since, at);
}

std::string webhook_json(const AlertNotice& n) {
  nlohmann::ordered_json j;
  j["text"] = n.text;  // what Slack-compatible receivers display
  j["rule"] = n.rule;
  j["kind"] = n.kind;
  j["status"] = n.status;
  j["value"] = n.value;
  j["threshold"] = n.threshold;
  j["since"] = format_ts(n.since);
  j["at"] = format_ts(n.at);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ConnectionEvent notice_event(const AlertNotice& n) {
  ConnectionEvent e;
  e.ts = n.at;
  e.event = "alert." + n.status;
  e.cause = n.rule;
  e.message = n.text;
  return e;
}

nlohmann::json to_json(const AlertState& s) {
  nlohmann::json j;
  j["rule"] = s.rule;
  j["kind"] = s.kind;
  j["firing"] = s.firing;
  j["value"] = s.value;
  j["threshold"] = s.threshold;
  if (s.firing) j["since"] = format_ts(s.since);
  return j;
}

}  // namespace pgw::observe
