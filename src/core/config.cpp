#include "pgwarden/core/config.hpp"
#include "pgwarden/core/url.hpp"
#include "toml_reader.hpp"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

namespace pgw {

const char* to_string(PoolMode m) {
  return m == PoolMode::session ? "session" : "transaction";
}

const char* to_string(ClientAuth a) {
  switch (a) {
    case ClientAuth::trust:
      return "trust";
    case ClientAuth::cleartext:
      return "cleartext";
    case ClientAuth::md5:
      return "md5";
    case ClientAuth::scram_sha_256:
      return "scram-sha-256";
    case ClientAuth::cert:
      return "cert";
  }
  return "?";
}

std::string HostPort::str() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

std::optional<TargetSessionAttrs> parse_target_session_attrs(std::string_view text) {
  if (text == "read-write") return TargetSessionAttrs::read_write;
  if (text == "read-only") return TargetSessionAttrs::read_only;
  if (text == "prefer-standby") return TargetSessionAttrs::prefer_standby;
  if (text == "any") return TargetSessionAttrs::any;
  return std::nullopt;
}

const char* to_string(TargetSessionAttrs t) {
  switch (t) {
    case TargetSessionAttrs::read_write:
      return "read-write";
    case TargetSessionAttrs::read_only:
      return "read-only";
    case TargetSessionAttrs::prefer_standby:
      return "prefer-standby";
    case TargetSessionAttrs::any:
      return "any";
  }
  return "any";
}

std::vector<HostPort> DatabaseConfig::all_hosts() const {
  if (!hosts.empty()) return hosts;
  return {HostPort{host, port}};
}

TargetSessionAttrs DatabaseConfig::session_attrs() const {
  if (target_session_attrs) return *target_session_attrs;
  return hosts.size() > 1 ? TargetSessionAttrs::read_write : TargetSessionAttrs::any;
}

std::optional<HostPort> parse_host_port(std::string_view text) {
  HostPort hp;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    hp.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    hp.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (hp.host.empty()) hp.host = "0.0.0.0";
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || p != port_text.data() + port_text.size() || port == 0 || port > 65535)
    return std::nullopt;
  hp.port = static_cast<uint16_t>(port);
  return hp;
}

namespace {

using detail::TableReader;

void read_timeouts(TableReader& r, Timeouts& t) {
  r.read("server_connect_timeout", t.server_connect);
  r.read("server_login_timeout", t.server_login);
  r.read("client_login_timeout", t.client_login);
  r.read("client_idle_timeout", t.client_idle);
  r.read("server_idle_timeout", t.server_idle);
  r.read("server_lifetime", t.server_lifetime);
  r.read("idle_transaction_timeout", t.idle_transaction);
  r.read("query_timeout", t.query);
  r.read("query_wait_timeout", t.query_wait);
  r.read("server_check_delay", t.server_check_delay);
  r.read("reserve_pool_timeout", t.reserve_pool);
  r.read("cancel_wait_timeout", t.cancel_wait);
  r.read("shutdown_grace", t.shutdown_grace);
  r.read("internal_query_timeout", t.internal_query);
  r.read("failover_wait_timeout", t.failover_wait);
  r.read("host_check_interval", t.host_check_interval);
  r.read("host_check_fast_interval", t.host_check_fast_interval);
  r.read("host_check_timeout", t.host_check_timeout);
  r.read("host_quarantine", t.host_quarantine);
  r.read("host_quarantine_max", t.host_quarantine_max);
  r.read("dns_max_ttl", t.dns_max_ttl);
}

// The names TLS settings towards servers go by: PgBouncer's server_tls_*
// in [proxy], libpq's in [databases.NAME].
struct TlsKeyNames {
  const char *sslmode, *sslrootcert, *sslcert, *sslkey, *sslsni, *require_auth, *channel_binding;
};
constexpr TlsKeyNames kProxyTlsKeys{
    "server_tls_sslmode", "server_tls_ca_file",  "server_tls_cert_file",  "server_tls_key_file",
    "server_tls_sni",     "server_require_auth", "server_channel_binding"};
constexpr TlsKeyNames kDatabaseTlsKeys{"sslmode", "sslrootcert",  "sslcert",        "sslkey",
                                       "sslsni",  "require_auth", "channel_binding"};

ServerTlsOverrides read_server_tls(TableReader& r, const TlsKeyNames& k) {
  ServerTlsOverrides t;
  r.read(k.sslmode, t.sslmode);
  r.read(k.sslrootcert, t.sslrootcert);
  r.read(k.sslcert, t.sslcert);
  r.read(k.sslkey, t.sslkey);
  r.read(k.sslsni, t.sslsni);
  r.read_auth_methods(k.require_auth, t.require_auth);
  r.read_channel_binding(k.channel_binding, t.channel_binding);
  return t;
}

void read_client_tls(TableReader& r, ClientTls& t) {
  std::optional<SslMode> mode;
  r.read("client_tls_sslmode", mode);
  if (mode) t.sslmode = *mode;
  r.read("client_tls_cert_file", t.cert_file);
  r.read("client_tls_key_file", t.key_file);
  r.read("client_tls_ca_file", t.ca_file);
  if (auto* n = r.get("client_tls_protocols")) {
    t.protocols = n->value<std::string>().value_or("");
    if (!parse_tls_protocols(t.protocols))
      r.fail(*n,
             "'proxy.client_tls_protocols' must list tlsv1.2 and/or tlsv1.3 (comma-separated), "
             "or be \"secure\" or \"all\"");
  }
  r.read("client_tls_ciphers", t.ciphers);
  r.read("client_tls13_ciphers", t.tls13_ciphers);
}

}  // namespace

