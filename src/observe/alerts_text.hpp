#pragma once
// The words of an alert: one line naming the rule, its value, threshold and
// window, and what the condition means.
#include <string>

#include "pgwarden/core/config.hpp"
#include "pgwarden/observe/event.hpp"

namespace pgw::observe {

// `subject`: the backend (headroom) or the sink (sink_failing) the value is about.
std::string alert_text(const AlertRuleConfig& rule, const std::string& status, double value,
                       const std::string& subject, SystemClock::time_point since,
                       SystemClock::time_point at);

}  // namespace pgw::observe
