#pragma once
// http://HOST[:PORT][/PATH]: the only URL form the exporters speak.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgw::exporter {

struct HttpUrl {
  std::string host;  // without brackets for IPv6
  uint16_t port = 80;
  std::string target = "/";  // path and query
  // The Host header value: brackets for IPv6, port left out when 80.
  std::string authority() const;
  std::string str() const;  // http://authority/target
};

// Returns nullopt and sets `error` for anything else; https is refused
// because TLS is not supported yet.
std::optional<HttpUrl> parse_http_url(std::string_view url, std::string& error);

}  // namespace pgw::exporter
