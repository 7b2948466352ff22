#pragma once
// The proxy's configuration: what `pgwarden proxy --config FILE` reads (TOML)
// and what the config-less flags build. Every key is documented in
// docs/configuration.md; defaults live here and nowhere else.
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "pgwarden/core/duration.hpp"

namespace pgw {

enum class PoolMode { session, transaction };
// cert: a client certificate verified against client_tls_ca_file whose
// common name is the user name; no password.
enum class ClientAuth { trust, cleartext, md5, scram_sha_256, cert };
// Transaction mode: what to do with session state pgwarden cannot carry from
// one server connection to the next (LISTEN, temporary tables, ...).
enum class SessionStatePolicy { pin, refuse };

const char* to_string(PoolMode m);
const char* to_string(ClientAuth a);

// TLS towards servers, as libpq's connection parameters name it: sslmode
// (default prefer), sslrootcert (a PEM file or "system"), sslcert/sslkey (a
// client certificate), sslsni; require_auth (the authentication methods a
// server may ask for: password, md5, scram-sha-256, none; empty = any) and
// channel_binding (disable, prefer, require).
enum class SslMode { disable, allow, prefer, require, verify_ca, verify_full };
std::optional<SslMode> parse_sslmode(std::string_view text);
const char* to_string(SslMode m);

struct ServerTls {
  SslMode sslmode = SslMode::prefer;
  std::string sslrootcert;
  std::string sslcert;
  std::string sslkey;
  bool sslsni = true;
  std::vector<std::string> require_auth;
  std::string channel_binding = "prefer";
};
// Per-database overrides of the [proxy]-level ServerTls; unset = inherited.
struct ServerTlsOverrides {
  std::optional<SslMode> sslmode;
  std::optional<std::string> sslrootcert, sslcert, sslkey;
  std::optional<bool> sslsni;
  std::optional<std::vector<std::string>> require_auth;
  std::optional<std::string> channel_binding;
  ServerTls apply_to(ServerTls base) const;
};
// "md5,scram-sha-256" → {"md5", "scram-sha-256"}.
std::vector<std::string> split_auth_methods(std::string_view text);
// Checks one require_auth list / channel_binding value; "" when valid, else why not.
std::string check_require_auth(const std::vector<std::string>& methods);
std::string check_channel_binding(std::string_view value);

// TLS towards clients: PgBouncer's client_tls_* keys. sslmode: disable (an
// SSLRequest is answered 'N'), allow/prefer (TLS when the client asks),
// require (plaintext logins refused), verify-ca (and a client certificate
// signed by ca_file), verify-full (and its common name is the user name).
struct ClientTls {
  SslMode sslmode = SslMode::disable;
  std::string cert_file, key_file, ca_file;
  std::string protocols = "secure";       // tlsv1.2,tlsv1.3; "secure" = both; "all"
  std::string ciphers = "default";        // TLS 1.2 cipher list, OpenSSL syntax
  std::string tls13_ciphers = "default";  // TLS 1.3 cipher suites, OpenSSL syntax
};
// The TLS versions a protocols list admits, as 0x0303-style numbers (TLS 1.2
// = 0x0303), lowest and highest; nullopt names nothing known.
struct TlsVersionRange {
  int min = 0, max = 0;
};
std::optional<TlsVersionRange> parse_tls_protocols(std::string_view text);

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string str() const;
};
// "host:port", "[v6]:port" or ":port". Returns nullopt on anything else.
std::optional<HostPort> parse_host_port(std::string_view text);

