#include "pgwarden/proxy/login_policy.hpp"

#include <fmt/format.h>

namespace pgw::proxy {

std::optional<LoginRefusal> login_refusal(const ProxyConfig& cfg, const std::string& user,
                                          const std::string& database) {
  // Certificate authentication, like trust, needs no password on file.
  const bool trust = cfg.auth_type == ClientAuth::trust || cfg.auth_type == ClientAuth::cert;
  auto u = cfg.users.find(user);
  if (u == cfg.users.end()) {
    if (!trust)
      return LoginRefusal{"unknown_user",
                          fmt::format("user \"{}\" is not in [users] or auth_file", user)};
    if (!cfg.auth_trust_any_user)
      return LoginRefusal{
          "unknown_user",
          fmt::format("user \"{}\" is not in [users] or auth_file, and auth_type = {} admits "
                      "only listed users (proxy.auth_trust_any_user = false)",
                      user, to_string(cfg.auth_type))};
  } else if (!trust && u->second.password.empty() && !cfg.auth_allow_empty_password) {
    return LoginRefusal{"empty_password", fmt::format("user \"{}\" has an empty password and "
                                                      "proxy.auth_allow_empty_password is false",
                                                      user)};
  }
  if (database != cfg.admin.console_database && !cfg.databases.count(database))
    return LoginRefusal{"unknown_database",
                        fmt::format("database \"{}\" is not configured in pgwarden", database)};
  return std::nullopt;
}

std::string auth_failed_message(const std::string& user) {
  return fmt::format("password authentication failed for user \"{}\"", user);
}

}  // namespace pgw::proxy
