#include "pgwarden/observe/event.hpp"

#include <fmt/format.h>

#include <iterator>

#include "pgwarden/core/json_text.hpp"
#include "pgwarden/core/time_text.hpp"

namespace pgw::observe {

std::string format_ts(SystemClock::time_point tp) {
  return format_utc_micros(
      std::chrono::duration_cast<std::chrono::microseconds>(tp.time_since_epoch()).count());
}

// Written field by field (in the order of docs/events.md): an event is
// serialised for every connection step, and a JSON object model would cost an
// allocation per field.
std::string to_json(const ConnectionEvent& e) {
  std::string out;
  out.reserve(320);
  auto key = [&](std::string_view k) {
    out += ",\"";
    out += k;
    out += "\":";
  };
  auto str = [&](std::string_view k, const std::string& v) {
    if (v.empty()) return;
    key(k);
    append_json_string(out, v);
  };
  auto integer = [&](std::string_view k, auto v) {
    key(k);
    fmt::format_to(std::back_inserter(out), "{}", v);
  };
  auto num = [&](std::string_view k, int64_t v) {
    if (v >= 0) integer(k, v);
  };
  out += "{\"ts\":\"";
  out += format_ts(e.ts);
  out += '"';
  key("event");
  append_json_string(out, e.event);
  str("source", e.source);
  if (e.conn_id) integer("conn_id", e.conn_id);
  str("side", e.side);
  str("peer", e.peer);
  str("backend", e.backend);
  str("database", e.database);
  str("user", e.user);
  str("application_name", e.application_name);
  str("pool", e.pool);
  str("tls", e.tls);
  if (e.backend_pid > 0) integer("backend_pid", e.backend_pid);
  num("age_ms", e.age_ms);
  num("idle_ms", e.idle_ms);
  num("wait_ms", e.wait_ms);
  str("state", e.state);
  str("initiator", e.initiator);
  str("cause", e.cause);
  str("sqlstate", e.sqlstate);
  str("message", e.message);
  if (e.err_no) integer("errno", e.err_no);
  if (e.event.ends_with(".close")) {
    integer("bytes_in", e.bytes_in);
    integer("bytes_out", e.bytes_out);
  }
  str("client_impact", e.client_impact);
  str("replication", e.replication);
  str("replication_phase", e.replication_phase);
  num("replication_bytes_from_server", e.replication_bytes_from_server);
  num("replication_bytes_from_client", e.replication_bytes_from_client);
  str("replication_wal_end", e.replication_wal_end);
  str("replication_flush_lsn", e.replication_flush_lsn);
  str("sink", e.sink);
  num("count", e.count);
  str("host", e.host);
  str("role", e.role);
  str("previous_role", e.previous_role);
  str("old_host", e.old_host);
  num("detected_ms", e.detected_ms);
  num("writer_found_ms", e.writer_found_ms);
  num("first_served_ms", e.first_served_ms);
  str("proxy", e.proxy);
  str("toxic", e.toxic);
  str("toxic_type", e.toxic_type);
  str("stream", e.stream);
  out += '}';
  return out;
}

}  // namespace pgw::observe