struct Timeouts {
  Millis server_connect{5'000};
  Millis server_login{10'000};
  Millis client_login{60'000};
  Millis client_idle{0};
  Millis server_idle{600'000};
  Millis server_lifetime{3'600'000};
  Millis idle_transaction{0};
  Millis query{0};
  Millis query_wait{120'000};
  Millis server_check_delay{30'000};
  Millis reserve_pool{5'000};
  Millis cancel_wait{10'000};
  Millis shutdown_grace{30'000};  // SIGTERM: time open transactions get to finish
  // Health check, reset query, ROLLBACK and the capacity probe's query: an
  // answer must arrive within this or the link is closed. 0 = no deadline.
  Millis internal_query{5'000};
  // Writer tracking and failover (docs/failover.md). A read-write pool with
  // no writer known holds new acquisitions this long before refusing them
  // with 57P03.
  Millis failover_wait{30'000};
  Millis host_check_interval{1'000};     // role check of each host, normally
  Millis host_check_fast_interval{100};  // ... while a pool has no usable host
  Millis host_check_timeout{2'000};      // connect + login + query of one check
  Millis host_quarantine{500};           // first backoff of a failing host
  Millis host_quarantine_max{5'000};     // backoff doubles up to this
  Millis dns_max_ttl{5'000};             // a host name is resolved again after this
};

// The TCP_USER_TIMEOUT that matches keepalive: the time keepalive takes to
// declare a silent peer dead (idle + interval x count), applied also while
// data is unacknowledged, where keepalive probes never run.
constexpr Millis keepalive_user_timeout(int idle_s, int interval_s, int count) {
  return Millis(1000LL * (idle_s + static_cast<long long>(interval_s) * count));
}

struct Keepalive {
  bool enabled = true;
  int idle_s = 60;  // below every common middlebox idle cut (AWS 350 s, Azure 240 s)
  int interval_s = 10;
  int count = 6;
  // TCP_USER_TIMEOUT; 0 = kernel default. Unless set explicitly, derived
  // from the keepalive settings above (0 when keepalive is disabled).
  Millis user_timeout{keepalive_user_timeout(60, 10, 6)};
};

// libpq's target_session_attrs: which hosts of a database a pool may use.
// read_write: the writer only (a host not in recovery); read_only: a host in
// recovery (or default_transaction_read_only) only; prefer_standby: a standby
// when one is up, else any; any: any host that answers.
enum class TargetSessionAttrs { read_write, read_only, prefer_standby, any };
std::optional<TargetSessionAttrs> parse_target_session_attrs(std::string_view text);
const char* to_string(TargetSessionAttrs t);

struct DatabaseConfig {
  std::string name;  // what clients put in `dbname`
  std::string host = "127.0.0.1";
  uint16_t port = 5432;
  // Every host of the database, in order (`hosts = [...]` or a multi-host
  // URL); when empty, {host, port} is the only one. Use all_hosts().
  std::vector<HostPort> hosts;
  // Default: read_write with several hosts, any with one.
  std::optional<TargetSessionAttrs> target_session_attrs;
  std::vector<HostPort> all_hosts() const;
  TargetSessionAttrs session_attrs() const;
  std::string dbname;                   // on the server; defaults to name
  std::optional<std::string> user;      // forced server user
  std::optional<std::string> password;  // server password for the forced user
  std::optional<PoolMode> pool_mode;
  std::optional<int> pool_size;
  std::optional<int> min_pool_size;
  std::optional<int> reserve_pool_size;
  int max_db_connections = 0;  // 0 = unlimited
  ServerTlsOverrides tls;
};

struct UserConfig {
  std::string name;
  std::string password;  // plaintext, "md5<32 hex>" or a SCRAM-SHA-256 secret
  std::optional<PoolMode> pool_mode;
  std::optional<int> pool_size;
  int max_user_connections = 0;  // 0 = unlimited
};

// Looking up the secrets of users not in [users]/auth_file on the server
// (PgBouncer's auth_user/auth_query): pgwarden logs in as `user` and runs
// `query` with the client's user name as its bound parameter $1.
struct AuthQueryConfig {
  std::string user;  // auth_user; empty = off
  std::string query = "SELECT usename, passwd FROM pg_shadow WHERE usename=$1";
  std::string dbname;                 // auth_dbname; empty = the client's database's dbname
  Millis cache_ttl{60'000};           // how long an answer is reused
  Millis negative_cache_ttl{10'000};  // ... and an answer "no such user"
};

// One event destination ([[events.sink]]); see docs/configuration.md.
struct SinkConfig {
  std::string type;    // stdout | file | syslog | loki | otlp
  std::string target;  // file path, syslog address (unix:/dev/log, udp://host:port) or URL
  std::map<std::string, std::string> labels;  // Loki stream labels / OTLP resource attributes
  int queue_size = 10'000;
  int batch_size = 500;
  Millis flush_interval{1'000};
  Millis timeout{5'000};  // per delivery attempt (network sinks)
};

struct EventsConfig {
  std::vector<SinkConfig> sinks;
  int recent = 10'000;  // events kept in memory for the admin API
  // A pool.wait event for a client that waited at least this long for a
  // server connection (short waits are normal; the wait histogram has them).
  Millis pool_wait_threshold{100};
};

struct AdminConfig {
  std::optional<HostPort> listen;  // HTTP /metrics and JSON API; unset = off
  // The PgBouncer-compatible console: a virtual database on the proxy port.
  std::string console_database = "pgbouncer";
  std::vector<std::string> admin_users;  // may SHOW, PAUSE, RESUME, KILL, RELOAD
  std::vector<std::string> stats_users;  // may SHOW
  Millis headroom_interval{15'000};      // how often max_connections headroom is probed; 0 = off
};

struct ForensicsConfig {
  bool enabled = true;
  Millis window{900'000};  // closes considered
  int min_count = 3;       // closes needed before a pattern is named
  Millis burst_window{1'000};
  int burst_min = 5;  // closes of distinct connections within burst_window
  Millis evaluate_every{5'000};
};

// [[alerts.rule]]: `kind` picks the condition.
//   close_rate:     closes matching cause/side/initiator >= threshold within window
//   wait_timeouts:  pool.timeout events >= threshold within window
//   headroom:       free server connections (max_connections headroom) <= threshold
//   sink_failing:   any event sink down for longer than window
struct AlertRuleConfig {
  std::string name;
  std::string kind;
  std::string cause, side, initiator;  // close_rate filters; empty = any
  int threshold = 1;
  Millis window{60'000};
};

struct AlertsConfig {
  std::string webhook_url;  // http:// URL; empty = events only
  Millis evaluate_every{5'000};
  Millis repeat_interval{0};  // re-send a firing alert this often; 0 = never
  Millis timeout{5'000};
  std::vector<AlertRuleConfig> rules;
};

struct ProxyConfig {
  std::vector<HostPort> listen{{"127.0.0.1", 6432}};
  int workers = 0;  // 0 = one per core
  int max_client_conn = 1000;
  PoolMode pool_mode = PoolMode::transaction;
  int default_pool_size = 20;
  int min_pool_size = 0;
  int reserve_pool_size = 0;
  ClientAuth auth_type = ClientAuth::scram_sha_256;
  ClientTls client_tls;  // client_tls_* keys
  ServerTls server_tls;  // server_tls_* keys (PgBouncer's names) and [databases.X] ssl* keys
  // A user whose configured password is empty (or missing) cannot log in with
  // a password method unless this is set.
  bool auth_allow_empty_password = false;
  // auth_type = trust: accept user names that are not in [users]/auth_file.
  bool auth_trust_any_user = false;
  // Connections accepted but not yet authenticated (startup + auth).
  int max_unauthenticated_clients = 256;
  std::string server_reset_query = "DISCARD ALL";
  bool server_reset_query_always = false;
  std::string server_check_query;  // empty = an empty query
  int max_prepared_statements = 200;
  uint32_t max_packet_size = 256u << 20;
  // Bytes queued for a client that does not read before its server link's
  // reads pause (backpressure instead of unbounded memory).
  uint32_t client_buffer_size = 1u << 20;
  SessionStatePolicy transaction_session_state = SessionStatePolicy::pin;
  std::string auth_file;       // PgBouncer-style userlist: "user" "password" per line
  AuthQueryConfig auth_query;  // auth_user, auth_query, auth_dbname, auth_query_*cache_ttl
  Timeouts timeouts;
  Keepalive keepalive;
  std::map<std::string, DatabaseConfig> databases;
  std::map<std::string, UserConfig> users;
  EventsConfig events;
  AdminConfig admin;
  ForensicsConfig forensics;
  AlertsConfig alerts;
  std::string source;  // file the config came from, for messages
};

// A config problem, already formatted as "FILE:LINE:COL: what is wrong".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

ProxyConfig load_config_file(const std::string& path);

// Reads a PgBouncer-style users file ("name" "password" per line; "" escapes a
// quote; # or ; comments) into cfg.users, keeping users already defined.
void load_auth_file(ProxyConfig& cfg, const std::string& path);
ProxyConfig parse_config(std::string_view toml_text, const std::string& source_name);

// The config-less form: one database from a postgres:// URL.
// postgres://USER:PASSWORD@HOST:PORT/DB; the user logs in with the same password.
// libpq's multi-host form HOST1:PORT1,HOST2:PORT2 gives the database several
// hosts; ?target_session_attrs=read-write|read-only|prefer-standby|any.
void add_backend_url(ProxyConfig& cfg, std::string_view url);

// Checks cross-key rules (pools vs limits, at least one database...).
void validate(const ProxyConfig& cfg);

}  // namespace pgw
