#pragma once
// One logical log entry after reading and joining (the reader's output), and
// the time helpers every reader shares. Pure: no I/O.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pgwarden/core/time_text.hpp"

namespace pgw::logs {

enum class Format { Auto, Stderr, Csvlog, Jsonlog, Pgbouncer, Pgwarden, JsonLines, Text };

std::string_view format_name(Format f);
std::optional<Format> parse_format(std::string_view s);
// "postgres" for stderr/csvlog/jsonlog, "pgbouncer", "pgwarden", "app".
std::string_view source_kind(Format f);

struct Record {
  Format format = Format::Stderr;
  int64_t ts_us = 0;  // microseconds since the Unix epoch (UTC)
  bool has_ts = false;
  int64_t pid = 0;  // 0 = unknown
  std::string level;
  std::string sqlstate;
  std::string message;  // primary message (app logs: the message field or the whole line)
  std::string detail;
  std::string line;  // app logs: the whole raw line (rules may match it)
  std::string user, database, application_name, host, port;
  uint32_t file_index = 0;
  uint64_t line_no = 0;  // first physical line of the entry (1-based)

  void clear();
};

// Parses the timestamps PostgreSQL and applications write:
// "2026-08-20 10:15:02 UTC", "2026-08-20 10:15:02.123 CEST", "2026-08-20 10:15:02.123+02",
// "2026-08-20T10:15:02.123456Z", "2026-08-20T10:15:02+02:00" and bare "2026-08-20 10:15:02".
// Unknown zone abbreviations count as UTC. *used receives the characters consumed.
std::optional<int64_t> parse_timestamp(std::string_view s, size_t* used = nullptr);
// RFC 3339 with microseconds, UTC: "2026-08-20T10:15:02.123000Z".
inline std::string format_ts(int64_t ts_us) {
  return format_utc_micros(ts_us);
}
// "H:MM:SS.mmm" (PostgreSQL session time) -> milliseconds.
std::optional<int64_t> parse_session_time(std::string_view s);

}  // namespace pgw::logs
