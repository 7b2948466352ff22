#pragma once
// Close events for the forensics unit tests: times are offsets from t0, the
// fields are the ones the proxy fills in for a close.
#include <chrono>
#include <string>
#include <vector>

#include "pgwarden/observe/forensics.hpp"

namespace pgw::test::forensics {

using observe::ConnectionEvent;
using observe::Finding;
using observe::SystemClock;

// 2027-01-15T08:00:00Z
inline const SystemClock::time_point t0 =
    SystemClock::time_point{} + std::chrono::seconds(1'800'000'000);

inline SystemClock::time_point at_ms(int64_t ms) {
  return t0 + std::chrono::milliseconds(ms);
}

inline ConnectionEvent close_event(const std::string& side, uint64_t id, int64_t ts_ms,
                                   const std::string& initiator, const std::string& cause,
                                   int64_t idle_ms, int64_t age_ms,
                                   const std::string& sqlstate = "") {
  ConnectionEvent e;
  e.ts = at_ms(ts_ms);
  e.event = side + ".close";
  e.side = side;
  e.conn_id = id;
  e.initiator = initiator;
  e.cause = cause;
  e.idle_ms = idle_ms;
  e.age_ms = age_ms;
  e.sqlstate = sqlstate;
  e.pool = "app/alice";
  if (side == "server") e.backend = "10.0.0.5:5432";
  return e;
}

inline ConnectionEvent pool_event(const std::string& event, uint64_t id, int64_t ts_ms,
                                  int64_t wait_ms = -1) {
  ConnectionEvent e;
  e.ts = at_ms(ts_ms);
  e.event = event;
  e.side = "client";
  e.conn_id = id;
  e.pool = "app/alice";
  e.application_name = "web";
  e.wait_ms = wait_ms;
  if (event == "pool.timeout") {
    e.initiator = "proxy";
    e.cause = "query_wait_timeout";
    e.sqlstate = "53000";
  }
  return e;
}

inline std::vector<Finding> of_kind(const std::vector<Finding>& all, const std::string& kind) {
  std::vector<Finding> out;
  for (const Finding& f : all) {
    if (f.kind == kind) out.push_back(f);
  }
  return out;
}

}  // namespace pgw::test::forensics
