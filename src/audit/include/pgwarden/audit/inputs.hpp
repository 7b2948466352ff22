#pragma once
// Reading the audit's file inputs into plain values: applications' env files
// and pgwarden's proxy config. Malformed values throw InputError naming the
// file, line and column.
#include <string>
#include <string_view>
#include <vector>

#include "pgwarden/audit/model.hpp"

namespace pgw {
struct ProxyConfig;
}

namespace pgw::audit {

struct EnvEntry {
  std::string key, value;
  int line = 0;
  int value_column = 0;  // 1-based column where the value starts
};

struct EnvFile {
  std::string file;
  std::vector<EnvEntry> entries;
  // "# pgwarden: key=value ..." directives, with their line and column.
  std::vector<EnvEntry> directives;
};

// Parses dotenv syntax: KEY=VALUE, `export KEY=VALUE`, '#' comments, single or
// double quotes (double quotes understand \n, \" and \\).
EnvFile parse_env(std::string_view text, const std::string& file);
EnvFile load_env_file(const std::string& path);

// Parses a postgres:// or postgresql:// URL. `where` prefixes error messages
// ("file:line:col"); columns in messages are offsets into `url` added to `col`.
ConnUrl parse_conn_url(std::string_view url, const std::string& file, int line, int col);

// "--app FILE|URL[,instances=N][,driver=pg|postgres|zero][,max=N][,name=LABEL]"
struct AppSpec {
  std::string file;  // "--app" when the spec is a URL
  std::optional<int> instances;
  std::optional<Driver> driver;
  std::optional<std::string> url;  // a postgres:// URL given on the command line
  std::optional<int> max;
  std::optional<std::string> name;
};
AppSpec parse_app_spec(std::string_view spec);  // throws InputError

AppConfig build_app(const EnvFile& env, const AppSpec& spec);
AppConfig load_app(const AppSpec& spec);

ProxySettings proxy_settings_from(const pgw::ProxyConfig& cfg);

// "16GB", "512MB", "1.5GiB", "2048kB", "1073741824" (bytes). GB = GiB, as in postgresql.conf.
std::optional<uint64_t> parse_size(std::string_view text);
std::string format_bytes(long long bytes);

}  // namespace pgw::audit
