#include "pgwarden/observe/event.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace pgw::observe {

std::string format_ts(SystemClock::time_point tp) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(tp.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:06d}Z", tm, us % 1'000'000);
}

std::string to_json(const ConnectionEvent& e) {
  nlohmann::ordered_json j;
  j["ts"] = format_ts(e.ts);
  j["event"] = e.event;
  auto str = [&](const char* k, const std::string& v) {
    if (!v.empty()) j[k] = v;
  };
  auto num = [&](const char* k, int64_t v) {
    if (v >= 0) j[k] = v;
  };
  if (e.conn_id) j["conn_id"] = e.conn_id;
  str("side", e.side);
  str("peer", e.peer);
  str("backend", e.backend);
  str("database", e.database);
  str("user", e.user);
  str("application_name", e.application_name);
  str("pool", e.pool);
  if (e.backend_pid > 0) j["backend_pid"] = e.backend_pid;
  num("age_ms", e.age_ms);
  num("idle_ms", e.idle_ms);
  num("wait_ms", e.wait_ms);
  str("state", e.state);
  str("initiator", e.initiator);
  str("cause", e.cause);
  str("sqlstate", e.sqlstate);
  str("message", e.message);
  if (e.err_no) j["errno"] = e.err_no;
  if (e.event.ends_with(".close")) {
    j["bytes_in"] = e.bytes_in;
    j["bytes_out"] = e.bytes_out;
  }
  str("client_impact", e.client_impact);
  str("sink", e.sink);
  num("count", e.count);
  // Invalid UTF-8 from a peer must not make the record unserialisable.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace pgw::observe
