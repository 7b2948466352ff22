// TLS and authentication requirements towards servers: libpq's sslmode,
// require_auth and channel_binding, with the [proxy] defaults a database's
// keys override.
#include <fmt/format.h>

#include <array>

#include "pgwarden/core/config.hpp"

namespace pgw {

namespace {
constexpr std::array<std::pair<std::string_view, SslMode>, 6> kSslModes = {{
    {"disable", SslMode::disable},
    {"allow", SslMode::allow},
    {"prefer", SslMode::prefer},
    {"require", SslMode::require},
    {"verify-ca", SslMode::verify_ca},
    {"verify-full", SslMode::verify_full},
}};
}  // namespace

std::optional<SslMode> parse_sslmode(std::string_view text) {
  for (auto& [name, mode] : kSslModes)
    if (name == text) return mode;
  return std::nullopt;
}

const char* to_string(SslMode m) {
  for (auto& [name, mode] : kSslModes)
    if (mode == m) return name.data();
  return "prefer";
}

std::vector<std::string> split_auth_methods(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    if (comma > start) out.emplace_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

std::string check_require_auth(const std::vector<std::string>& methods) {
  for (const auto& m : methods)
    if (m != "password" && m != "md5" && m != "scram-sha-256" && m != "none")
      return fmt::format(
          "unknown authentication method \"{}\" (expected password, md5, scram-sha-256 or none)",
          m);
  return "";
}

std::string check_channel_binding(std::string_view value) {
  if (value == "disable" || value == "prefer" || value == "require") return "";
  return fmt::format("channel_binding must be disable, prefer or require, not \"{}\"", value);
}

ServerTls ServerTlsOverrides::apply_to(ServerTls base) const {
  if (sslmode) base.sslmode = *sslmode;
  if (sslrootcert) base.sslrootcert = *sslrootcert;
  if (sslcert) base.sslcert = *sslcert;
  if (sslkey) base.sslkey = *sslkey;
  if (sslsni) base.sslsni = *sslsni;
  if (require_auth) base.require_auth = *require_auth;
  if (channel_binding) base.channel_binding = *channel_binding;
  return base;
}

}  // namespace pgw
