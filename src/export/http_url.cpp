#include "pgwarden/export/http_url.hpp"

#include <fmt/format.h>

#include <charconv>

namespace pgw::exporter {

namespace {

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

std::optional<uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535)
    return std::nullopt;
  return static_cast<uint16_t>(value);
}

}  // namespace

std::string HttpUrl::authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return port == 80 ? h : fmt::format("{}:{}", h, port);
}

std::string HttpUrl::str() const {
  return "http://" + authority() + target;
}

std::optional<HttpUrl> parse_http_url(std::string_view url, std::string& error) {
  if (starts_with_nocase(url, "https://")) {
    error = fmt::format("{}: https is not supported yet (no TLS); use http://", url);
    return std::nullopt;
  }
  if (!starts_with_nocase(url, "http://")) {
    error = fmt::format("{}: expected http://HOST[:PORT][/PATH]", url);
    return std::nullopt;
  }
  std::string_view rest = url.substr(7);
  size_t path_at = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_at);
  HttpUrl u;
  if (path_at != std::string_view::npos) {
    u.target = std::string(rest.substr(path_at));
    if (u.target.front() == '?') u.target.insert(0, "/");
  }
  if (authority.find('@') != std::string_view::npos) {
    error = fmt::format("{}: credentials in the URL are not supported", url);
    return std::nullopt;
  }
  std::string_view port_text;
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      error = fmt::format("{}: unclosed [ in the IPv6 address", url);
      return std::nullopt;
    }
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = fmt::format("{}: expected :PORT after the IPv6 address", url);
        return std::nullopt;
      }
      port_text = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (u.host.empty()) {
    error = fmt::format("{}: no host", url);
    return std::nullopt;
  }
  if (!port_text.empty() || authority.ends_with(':')) {
    auto port = parse_port(port_text);
    if (!port) {
      error = fmt::format("{}: bad port \"{}\"", url, port_text);
      return std::nullopt;
    }
    u.port = *port;
  }
  return u;
}

}  // namespace pgw::exporter
