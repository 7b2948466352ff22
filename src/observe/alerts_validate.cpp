#include <fmt/format.h>

#include <set>
#include <stdexcept>

#include "pgwarden/observe/alerts.hpp"

namespace pgw::observe {

namespace {

const std::set<std::string> kKinds = {"close_rate", "wait_timeouts", "headroom", "sink_failing"};
const std::set<std::string> kSides = {"client", "server"};
const std::set<std::string> kInitiators = {"client", "server", "proxy", "network"};

[[noreturn]] void fail(const std::string& what) {
  throw std::invalid_argument(what);
}

void validate_rule(const AlertRuleConfig& r, size_t index) {
  const std::string where = r.name.empty()
                                ? fmt::format("[[alerts.rule]] #{}", index + 1)
                                : fmt::format("[[alerts.rule]] #{} \"{}\"", index + 1, r.name);
  if (r.name.empty()) fail(where + ": name is required");
  if (!kKinds.contains(r.kind)) {
    fail(fmt::format(
        "{}: unknown kind \"{}\" (expected close_rate, wait_timeouts, headroom or sink_failing)",
        where, r.kind));
  }
  if (r.threshold < 0) fail(fmt::format("{}: threshold must be >= 0 (got {})", where, r.threshold));
  if ((r.kind == "close_rate" || r.kind == "wait_timeouts") && r.threshold < 1) {
    fail(fmt::format("{}: threshold must be >= 1 for {} (0 would fire with no events)", where,
                     r.kind));
  }
  if (r.kind != "headroom" && r.window.count() <= 0) {
    fail(fmt::format("{}: window must be positive for {}", where, r.kind));
  }
  if (r.kind != "close_rate" && (!r.cause.empty() || !r.side.empty() || !r.initiator.empty())) {
    fail(fmt::format("{}: cause, side and initiator apply only to kind close_rate, not {}", where,
                     r.kind));
  }
  if (!r.side.empty() && !kSides.contains(r.side)) {
    fail(fmt::format("{}: unknown side \"{}\" (expected client or server)", where, r.side));
  }
  if (!r.initiator.empty() && !kInitiators.contains(r.initiator)) {
    fail(fmt::format("{}: unknown initiator \"{}\" (expected client, server, proxy or network)",
                     where, r.initiator));
  }
}

}  // namespace

void validate_alerts(const AlertsConfig& cfg) {
  if (!cfg.webhook_url.empty() && !cfg.webhook_url.starts_with("http://")) {
    fail(fmt::format("[alerts] webhook_url must be an http:// URL (got \"{}\")", cfg.webhook_url));
  }
  if (cfg.evaluate_every.count() <= 0) fail("[alerts] evaluate_every must be positive");
  if (cfg.repeat_interval.count() < 0) fail("[alerts] repeat_interval must be >= 0 (0 = never)");
  if (cfg.timeout.count() <= 0) fail("[alerts] timeout must be positive");
  std::set<std::string> names;
  for (size_t i = 0; i < cfg.rules.size(); ++i) {
    validate_rule(cfg.rules[i], i);
    if (!names.insert(cfg.rules[i].name).second) {
      fail(fmt::format("[[alerts.rule]] #{}: duplicate name \"{}\"", i + 1, cfg.rules[i].name));
    }
  }
}

}  // namespace pgw::observe
