#include "http_endpoint.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "pgwarden/export/http_url.hpp"

namespace pgw::exporter {

std::string endpoint_url(std::string_view what, const std::string& url,
                         std::string_view default_path) {
  std::string error;
  auto u = parse_http_url(url, error);
  if (!u) throw std::invalid_argument(fmt::format("{} sink: {}", what, error));
  if (u->target == "/") u->target = std::string(default_path);
  return u->str();
}

std::string unix_nanos(std::chrono::system_clock::time_point tp) {
  return std::to_string(
      std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count());
}

}  // namespace pgw::exporter