ProxyConfig parse_config(std::string_view text, const std::string& source_name) {
  toml::table root = detail::parse_toml(text, source_name);
  ProxyConfig cfg;
  cfg.source = source_name;
  TableReader top(root, source_name, "");

  if (auto* p = top.subtable("proxy")) {
    TableReader r(*p, source_name, "proxy");
    if (auto* n = r.get("listen")) {
      cfg.listen.clear();
      auto add = [&](const toml::node& item) {
        auto s = item.value<std::string>();
        auto hp = s ? parse_host_port(*s) : std::nullopt;
        if (!hp) r.fail(item, "'proxy.listen' entries must be \"host:port\" strings");
        cfg.listen.push_back(*hp);
      };
      if (auto* arr = n->as_array()) {
        for (auto& item : *arr) add(item);
      } else {
        add(*n);
      }
      if (cfg.listen.empty()) r.fail(*n, "'proxy.listen' must name at least one host:port");
    }
    r.read("workers", cfg.workers, 0, 256);
    r.read("max_client_conn", cfg.max_client_conn, 1, 1'000'000);
    r.read("pool_mode", cfg.pool_mode);
    r.read("default_pool_size", cfg.default_pool_size, 1, 100'000);
    r.read("min_pool_size", cfg.min_pool_size, 0, 100'000);
    r.read("reserve_pool_size", cfg.reserve_pool_size, 0, 100'000);
    r.read("auth_type", cfg.auth_type);
    r.read("auth_allow_empty_password", cfg.auth_allow_empty_password);
    r.read("auth_trust_any_user", cfg.auth_trust_any_user);
    r.read("max_unauthenticated_clients", cfg.max_unauthenticated_clients, 1, 1'000'000);
    r.read("server_reset_query", cfg.server_reset_query);
    r.read("server_reset_query_always", cfg.server_reset_query_always);
    r.read("server_check_query", cfg.server_check_query);
    r.read("max_prepared_statements", cfg.max_prepared_statements, 0, 100'000);
    r.read("auth_file", cfg.auth_file);
    detail::read_auth_query(r, cfg.auth_query);
    int max_packet = static_cast<int>(cfg.max_packet_size);
    r.read("max_packet_size", max_packet, 1024, 1 << 30);
    cfg.max_packet_size = static_cast<uint32_t>(max_packet);
    int client_buffer = static_cast<int>(cfg.client_buffer_size);
    r.read("client_buffer_size", client_buffer, 8192, 1 << 30);
    cfg.client_buffer_size = static_cast<uint32_t>(client_buffer);
    r.read("transaction_session_state", cfg.transaction_session_state);
    cfg.server_tls = read_server_tls(r, kProxyTlsKeys).apply_to(cfg.server_tls);
    read_client_tls(r, cfg.client_tls);
    r.reject_unknown();
  }
  if (auto* t = top.subtable("timeouts")) {
    TableReader r(*t, source_name, "timeouts");
    read_timeouts(r, cfg.timeouts);
    r.reject_unknown();
  }
  if (auto* k = top.subtable("keepalive")) {
    TableReader r(*k, source_name, "keepalive");
    r.read("enabled", cfg.keepalive.enabled);
    r.read("idle", cfg.keepalive.idle_s, 1, 86400);
    r.read("interval", cfg.keepalive.interval_s, 1, 3600);
    r.read("count", cfg.keepalive.count, 1, 100);
    if (r.get("user_timeout")) {
      r.read("user_timeout", cfg.keepalive.user_timeout);
    } else {
      cfg.keepalive.user_timeout =
          cfg.keepalive.enabled
              ? keepalive_user_timeout(cfg.keepalive.idle_s, cfg.keepalive.interval_s,
                                       cfg.keepalive.count)
              : Millis(0);
    }
    r.reject_unknown();
  }
  if (auto* dbs = top.subtable("databases")) {
    for (auto&& [name, node] : *dbs) {
      if (!node.is_table())
        top.fail(node, fmt::format("'databases.{}' must be a table", name.str()));
      TableReader r(*node.as_table(), source_name, fmt::format("databases.{}", name.str()));
      DatabaseConfig db;
      db.name = std::string(name.str());
      db.dbname = db.name;
      r.read("host", db.host);
      r.read("port", db.port);
      if (auto* n = r.get("hosts")) {
        auto* arr = n->as_array();
        if (!arr || arr->empty())
          r.fail(*n, fmt::format("'databases.{}.hosts' must be a non-empty array of "
                                 "\"host:port\" strings",
                                 name.str()));
        for (auto& item : *arr) {
          auto entry = item.value<std::string>();
          std::optional<HostPort> hp;
          if (entry && entry->find(':') == std::string::npos && !entry->empty())
            hp = HostPort{*entry, 5432};  // a bare host name: port 5432
          else if (entry && !entry->starts_with(":"))
            hp = parse_host_port(*entry);
          if (!hp)
            r.fail(item, fmt::format("'databases.{}.hosts' entries must be \"host:port\" strings",
                                     name.str()));
          db.hosts.push_back(*hp);
        }
        if (r.get("host") || r.get("port"))
          r.fail(*n, fmt::format("'databases.{}': give either hosts or host/port, not both",
                                 name.str()));
        db.host = db.hosts.front().host;
        db.port = db.hosts.front().port;
      }
      if (auto* n = r.get("target_session_attrs")) {
        auto attrs = n->value<std::string>();
        db.target_session_attrs =
            attrs ? parse_target_session_attrs(*attrs) : std::optional<TargetSessionAttrs>{};
        if (!db.target_session_attrs)
          r.fail(*n, fmt::format("'databases.{}.target_session_attrs' must be one of read-write, "
                                 "read-only, prefer-standby, any",
                                 name.str()));
      }
      r.read("dbname", db.dbname);
      r.read("user", db.user);
      r.read_secret("password", db.password);
      r.read("pool_mode", db.pool_mode);
      r.read("pool_size", db.pool_size, 1, 100'000);
      r.read("min_pool_size", db.min_pool_size, 0, 100'000);
      r.read("reserve_pool_size", db.reserve_pool_size, 0, 100'000);
      r.read("max_db_connections", db.max_db_connections, 0, 1'000'000);
      db.tls = read_server_tls(r, kDatabaseTlsKeys);
      r.reject_unknown();
      cfg.databases[db.name] = db;
    }
  }
  if (auto* users = top.subtable("users")) {
    for (auto&& [name, node] : *users) {
      if (!node.is_table()) top.fail(node, fmt::format("'users.{}' must be a table", name.str()));
      TableReader r(*node.as_table(), source_name, fmt::format("users.{}", name.str()));
      UserConfig u;
      u.name = std::string(name.str());
      r.read_secret("password", u.password);
      r.read("pool_mode", u.pool_mode);
      r.read("pool_size", u.pool_size, 1, 100'000);
      r.read("max_user_connections", u.max_user_connections, 0, 1'000'000);
      r.reject_unknown();
      cfg.users[u.name] = u;
    }
  }
  auto section = [&](const char* name, auto read) {
    if (auto* t = top.subtable(name)) {
      TableReader r(*t, source_name, name);
      read(r);
      r.reject_unknown();
    }
  };
  section("events", [&](TableReader& r) { detail::read_events(r, cfg.events); });
  section("admin", [&](TableReader& r) { detail::read_admin(r, cfg.admin); });
  section("forensics", [&](TableReader& r) { detail::read_forensics(r, cfg.forensics); });
  section("alerts", [&](TableReader& r) { detail::read_alerts(r, cfg.alerts); });
  top.reject_unknown();
  return cfg;
}

ProxyConfig load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(fmt::format("{}: cannot open config file", path));
  std::stringstream ss;
  ss << in.rdbuf();
  ProxyConfig cfg = parse_config(ss.str(), path);
  if (!cfg.auth_file.empty()) {
    std::string file = cfg.auth_file;
    // Relative to the config file, as users expect from PgBouncer.
    if (file.front() != '/') {
      auto slash = path.rfind('/');
      if (slash != std::string::npos) file = path.substr(0, slash + 1) + file;
    }
    load_auth_file(cfg, file);
  }
  return cfg;
}

void load_auth_file(ProxyConfig& cfg, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(fmt::format("{}: cannot open auth_file", path));
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    size_t pos = 0;
    auto skip_space = [&] {
      while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t' || line[pos] == '\r'))
        ++pos;
    };
    auto quoted = [&](const char* what) {
      skip_space();
      if (pos >= line.size() || line[pos] != '"')
        throw ConfigError(
            fmt::format("{}:{}:{}: expected a double-quoted {}", path, lineno, pos + 1, what));
      std::string out;
      for (++pos;; ++pos) {
        if (pos >= line.size())
          throw ConfigError(
              fmt::format("{}:{}:{}: unterminated quoted {}", path, lineno, pos + 1, what));
        if (line[pos] == '"') {
          if (pos + 1 < line.size() && line[pos + 1] == '"') {
            out.push_back('"');
            ++pos;
            continue;
          }
          ++pos;
          return out;
        }
        out.push_back(line[pos]);
      }
    };
    skip_space();
    if (pos >= line.size() || line[pos] == '#' || line[pos] == ';') continue;
    std::string name = quoted("user name");
    std::string password = quoted("password");
    skip_space();
    if (pos < line.size())
      throw ConfigError(
          fmt::format("{}:{}:{}: unexpected text after the password", path, lineno, pos + 1));
    if (!cfg.users.count(name)) cfg.users[name] = UserConfig{name, password};
  }
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      unsigned v = 0;
      auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec == std::errc{} && p == s.data() + i + 3) {
        out.push_back(static_cast<char>(v));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

void add_backend_url(ProxyConfig& cfg, std::string_view url) {
  auto bad = [&](const std::string& why) {
    return ConfigError(
        fmt::format("--backend: {} (expected postgres://USER:PASSWORD@HOST:PORT/DB)", why));
  };
  std::string_view rest = url;
  if (rest.starts_with("postgres://"))
    rest.remove_prefix(11);
  else if (rest.starts_with("postgresql://"))
    rest.remove_prefix(13);
  else
    throw bad("URL must start with postgres:// or postgresql://");
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  auto at = rest.rfind('@');
  if (at == std::string_view::npos) throw bad("missing USER@");
  std::string_view userinfo = rest.substr(0, at), hostpart = rest.substr(at + 1);
  auto colon = userinfo.find(':');
  std::string user = percent_decode(userinfo.substr(0, colon));
  std::string password =
      colon == std::string_view::npos ? "" : percent_decode(userinfo.substr(colon + 1));
  if (user.empty()) throw bad("missing user name");
  auto slash = hostpart.find('/');
  std::string_view hp = hostpart.substr(0, slash);
  std::string dbname =
      slash == std::string_view::npos ? user : percent_decode(hostpart.substr(slash + 1));
  if (dbname.empty()) dbname = user;
  DatabaseConfig db;
  db.name = dbname;
  db.dbname = dbname;
  // libpq's multi-host form: HOST1:PORT1,HOST2:PORT2 (a host without a port
  // uses 5432).
  while (true) {
    auto comma = hp.find(',');
    std::string_view one = hp.substr(0, comma);
    HostPort h;
    if (one.find(':') == std::string_view::npos || (one.front() == '[' && one.back() == ']')) {
      h.host = std::string(one);
      h.port = 5432;
    } else {
      auto parsed = parse_host_port(one);
      if (!parsed || one.front() == ':') throw bad(fmt::format("bad HOST:PORT '{}'", one));
      h = *parsed;
    }
    if (h.host.empty()) {
      if (comma != std::string_view::npos) throw bad("empty host in a host list");
      h.host = "127.0.0.1";
    }
    db.hosts.push_back(h);
    if (comma == std::string_view::npos) break;
    hp = hp.substr(comma + 1);
  }
  db.host = db.hosts.front().host;
  db.port = db.hosts.front().port;
  if (db.hosts.size() == 1) db.hosts.clear();  // the single-host form, as before
  if (db.host.empty()) db.host = "127.0.0.1";
  // libpq's connection parameters that pgwarden honours; any other is an
  // error rather than silently dropped.
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    if (eq == std::string_view::npos) throw bad(fmt::format("parameter '{}' has no value", pair));
    const std::string key = percent_decode(pair.substr(0, eq));
    const std::string value = percent_decode(pair.substr(eq + 1));
    if (key == "sslmode") {
      db.tls.sslmode = parse_sslmode(value);
      if (!db.tls.sslmode)
        throw bad(
            fmt::format("sslmode must be one of disable, allow, prefer, require, "
                        "verify-ca, verify-full, not \"{}\"",
                        value));
    } else if (key == "sslrootcert") {
      db.tls.sslrootcert = value;
    } else if (key == "sslcert") {
      db.tls.sslcert = value;
    } else if (key == "sslkey") {
      db.tls.sslkey = value;
    } else if (key == "sslsni") {
      if (value != "0" && value != "1") throw bad("sslsni must be 0 or 1");
      db.tls.sslsni = value == "1";
    } else if (key == "require_auth") {
      std::vector<std::string> methods = split_auth_methods(value);
      if (auto why = check_require_auth(methods); !why.empty()) throw bad(why);
      db.tls.require_auth = std::move(methods);
    } else if (key == "channel_binding") {
      if (auto why = check_channel_binding(value); !why.empty()) throw bad(why);
      db.tls.channel_binding = value;
    } else if (key == "target_session_attrs") {
      db.target_session_attrs = parse_target_session_attrs(value);
      if (!db.target_session_attrs)
        throw bad(
            fmt::format("target_session_attrs must be one of read-write, read-only, "
                        "prefer-standby, any, not \"{}\"",
                        value));
    } else {
      throw bad(
          fmt::format("unsupported parameter '{}' (supported: sslmode, sslrootcert, "
                      "sslcert, sslkey, sslsni, require_auth, channel_binding, "
                      "target_session_attrs)",
                      key));
    }
  }
  cfg.databases[db.name] = db;
  UserConfig u;
  u.name = user;
  u.password = password;
  cfg.users[u.name] = u;
}

void validate(const ProxyConfig& cfg) {
  const std::string& src = cfg.source.empty() ? std::string("config") : cfg.source;
  if (cfg.databases.empty())
    throw ConfigError(fmt::format("{}: no [databases] defined; add one or pass --backend", src));
  if (cfg.min_pool_size > cfg.default_pool_size)
    throw ConfigError(
        fmt::format("{}: proxy.min_pool_size ({}) exceeds proxy.default_pool_size ({})", src,
                    cfg.min_pool_size, cfg.default_pool_size));
  for (auto& [name, db] : cfg.databases) {
    int size = db.pool_size.value_or(cfg.default_pool_size);
    if (db.max_db_connections > 0 && db.max_db_connections < db.min_pool_size.value_or(0))
      throw ConfigError(
          fmt::format("{}: databases.{}.min_pool_size exceeds max_db_connections", src, name));
    (void)size;
  }
  const ClientTls& ct = cfg.client_tls;
  if (ct.sslmode != SslMode::disable && (ct.cert_file.empty() || ct.key_file.empty()))
    throw ConfigError(fmt::format(
        "{}: proxy.client_tls_sslmode is {} but client_tls_cert_file and client_tls_key_file are "
        "not both set; pgwarden needs a certificate to offer clients TLS",
        src, to_string(ct.sslmode)));
  const bool verifies = ct.sslmode == SslMode::verify_ca || ct.sslmode == SslMode::verify_full;
  if (verifies && ct.ca_file.empty())
    throw ConfigError(
        fmt::format("{}: proxy.client_tls_sslmode is {} but client_tls_ca_file is not set; client "
                    "certificates cannot be verified without it",
                    src, to_string(ct.sslmode)));
  if (cfg.auth_type == ClientAuth::cert && !verifies)
    throw ConfigError(fmt::format(
        "{}: auth_type is cert but proxy.client_tls_sslmode is {}; certificate authentication "
        "needs verify-ca or verify-full",
        src, to_string(ct.sslmode)));
  const bool passwordless = cfg.auth_type == ClientAuth::trust || cfg.auth_type == ClientAuth::cert;
  if (!passwordless && cfg.users.empty() && cfg.auth_query.user.empty())
    throw ConfigError(
        fmt::format("{}: auth_type is {} but no [users] are defined; clients could never log in",
                    src, to_string(cfg.auth_type)));
  if (passwordless && !cfg.auth_query.user.empty())
    throw ConfigError(fmt::format(
        "{}: proxy.auth_user is set but auth_type is {}, which checks no password: auth_query "
        "would never run",
        src, to_string(cfg.auth_type)));
  if (passwordless && cfg.users.empty() && !cfg.auth_trust_any_user)
    throw ConfigError(fmt::format(
        "{}: auth_type is {} but no [users] are defined; clients could never log in ({} "
        "admits only listed users unless proxy.auth_trust_any_user = true)",
        src, to_string(cfg.auth_type), to_string(cfg.auth_type)));
}

}  // namespace pgw
