#pragma once
// Parsing and printing of durations as users write them in configs and flags:
// "250ms", "30s", "5m", "1h", "2d" or a bare integer meaning seconds.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgw {

using Millis = std::chrono::milliseconds;

// The longest duration a config or flag may give: 100 years. Longer than any
// timeout, and short enough that a clock's nanoseconds still hold it.
inline constexpr Millis kMaxDuration{int64_t{100} * 365 * 86'400'000};

// Returns nullopt when the text is not a duration or exceeds kMaxDuration;
// never throws.
std::optional<Millis> parse_duration(std::string_view text);

// "0" for zero, else the largest exact unit: "350s", "1500ms", "5m".
std::string format_duration(Millis d);

}  // namespace pgw
