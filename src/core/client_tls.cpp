// TLS towards clients: the protocols list of client_tls_protocols.
#include <algorithm>
#include <string>

#include "pgwarden/core/config.hpp"

namespace pgw {

namespace {
constexpr int kTls12 = 0x0303, kTls13 = 0x0304;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

std::optional<TlsVersionRange> parse_tls_protocols(std::string_view text) {
  // TLS 1.0 and 1.1 are not offered: Debian's OpenSSL refuses them at its
  // default security level, and PostgreSQL's ssl_min_protocol_version
  // defaults to TLS 1.2.
  TlsVersionRange range{0, 0};
  auto add = [&](int v) {
    range.min = range.min == 0 ? v : std::min(range.min, v);
    range.max = std::max(range.max, v);
  };
  size_t start = 0;
  bool any = false;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = trim(text.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) continue;
    any = true;
    if (item == "tlsv1.2") {
      add(kTls12);
    } else if (item == "tlsv1.3") {
      add(kTls13);
    } else if (item == "secure" || item == "all") {
      add(kTls12);
      add(kTls13);
    } else {
      return std::nullopt;
    }
  }
  if (!any) return std::nullopt;
  return range;
}

}  // namespace pgw
