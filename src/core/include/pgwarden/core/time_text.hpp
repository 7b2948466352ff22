#pragma once
// The one timestamp form every pgwarden output uses (events, log analysis,
// the admin API): RFC 3339, UTC, microseconds, "2026-08-20T10:15:02.123000Z".
#include <cstdint>
#include <string>

namespace pgw {

// Microseconds since the Unix epoch (negative allowed) to RFC 3339 UTC.
std::string format_utc_micros(int64_t ts_us);

}  // namespace pgw
