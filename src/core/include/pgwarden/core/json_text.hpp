#pragma once
// JSON text written by hand where a JSON library's object model would cost an
// allocation per field (one event per connection step, one record per log
// line). Invalid UTF-8 from a peer or a log must never make output invalid.
#include <string>
#include <string_view>

namespace pgw {

// True if every byte of s is below 0x80 (no decoding needed).
bool all_ascii(std::string_view s);
// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s);
// Appends s as a quoted JSON string; invalid UTF-8 bytes become U+FFFD.
void append_json_string(std::string& out, std::string_view s);

}  // namespace pgw
