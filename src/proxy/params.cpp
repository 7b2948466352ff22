#include "pgwarden/proxy/params.hpp"

#include <array>
#include <cctype>
#include <vector>

namespace pgw::proxy {

namespace {
std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}
}  // namespace

bool is_tracked_reported_param(std::string_view key) {
  static constexpr std::array<std::string_view, 6> kKeys = {
      "application_name", "client_encoding", "datestyle",
      "intervalstyle",    "timezone",        "standard_conforming_strings"};
  std::string k = lower(key);
  for (auto t : kKeys)
    if (k == t) return true;
  return false;
}

bool is_startup_control_key(std::string_view key) {
  return key == "user" || key == "database" || key == "replication" || key == "options";
}

bool is_valid_guc_name(std::string_view key) {
  if (key.empty() || key.size() > 63) return false;
  for (char c : key)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.')) return false;
  return true;
}

std::string quote_literal(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'')
      out += "''";
    else
      out += c;
  }
  return out + "'";
}

std::string replay_sql(const ParamMap& wanted, const ParamMap& current, const ParamMap& defaults) {
  std::string sql;
  auto add = [&](const std::string& s) {
    sql += s;
    sql += ";";
  };
  // set_config() takes the value as the server printed it: a list such as
  // search_path = 'pg_catalog, public' stays a list (SET x = '...' would make
  // it one quoted element).
  auto set = [&](const std::string& k, const std::string& v) {
    add("SELECT set_config(" + quote_literal(k) + ", " + quote_literal(v) + ", false)");
  };
  for (auto& [k, v] : wanted) {
    auto it = current.find(k);
    if (it != current.end() && it->second == v) continue;
    set(k, v);
  }
  // Anything an earlier client changed that this one did not ask for goes back
  // to the value the connection had at login.
  for (auto& [k, v] : current) {
    if (wanted.count(k)) continue;
    if (!is_tracked_reported_param(k) && !defaults.count(k)) {
      add("RESET " + k);
      continue;
    }
    auto d = defaults.find(k);
    if (d != defaults.end() && d->second != v && is_tracked_reported_param(k)) set(k, d->second);
  }
  return sql;
}

bool parse_options(std::string_view options, ParamMap& out) {
  std::vector<std::string> words;
  std::string cur;
  for (size_t i = 0; i < options.size(); ++i) {
    char c = options[i];
    if (c == '\\' && i + 1 < options.size()) {
      cur += options[++i];
    } else if (c == ' ') {
      if (!cur.empty()) words.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  for (size_t i = 0; i < words.size(); ++i) {
    std::string kv;
    if (words[i] == "-c" && i + 1 < words.size())
      kv = words[++i];
    else if (words[i].starts_with("-c"))
      kv = words[i].substr(2);
    else if (words[i].starts_with("--"))
      kv = words[i].substr(2);
    else
      return false;
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return false;
    // Case-insensitive, like the server's names: one key per setting.
    std::string key = lower(kv.substr(0, eq));
    for (auto& ch : key)
      if (ch == '-') ch = '_';
    if (!is_valid_guc_name(key)) return false;
    out[key] = kv.substr(eq + 1);
  }
  return true;
}

}  // namespace pgw::proxy
