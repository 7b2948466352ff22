#pragma once
// Parsing and printing of durations as users write them in configs and flags:
// "250ms", "30s", "5m", "1h", "2d" or a bare integer meaning seconds.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace pgw {

using Millis = std::chrono::milliseconds;

// Returns nullopt when the text is not a duration; never throws.
std::optional<Millis> parse_duration(std::string_view text);

// "0" for zero, else the largest exact unit: "350s", "1500ms", "5m".
std::string format_duration(Millis d);

}  // namespace pgw
