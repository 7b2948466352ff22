// log_line_prefix handling: the first line of the input is compiled as a
// --prefix spec and matched against the other lines, which also go through
// prefix detection, the timestamp and session-time parsers and parse_body.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pgwarden/logs/prefix.hpp"
#include "pgwarden/logs/record.hpp"

using namespace pgw::logs;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto nl = in.find('\n');
  std::string_view spec = in.substr(0, nl);
  std::vector<std::string> lines;
  for (size_t pos = nl; pos != in.npos && pos < in.size();) {
    size_t e = in.find('\n', pos + 1);
    lines.emplace_back(in.substr(pos + 1, e == in.npos ? in.npos : e - pos - 1));
    pos = e;
  }
  std::string error;
  auto prefix = LinePrefix::compile(spec, &error);
  LinePrefix detected = detect_prefix(lines);
  for (const auto& raw : lines) {
    std::string_view l = strip_cloudwatch(raw);
    PrefixFields f;
    if (prefix) prefix->match(l, &f);
    PrefixFields g;
    detected.match(l, &g);
    size_t used = 0;
    parse_timestamp(raw, &used);
    parse_session_time(raw);
    parse_body(raw);
  }
  return 0;
}
