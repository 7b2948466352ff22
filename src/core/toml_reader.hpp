#pragma once
// Internal to src/core: walks one TOML table, converting values and
// reporting every problem as "FILE:LINE:COL: what is wrong".
#include <fmt/format.h>

#include <toml++/toml.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pgwarden/core/config.hpp"

namespace pgw::detail {

class TableReader {
 public:
  TableReader(const toml::table& t, std::string source, std::string path)
      : table_(t), source_(std::move(source)), path_(std::move(path)) {}

  [[noreturn]] void fail(const toml::node& n, const std::string& what) const {
    const auto& b = n.source().begin;
    throw ConfigError(fmt::format("{}:{}:{}: {}", source_, b.line, b.column, what));
  }
  std::string key_name(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  const toml::node* get(std::string_view key) {
    seen_.insert(std::string(key));
    return table_.get(key);
  }

  void read(std::string_view key, std::string& out) {
    if (auto* n = get(key)) {
      if (!n->is_string()) fail(*n, fmt::format("'{}' must be a string", key_name(key)));
      out = n->value<std::string>().value();
    }
  }
  void read(std::string_view key, std::optional<std::string>& out) {
    if (get_node(key)) {
      std::string s;
      read(key, s);
      out = s;
    }
  }
  void read(std::string_view key, bool& out) {
    if (auto* n = get(key)) {
      if (!n->is_boolean()) fail(*n, fmt::format("'{}' must be true or false", key_name(key)));
      out = n->value<bool>().value();
    }
  }
  void read(std::string_view key, int& out, long long lo, long long hi) {
    if (auto* n = get(key)) {
      if (!n->is_integer()) fail(*n, fmt::format("'{}' must be an integer", key_name(key)));
      long long v = n->value<long long>().value();
      if (v < lo || v > hi)
        fail(*n, fmt::format("'{}' = {} is out of range [{}, {}]", key_name(key), v, lo, hi));
      out = static_cast<int>(v);
    }
  }
  void read(std::string_view key, std::optional<int>& out, long long lo, long long hi) {
    if (get_node(key)) {
      int v = 0;
      read(key, v, lo, hi);
      out = v;
    }
  }
  void read(std::string_view key, uint16_t& out) {
    int v = out;
    read(key, v, 1, 65535);
    out = static_cast<uint16_t>(v);
  }
  void read(std::string_view key, Millis& out) {
    if (auto* n = get(key)) {
      if (n->is_integer()) {
        long long v = n->value<long long>().value();
        if (v < 0) fail(*n, fmt::format("'{}' must not be negative", key_name(key)));
        constexpr long long kMaxSeconds = kMaxDuration.count() / 1000;
        if (v > kMaxSeconds)  // v * 1000 could overflow
          fail(*n, fmt::format("'{}' must be at most {} seconds (100 years)", key_name(key),
                               kMaxSeconds));
        out = Millis(v * 1000);
      } else if (n->is_string()) {
        auto d = parse_duration(n->value<std::string>().value());
        if (!d)
          fail(*n, fmt::format("'{}' = \"{}\" is not a duration (e.g. \"500ms\", \"30s\", \"5m\")",
                               key_name(key), n->value<std::string>().value()));
        out = *d;
      } else {
        fail(*n, fmt::format("'{}' must be a duration: seconds or a string like \"30s\"",
                             key_name(key)));
      }
    }
  }
  void read(std::string_view key, PoolMode& out) {
    if (auto* n = get(key)) {
      auto s = n->value<std::string>();
      if (s == "session")
        out = PoolMode::session;
      else if (s == "transaction")
        out = PoolMode::transaction;
      else
        fail(*n, fmt::format("'{}' must be \"session\" or \"transaction\"", key_name(key)));
    }
  }
  void read(std::string_view key, std::optional<PoolMode>& out) {
    if (get_node(key)) {
      PoolMode m{};
      read(key, m);
      out = m;
    }
  }
  void read(std::string_view key, std::optional<bool>& out) {
    if (get_node(key)) {
      bool b = false;
      read(key, b);
      out = b;
    }
  }
  // A secret given as `key`, `key_env` (an environment variable's name) or
  // `key_file` (a file's path; one trailing newline dropped), at most one of
  // them. An unset variable or unreadable file is an error at its position.
  void read_secret(std::string_view key, std::optional<std::string>& out) {
    const std::string env_key = std::string(key) + "_env", file_key = std::string(key) + "_file";
    const toml::node* given[3] = {get(key), get(env_key), get(file_key)};
    int count = 0;
    for (auto* n : given) count += n ? 1 : 0;
    if (count == 0) return;
    const toml::node& n = *(given[0] ? given[0] : given[1] ? given[1] : given[2]);
    if (count > 1)
      fail(n, fmt::format("give only one of '{}', '{}' and '{}'", key_name(key), key_name(env_key),
                          key_name(file_key)));
    const std::string_view which = given[0]   ? key
                                   : given[1] ? std::string_view(env_key)
                                              : std::string_view(file_key);
    auto text = n.value<std::string>();
    if (!text) fail(n, fmt::format("'{}' must be a string", key_name(which)));
    if (given[0]) {
      out = *text;
    } else if (given[1]) {
      const char* v = std::getenv(text->c_str());
      if (!v)
        fail(n, fmt::format("'{}': environment variable {} is not set", key_name(env_key), *text));
      out = std::string(v);
    } else {
      std::ifstream in(*text, std::ios::binary);
      if (!in) fail(n, fmt::format("'{}': cannot read \"{}\"", key_name(file_key), *text));
      std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (s.ends_with("\r\n"))
        s.resize(s.size() - 2);
      else if (s.ends_with('\n'))
        s.pop_back();
      out = std::move(s);
    }
  }
  void read_secret(std::string_view key, std::string& out) {
    std::optional<std::string> v;
    read_secret(key, v);
    if (v) out = std::move(*v);
  }
  void read(std::string_view key, SslMode& out) {
    if (auto* n = get(key)) {
      auto m = parse_sslmode(n->value<std::string>().value_or(""));
      if (!m)
        fail(*n, fmt::format("'{}' must be one of disable, allow, prefer, require, verify-ca, "
                             "verify-full",
                             key_name(key)));
      out = *m;
    }
  }
  void read(std::string_view key, std::optional<SslMode>& out) {
    if (get_node(key)) {
      SslMode m{};
      read(key, m);
      out = m;
    }
  }
  // A libpq-style comma list ("scram-sha-256" or "md5,scram-sha-256").
  void read_auth_methods(std::string_view key, std::optional<std::vector<std::string>>& out) {
    if (auto* n = get(key)) {
      auto text = n->value<std::string>();
      if (!text) fail(*n, fmt::format("'{}' must be a string", key_name(key)));
      std::vector<std::string> methods = split_auth_methods(*text);
      if (auto why = check_require_auth(methods); !why.empty())
        fail(*n, fmt::format("'{}': {}", key_name(key), why));
      out = std::move(methods);
    }
  }
  void read_channel_binding(std::string_view key, std::optional<std::string>& out) {
    if (auto* n = get(key)) {
      auto text = n->value<std::string>().value_or("");
      if (auto why = check_channel_binding(text); !why.empty())
        fail(*n, fmt::format("'{}': {}", key_name(key), why));
      out = text;
    }
  }
  void read(std::string_view key, SessionStatePolicy& out) {
    if (auto* n = get(key)) {
      auto s = n->value<std::string>().value_or("");
      if (s == "pin")
        out = SessionStatePolicy::pin;
      else if (s == "refuse")
        out = SessionStatePolicy::refuse;
      else
        fail(*n, fmt::format("'{}' must be \"pin\" or \"refuse\"", key_name(key)));
    }
  }
  void read(std::string_view key, ClientAuth& out) {
    if (auto* n = get(key)) {
      auto s = n->value<std::string>().value_or("");
      if (s == "trust")
        out = ClientAuth::trust;
      else if (s == "cleartext" || s == "plain" || s == "password")
        out = ClientAuth::cleartext;
      else if (s == "md5")
        out = ClientAuth::md5;
      else if (s == "scram-sha-256")
        out = ClientAuth::scram_sha_256;
      else if (s == "cert")
        out = ClientAuth::cert;
      else
        fail(*n, fmt::format("'{}' must be one of trust, cleartext, md5, scram-sha-256, cert",
                             key_name(key)));
    }
  }
  void read(std::string_view key, std::vector<std::string>& out) {
    if (auto* n = get(key)) {
      auto* arr = n->as_array();
      if (!arr) fail(*n, fmt::format("'{}' must be an array of strings", key_name(key)));
      out.clear();
      for (auto& item : *arr) {
        if (!item.is_string())
          fail(item, fmt::format("'{}' entries must be strings", key_name(key)));
        out.push_back(item.value<std::string>().value());
      }
    }
  }
  void read(std::string_view key, std::map<std::string, std::string>& out) {
    if (auto* n = get(key)) {
      auto* t = n->as_table();
      if (!t) fail(*n, fmt::format("'{}' must be a table of strings", key_name(key)));
      for (auto&& [k, v] : *t) {
        if (!v.is_string())
          fail(v, fmt::format("'{}.{}' must be a string", key_name(key), k.str()));
        out[std::string(k.str())] = v.value<std::string>().value();
      }
    }
  }
  void read(std::string_view key, std::optional<HostPort>& out) {
    if (auto* n = get(key)) {
      auto s = n->value<std::string>();
      auto hp = s ? parse_host_port(*s) : std::nullopt;
      if (!hp) fail(*n, fmt::format("'{}' must be a \"host:port\" string", key_name(key)));
      out = hp;
    }
  }
  // [[name]]: an array of tables; each entry is handed to `each`.
  template <class F>
  void each_table(std::string_view key, F&& each) {
    if (auto* n = get(key)) {
      auto* arr = n->as_array();
      if (!arr || !arr->is_array_of_tables())
        fail(*n,
             fmt::format("'{}' must be an array of tables: [[{}]]", key_name(key), key_name(key)));
      size_t i = 0;
      for (auto& item : *arr) {
        TableReader r(*item.as_table(), source_, fmt::format("{}[{}]", key_name(key), i++));
        each(r, item);
      }
    }
  }
  const toml::table* subtable(std::string_view key) {
    if (auto* n = get(key)) {
      if (!n->is_table()) fail(*n, fmt::format("'{}' must be a table", key_name(key)));
      return n->as_table();
    }
    return nullptr;
  }
  // Unknown keys are errors: a typo must never silently fall back to a default.
  void reject_unknown() const {
    for (auto&& [k, v] : table_) {
      if (!seen_.count(std::string(k.str())))
        fail(v, fmt::format("unknown key '{}'", key_name(k.str())));
    }
  }
  const std::string& source() const { return source_; }

 private:
  const toml::node* get_node(std::string_view key) const { return table_.get(key); }
  const toml::table& table_;
  std::string source_;
  std::string path_;
  std::set<std::string> seen_;
};

// Parses a whole TOML document; a syntax error is a ConfigError at its
// position ("FILE:LINE:COL: what").
inline toml::table parse_toml(std::string_view text, const std::string& source_name) {
  try {
    return toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    throw ConfigError(fmt::format("{}:{}:{}: {}", source_name, b.line, b.column, e.description()));
  }
}

// [proxy]'s auth_user, auth_query, auth_dbname and their cache TTLs.
void read_auth_query(TableReader& r, AuthQueryConfig& out);
// [events], [admin], [forensics], [alerts] (config_sections.cpp).
void read_events(TableReader& r, EventsConfig& out);
void read_admin(TableReader& r, AdminConfig& out);
void read_forensics(TableReader& r, ForensicsConfig& out);
void read_alerts(TableReader& r, AlertsConfig& out);

}  // namespace pgw::detail
