#pragma once
// Spelling of values and names in the Prometheus text format 0.0.4.
#include <string>
#include <string_view>

namespace pgw::observe::text {

// Shortest round-trip digits, laid out as Go's strconv 'g' does (what the
// Prometheus clients print): 0.0001, 0.005, 1, 60, 1e-05, 1e+06; +Inf, -Inf, NaN.
std::string format_double(double v);

// Backslash and newline escaped (HELP text).
std::string escape_help(std::string_view s);
// Backslash, double quote and newline escaped (label values).
std::string escape_label_value(std::string_view s);

bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

}  // namespace pgw::observe::text
