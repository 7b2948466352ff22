#pragma once
// Alert rules ([[alerts.rule]]) evaluated over the event stream and the
// proxy's health inputs. A firing alert notifies once, then again every
// repeat_interval (if set), and once more when it clears. See docs/alerts.md.
// Thread-safe; no sockets: the caller delivers notices (webhook, events).
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "pgwarden/core/config.hpp"
#include "pgwarden/observe/event.hpp"

namespace pgw::observe {

struct AlertNotice {
  std::string rule, kind;
  std::string status;  // firing | resolved | repeat
  std::string text;    // one line for humans (Slack `text`)
  double value = 0;
  int threshold = 0;                      // sink_failing: the rule's window in seconds
  SystemClock::time_point at{}, since{};  // since: when the alert started firing
};

// {"text": ..., "rule", "kind", "status", "value", "threshold", "since", "at"}
std::string webhook_json(const AlertNotice& n);
// event "alert.firing" | "alert.resolved" | "alert.repeat", cause = rule, message = text.
ConnectionEvent notice_event(const AlertNotice& n);

struct AlertState {
  std::string rule, kind;
  bool firing = false;
  double value = 0;  // as of the last evaluate()
  int threshold = 0;
  SystemClock::time_point since{};  // meaningful while firing
};
nlohmann::json to_json(const AlertState& s);

class AlertEngine {
 public:
  static constexpr size_t kMaxHitsPerRule = 100'000;

  explicit AlertEngine(AlertsConfig cfg);

  void on_event(const ConnectionEvent& e);
  // Free server connections below max_connections; a negative value forgets the backend.
  void set_headroom(const std::string& backend, int free_connections);
  void set_sink_down(const std::string& sink, bool down, SystemClock::time_point since);

  std::vector<AlertNotice> evaluate(SystemClock::time_point now);
  std::vector<AlertState> states() const;

 private:
  struct Rule {
    AlertRuleConfig cfg;
    std::deque<SystemClock::time_point> hits;  // close_rate, wait_timeouts
    bool firing = false;
    double value = 0;
    std::string subject;  // headroom: the backend; sink_failing: the sink
    SystemClock::time_point since{}, last_sent{};
  };
  void measure(Rule& r, SystemClock::time_point now);

  AlertsConfig cfg_;
  mutable std::mutex mu_;
  std::vector<Rule> rules_;
  std::map<std::string, int> headroom_;
  std::map<std::string, SystemClock::time_point> sinks_down_;
};

// Throws std::invalid_argument with the first problem, naming the rule.
void validate_alerts(const AlertsConfig& cfg);

}  // namespace pgw::observe
