#pragma once
// Which session parameters a client expects, and the SET/RESET statements
// that make a server connection match them before the client's first query
// lands on it (transaction pooling moves clients between server connections).
#include <map>
#include <string>
#include <string_view>

namespace pgw::proxy {

using ParamMap = std::map<std::string, std::string>;

// Reported by the server (GUC_REPORT) and meaningful per client.
bool is_tracked_reported_param(std::string_view key);
// Startup keys that are not GUCs.
bool is_startup_control_key(std::string_view key);
// A GUC name that is safe to put in SET unquoted.
bool is_valid_guc_name(std::string_view key);

// `wanted`: what the client set (startup values and ParameterStatus it saw).
// `current`: what the server connection has now; `defaults`: what it had at login.
// Returns "" when nothing differs, else one simple-query string.
std::string replay_sql(const ParamMap& wanted, const ParamMap& current, const ParamMap& defaults);

// Parses a libpq `options` value ("-c a=b --c=d") into GUCs. False on anything else.
bool parse_options(std::string_view options, ParamMap& out);

std::string quote_literal(std::string_view v);

}  // namespace pgw::proxy
