#pragma once
// Who may log in, decided from the startup packet before any password is
// read. A refusal is only told to the client after the password exchange,
// as "password authentication failed", so that an unknown database or user
// cannot be told from a wrong password; the event stream gets the reason.
#include <optional>
#include <string>

#include "pgwarden/core/config.hpp"

namespace pgw::proxy {

struct LoginRefusal {
  std::string cause;    // unknown_user, unknown_database, empty_password (docs/events.md)
  std::string message;  // the real reason, for the event stream only
};

// nullopt when `user` may try to log in to `database` (the console database
// included); the password is checked afterwards.
std::optional<LoginRefusal> login_refusal(const ProxyConfig& cfg, const std::string& user,
                                          const std::string& database);

// What every refused login is told, as PostgreSQL words a wrong password.
std::string auth_failed_message(const std::string& user);

}  // namespace pgw::proxy
