#pragma once
// Drop forensics: watches close events over a sliding window and names the
// patterns behind them (a middlebox idle cut, a max-lifetime, a burst, an
// exhausted pool...), each with its evidence and a concrete fix. See
// docs/forensics.md. Thread-safe: on_event() runs on proxy threads and only
// appends to a bounded window; evaluate() does the analysis.
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "pgwarden/core/config.hpp"
#include "pgwarden/observe/event.hpp"

namespace pgw::observe {

struct Finding {
  std::string kind;  // idle_cut, fixed_age, burst, client_exit, pool_exhaustion, ...
  std::string key;   // stable id across evaluations, e.g. "idle_cut/server/350"
  std::string summary, fix;
  uint64_t count = 0;  // events behind the finding
  SystemClock::time_point first{}, last{};
  std::vector<uint64_t> conn_ids;  // up to 10, earliest first
  // Set when every event behind the finding agrees on it.
  std::string pool, application_name, backend;
  std::string peer;  // client_exit: the client host whose connections closed
  double value = 0;  // the pattern's number: idle or age seconds, burst size, max wait...
  std::map<std::string, uint64_t> causes;
};

nlohmann::json to_json(const Finding& f);
// event "forensics.finding", cause = kind, message = summary + " Fix: " + fix.
ConnectionEvent finding_event(const Finding& f);

// The fields of a ConnectionEvent that forensics reads; kept instead of the
// whole event so a full window stays small.
struct ObservedEvent {
  SystemClock::time_point ts;
  std::string event, side, initiator, cause, sqlstate;
  std::string pool, application_name, backend;
  std::string peer_host;  // the client's address without its port ("" if unknown)
  std::string client_impact;
  uint64_t conn_id = 0;
  int64_t age_ms = -1, idle_ms = -1, wait_ms = -1;
};

class Forensics {
 public:
  static constexpr size_t kMaxEvents = 50'000;

  explicit Forensics(ForensicsConfig cfg);

  void on_event(const ConnectionEvent& e);

  struct Evaluation {
    std::vector<Finding> all;
    std::vector<Finding> fresh;  // keys absent from the previous evaluate()
  };
  Evaluation evaluate(SystemClock::time_point now);

  // What the last evaluate() found.
  std::vector<Finding> findings() const;

 private:
  ForensicsConfig cfg_;
  // Publishing threads only append to `arrived_` under `mu_`; evaluate()
  // moves those into `window_` and analyses it under `eval_mu_`, so a long
  // analysis never makes a connection's close wait.
  mutable std::mutex mu_;
  std::deque<ObservedEvent> arrived_;
  std::vector<Finding> last_;
  std::mutex eval_mu_;
  std::deque<ObservedEvent> window_;
  std::set<std::string> last_keys_;
};

// Throws std::invalid_argument naming the [forensics] key that is wrong.
void validate_forensics(const ForensicsConfig& cfg);

}  // namespace pgw::observe
