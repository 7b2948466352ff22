#include "metrics_text.hpp"

#include <charconv>
#include <cmath>
#include <system_error>

namespace pgw::observe::text {

namespace {

bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string escape(std::string_view s, bool quote) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string format_double(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto sci = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view s(buf, static_cast<size_t>(sci.ptr - buf));
  // "d.ddde+XX": Go switches to this form below 1e-4 and from 1e6 on.
  std::string_view exp_text = s.substr(s.find('e') + 1);
  if (exp_text.front() == '+') exp_text.remove_prefix(1);
  int exp = 0;
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exp);
  if (exp < -4 || exp >= 6) return std::string(s);
  // Fixed notation with the same shortest digits.
  auto fixed = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, fixed.ptr);
}

std::string escape_help(std::string_view s) {
  return escape(s, false);
}

std::string escape_label_value(std::string_view s) {
  return escape(s, true);
}

bool valid_metric_name(std::string_view name) {
  if (name.empty() || is_digit(name.front())) return false;
  for (char c : name)
    if (!is_letter(c) && !is_digit(c) && c != '_' && c != ':') return false;
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || is_digit(name.front())) return false;
  for (char c : name)
    if (!is_letter(c) && !is_digit(c) && c != '_') return false;
  return true;
}

}  // namespace pgw::observe::text
