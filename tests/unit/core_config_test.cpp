#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "pgwarden/core/config.hpp"

using namespace pgw;

TEST(Duration, ParsesUnits) {
  EXPECT_EQ(parse_duration("250ms"), Millis(250));
  EXPECT_EQ(parse_duration("30s"), Millis(30'000));
  EXPECT_EQ(parse_duration("5m"), Millis(300'000));
  EXPECT_EQ(parse_duration("2h"), Millis(7'200'000));
  EXPECT_EQ(parse_duration("12"), Millis(12'000));
  EXPECT_FALSE(parse_duration("-1s"));
  EXPECT_FALSE(parse_duration("5 parsecs"));
  EXPECT_FALSE(parse_duration(""));
  EXPECT_EQ(parse_duration("36500d"), Millis(int64_t{36500} * 86'400'000));
  EXPECT_EQ(format_duration(Millis(350'000)), "350s");
  EXPECT_EQ(format_duration(Millis(1500)), "1500ms");
}

TEST(Duration, RejectsMoreThanAHundredYears) {
  // 2^40 days passed the old check and overflowed int64 milliseconds.
  EXPECT_FALSE(parse_duration("1099511627776d"));
  EXPECT_FALSE(parse_duration("36501d"));
  EXPECT_FALSE(parse_duration("3153600000001ms"));
  EXPECT_FALSE(parse_duration("99999999999999999999"));
}

TEST(Config, ParsesFullExample) {
  auto cfg = parse_config(R"(
[proxy]
listen = ["127.0.0.1:6432", "127.0.0.1:6433"]
pool_mode = "session"
default_pool_size = 7
auth_type = "md5"
[timeouts]
query_wait_timeout = "3s"
server_lifetime = 60
[databases.app]
host = "10.0.0.1"
port = 5433
dbname = "appdb"
pool_size = 3
[users.alice]
password = "secret"
)",
                          "t.toml");
  ASSERT_EQ(cfg.listen.size(), 2u);
  EXPECT_EQ(cfg.listen[1].port, 6433);
  EXPECT_EQ(cfg.pool_mode, PoolMode::session);
  EXPECT_EQ(cfg.default_pool_size, 7);
  EXPECT_EQ(cfg.auth_type, ClientAuth::md5);
  EXPECT_EQ(cfg.timeouts.query_wait, Millis(3000));
  EXPECT_EQ(cfg.timeouts.server_lifetime, Millis(60'000));
  EXPECT_EQ(cfg.databases.at("app").dbname, "appdb");
  EXPECT_EQ(cfg.databases.at("app").port, 5433);
  EXPECT_EQ(cfg.databases.at("app").pool_size, 3);
  EXPECT_EQ(cfg.users.at("alice").password, "secret");
}

static std::string error_of(const char* text) {
  try {
    parse_config(text, "bad.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, SyntaxErrorNamesFileLineColumn) {
  EXPECT_EQ(error_of("[proxy]\nlisten = [\"a:1\"\n").rfind("bad.toml:", 0), 0u);
  std::string e = error_of("[proxy]\npool_size = = 3\n");
  EXPECT_NE(e.find("bad.toml:2:"), std::string::npos) << e;
}

TEST(Config, SemanticErrorsNameTheKeyAndPosition) {
  EXPECT_EQ(error_of("[proxy]\n  pool_mode = \"statement\"\n"),
            "bad.toml:2:15: 'proxy.pool_mode' must be \"session\" or \"transaction\"");
  EXPECT_EQ(error_of("[timeouts]\nquery_wait_timeout = \"soon\"\n"),
            "bad.toml:2:22: 'timeouts.query_wait_timeout' = \"soon\" is not a duration (e.g. "
            "\"500ms\", \"30s\", \"5m\")");
  EXPECT_EQ(error_of("[proxy]\ndefault_pool_sise = 3\n"),
            "bad.toml:2:21: unknown key 'proxy.default_pool_sise'");
  // Seconds times 1000 overflowed int64 (undefined behaviour) instead of failing.
  EXPECT_EQ(error_of("[timeouts]\nquery_timeout = 9223372036854775807\n"),
            "bad.toml:2:17: 'timeouts.query_timeout' must be at most 3153600000 seconds (100 "
            "years)");
  EXPECT_EQ(error_of("[databases.x]\nport = 70000\n"),
            "bad.toml:2:8: 'databases.x.port' = 70000 is out of range [1, 65535]");
}

TEST(Config, PasswordsFromEnvironmentAndFiles) {
  char dir[] = "/tmp/pgwarden-secret-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  const std::string file = std::string(dir) + "/app.pw";
  { std::ofstream(file) << "from-file\n"; }
  ::setenv("PGWARDEN_TEST_SECRET", "from-env", 1);
  auto cfg = parse_config(
      "[databases.d]\npassword_env = \"PGWARDEN_TEST_SECRET\"\n"
      "[users.u]\npassword_file = \"" +
          file + "\"\n",
      "secret.toml");
  EXPECT_EQ(cfg.databases.at("d").password, "from-env");
  EXPECT_EQ(cfg.users.at("u").password, "from-file");
  ::unsetenv("PGWARDEN_TEST_SECRET");
  EXPECT_EQ(error_of("[users.u]\npassword_env = \"PGWARDEN_TEST_SECRET\"\n"),
            "bad.toml:2:16: 'users.u.password_env': environment variable PGWARDEN_TEST_SECRET is "
            "not set");
  EXPECT_EQ(error_of("[users.u]\npassword_file = \"/nonexistent/pw\"\n"),
            "bad.toml:2:17: 'users.u.password_file': cannot read \"/nonexistent/pw\"");
  EXPECT_EQ(error_of("[users.u]\npassword = \"x\"\npassword_env = \"Y\"\n"),
            "bad.toml:2:12: give only one of 'users.u.password', 'users.u.password_env' and "
            "'users.u.password_file'");
  std::filesystem::remove_all(dir);
}

TEST(Config, BackendUrl) {
  ProxyConfig cfg;
  add_backend_url(cfg, "postgres://app:p%40ss@db.internal:6543/orders");
  auto& db = cfg.databases.at("orders");
  EXPECT_EQ(db.host, "db.internal");
  EXPECT_EQ(db.port, 6543);
  EXPECT_EQ(cfg.users.at("app").password, "p@ss");
  EXPECT_THROW(add_backend_url(cfg, "mysql://x@y/z"), ConfigError);
  EXPECT_THROW(add_backend_url(cfg, "postgres://host:5432/db"), ConfigError);
}

TEST(Config, BackendUrlTlsParameters) {
  ProxyConfig cfg;
  add_backend_url(cfg,
                  "postgres://app:pw@db:5432/app?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem"
                  "&sslsni=0&require_auth=scram-sha-256&channel_binding=require");
  const ServerTls tls = cfg.databases.at("app").tls.apply_to(cfg.server_tls);
  EXPECT_EQ(tls.sslmode, SslMode::verify_full);
  EXPECT_EQ(tls.sslrootcert, "/etc/ca.pem");
  EXPECT_FALSE(tls.sslsni);
  EXPECT_EQ(tls.require_auth, std::vector<std::string>{"scram-sha-256"});
  EXPECT_EQ(tls.channel_binding, "require");
  // Never silently dropped: an unknown parameter or value is an error.
  auto url_error = [](const char* url) {
    ProxyConfig c;
    try {
      add_backend_url(c, url);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(
      url_error("postgres://a@h/d?sslcompression=1").find("unsupported parameter 'sslcompression'"),
      std::string::npos);
  EXPECT_NE(url_error("postgres://a@h/d?sslmode=required").find("sslmode must be one of"),
            std::string::npos);
  EXPECT_NE(
      url_error("postgres://a@h/d?require_auth=gss").find("unknown authentication method \"gss\""),
      std::string::npos);
}

TEST(Config, ServerTlsKeysAndTheirErrors) {
  auto cfg = parse_config(R"(
[proxy]
server_tls_sslmode = "require"
server_tls_ca_file = "/etc/ca.pem"
[databases.a]
[databases.b]
sslmode = "disable"
require_auth = "md5,scram-sha-256"
)",
                          "tls.toml");
  EXPECT_EQ(cfg.databases.at("a").tls.apply_to(cfg.server_tls).sslmode, SslMode::require);
  EXPECT_EQ(cfg.databases.at("a").tls.apply_to(cfg.server_tls).sslrootcert, "/etc/ca.pem");
  const ServerTls b = cfg.databases.at("b").tls.apply_to(cfg.server_tls);
  EXPECT_EQ(b.sslmode, SslMode::disable);
  EXPECT_EQ(b.require_auth, (std::vector<std::string>{"md5", "scram-sha-256"}));
  EXPECT_EQ(error_of("[databases.x]\nsslmode = \"on\"\n"),
            "bad.toml:2:11: 'databases.x.sslmode' must be one of disable, allow, prefer, require, "
            "verify-ca, verify-full");
  EXPECT_EQ(error_of("[databases.x]\nchannel_binding = \"yes\"\n"),
            "bad.toml:2:19: 'databases.x.channel_binding': channel_binding must be disable, prefer "
            "or require, not \"yes\"");
}

TEST(Config, ClientTlsKeysAndTheirErrors) {
  auto cfg = parse_config(R"(
[proxy]
client_tls_sslmode = "verify-full"
client_tls_cert_file = "/etc/s.crt"
client_tls_key_file = "/etc/s.key"
client_tls_ca_file = "/etc/ca.crt"
client_tls_protocols = "tlsv1.3"
client_tls13_ciphers = "TLS_AES_256_GCM_SHA384"
auth_type = "cert"
[databases.a]
)",
                          "tls.toml");
  EXPECT_EQ(cfg.client_tls.sslmode, SslMode::verify_full);
  EXPECT_EQ(cfg.client_tls.ca_file, "/etc/ca.crt");
  EXPECT_EQ(cfg.client_tls.tls13_ciphers, "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ(cfg.auth_type, ClientAuth::cert);
  EXPECT_EQ(ProxyConfig{}.client_tls.sslmode, SslMode::disable);
  EXPECT_EQ(error_of("[proxy]\nclient_tls_protocols = \"tlsv1.1\"\n"),
            "bad.toml:2:24: 'proxy.client_tls_protocols' must list tlsv1.2 and/or tlsv1.3 "
            "(comma-separated), or be \"secure\" or \"all\"");
  EXPECT_EQ(error_of("[proxy]\nclient_tls_sslmode = \"on\"\n"),
            "bad.toml:2:22: 'proxy.client_tls_sslmode' must be one of disable, allow, prefer, "
            "require, verify-ca, verify-full");
}

TEST(Config, TlsProtocolLists) {
  auto range = [](std::string_view text) {
    auto r = parse_tls_protocols(text);
    return r ? std::pair(r->min, r->max) : std::pair(-1, -1);
  };
  EXPECT_EQ(range("secure"), std::pair(0x0303, 0x0304));
  EXPECT_EQ(range("all"), std::pair(0x0303, 0x0304));
  EXPECT_EQ(range("tlsv1.3"), std::pair(0x0304, 0x0304));
  EXPECT_EQ(range(" tlsv1.3 , tlsv1.2"), std::pair(0x0303, 0x0304));
  EXPECT_EQ(range("tlsv1.2,"), std::pair(0x0303, 0x0303));
  EXPECT_EQ(range(""), std::pair(-1, -1));
  EXPECT_EQ(range("tlsv1.0"), std::pair(-1, -1));
  EXPECT_EQ(range("tlsv1.2,sslv3"), std::pair(-1, -1));
}

TEST(Config, ClientTlsNeedsItsFiles) {
  auto invalid = [](const std::string& proxy_keys) {
    ProxyConfig cfg = parse_config(
        "[proxy]\n" + proxy_keys + "\n[databases.a]\n[users.u]\npassword = \"p\"\n", "v.toml");
    try {
      validate(cfg);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("valid");
  };
  EXPECT_EQ(invalid("client_tls_sslmode = \"prefer\""),
            "v.toml: proxy.client_tls_sslmode is prefer but client_tls_cert_file and "
            "client_tls_key_file are not both set; pgwarden needs a certificate to offer clients "
            "TLS");
  const std::string files = "client_tls_cert_file = \"c\"\nclient_tls_key_file = \"k\"\n";
  EXPECT_EQ(invalid(files + "client_tls_sslmode = \"require\""), "valid");
  EXPECT_NE(
      invalid(files + "client_tls_sslmode = \"verify-ca\"").find("client_tls_ca_file is not set"),
      std::string::npos);
  EXPECT_NE(invalid(files + "client_tls_sslmode = \"require\"\nauth_type = \"cert\"")
                .find("auth_type is cert but proxy.client_tls_sslmode is require"),
            std::string::npos);
}

TEST(Config, AuthFileInPgBouncerFormat) {
  char dir[] = "/tmp/pgwarden-authfile-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  std::string base = dir;
  {
    std::ofstream(base + "/users.txt") << "# comment\n\"alice\" \"s3cret\"\n\n\"bob\" \"a\"\"b\"\n";
    std::ofstream(base + "/p.toml") << "[proxy]\nauth_file = \"users.txt\"\n";
    std::ofstream(base + "/bad.txt") << "\"carol\" unquoted\n";
  }
  auto cfg = load_config_file(base + "/p.toml");
  EXPECT_EQ(cfg.users.at("alice").password, "s3cret");
  EXPECT_EQ(cfg.users.at("bob").password, "a\"b");
  try {
    load_auth_file(cfg, base + "/bad.txt");
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), base + "/bad.txt:1:9: expected a double-quoted password");
  }
  std::filesystem::remove_all(base);
}

TEST(Config, AuthQueryKeys) {
  auto defaults = parse_config("", "d.toml");
  EXPECT_TRUE(defaults.auth_query.user.empty());
  EXPECT_EQ(defaults.auth_query.query, "SELECT usename, passwd FROM pg_shadow WHERE usename=$1");
  EXPECT_EQ(defaults.auth_query.cache_ttl, Millis(60'000));
  EXPECT_EQ(defaults.auth_query.negative_cache_ttl, Millis(10'000));
  auto cfg = parse_config(R"toml(
[proxy]
auth_user = "lookup"
auth_query = "SELECT usename, passwd FROM pgwarden.user_secret($1)"
auth_dbname = "postgres"
auth_query_cache_ttl = "5m"
auth_query_negative_cache_ttl = "2s"
[databases.app]
)toml",
                          "a.toml");
  EXPECT_EQ(cfg.auth_query.user, "lookup");
  EXPECT_EQ(cfg.auth_query.query, "SELECT usename, passwd FROM pgwarden.user_secret($1)");
  EXPECT_EQ(cfg.auth_query.dbname, "postgres");
  EXPECT_EQ(cfg.auth_query.cache_ttl, Millis(300'000));
  EXPECT_EQ(cfg.auth_query.negative_cache_ttl, Millis(2'000));
  // No [users] is fine when auth_user can look them up; not with trust.
  EXPECT_NO_THROW(validate(cfg));
  cfg.auth_type = ClientAuth::trust;
  EXPECT_THROW(validate(cfg), ConfigError);
  EXPECT_EQ(error_of("[proxy]\nauth_query = \"SELECT 'x'\"\n"),
            "bad.toml:2:14: 'proxy.auth_query' must take the user name as its parameter $1");
}

TEST(Config, ObservabilitySections) {
  auto cfg = parse_config(R"(
[databases.app]
[events]
recent = 500
[[events.sink]]
type = "file"
path = "/var/log/pgwarden/events.jsonl"
[[events.sink]]
type = "loki"
url = "http://127.0.0.1:3100/loki/api/v1/push"
labels = { job = "pgwarden", env = "prod" }
queue_size = 100
batch_size = 10
flush_interval = "250ms"
timeout = "2s"
[[events.sink]]
type = "syslog"
[admin]
listen = "127.0.0.1:9127"
admin_users = ["ops"]
stats_users = ["grafana", "exporter"]
headroom_interval = "5s"
[forensics]
window = "10m"
min_count = 4
burst_min = 8
[alerts]
webhook_url = "http://hooks.internal/x"
repeat_interval = "1h"
[[alerts.rule]]
name = "terminations"
kind = "close_rate"
cause = "server_fatal"
threshold = 5
window = "1m"
[[alerts.rule]]
name = "headroom"
kind = "headroom"
threshold = 3
)",
                          "ok.toml");
  EXPECT_EQ(cfg.events.recent, 500);
  ASSERT_EQ(cfg.events.sinks.size(), 3u);
  EXPECT_EQ(cfg.events.sinks[0].type, "file");
  EXPECT_EQ(cfg.events.sinks[0].target, "/var/log/pgwarden/events.jsonl");
  EXPECT_EQ(cfg.events.sinks[1].target, "http://127.0.0.1:3100/loki/api/v1/push");
  EXPECT_EQ(cfg.events.sinks[1].labels.at("env"), "prod");
  EXPECT_EQ(cfg.events.sinks[1].queue_size, 100);
  EXPECT_EQ(cfg.events.sinks[1].flush_interval, Millis(250));
  EXPECT_EQ(cfg.events.sinks[1].timeout, Millis(2000));
  EXPECT_EQ(cfg.events.sinks[2].target, "unix:/dev/log");
  ASSERT_TRUE(cfg.admin.listen.has_value());
  EXPECT_EQ(cfg.admin.listen->str(), "127.0.0.1:9127");
  EXPECT_EQ(cfg.admin.console_database, "pgbouncer");
  EXPECT_EQ(cfg.admin.stats_users, (std::vector<std::string>{"grafana", "exporter"}));
  EXPECT_EQ(cfg.admin.headroom_interval, Millis(5000));
  EXPECT_EQ(cfg.forensics.window, Millis(600'000));
  EXPECT_EQ(cfg.forensics.min_count, 4);
  EXPECT_EQ(cfg.forensics.burst_min, 8);
  EXPECT_EQ(cfg.alerts.repeat_interval, Millis(3'600'000));
  ASSERT_EQ(cfg.alerts.rules.size(), 2u);
  EXPECT_EQ(cfg.alerts.rules[0].cause, "server_fatal");
  EXPECT_EQ(cfg.alerts.rules[0].threshold, 5);
  EXPECT_EQ(cfg.alerts.rules[1].kind, "headroom");
}

TEST(Config, ObservabilityErrorsNameTheKeyAndPosition) {
  EXPECT_EQ(error_of("[[events.sink]]\ntype = \"kafka\"\n"),
            "bad.toml:1:1: 'events.sink[0].type' = \"kafka\" must be one of stdout, file, "
            "syslog, loki, otlp");
  EXPECT_EQ(error_of("[[events.sink]]\ntype = \"file\"\n"),
            "bad.toml:1:1: 'events.sink[0].type' sink needs 'path'");
  EXPECT_EQ(error_of("[[events.sink]]\ntype = \"stdout\"\ncolour = true\n"),
            "bad.toml:3:10: unknown key 'events.sink[0].colour'");
  EXPECT_EQ(error_of("[[events.sink]]\ntype = \"loki\"\nurl = \"http://x\"\ntimeout = 0\n"),
            "bad.toml:4:11: 'events.sink[0].timeout' must be more than 0");
  EXPECT_EQ(parse_config("[admin]\nlisten = \":9127\"\n", "ok.toml").admin.listen->str(),
            "127.0.0.1:9127");  // no authentication: loopback unless a host is named
  EXPECT_EQ(error_of("[admin]\nlisten = \"everywhere\"\n"),
            "bad.toml:2:10: 'admin.listen' must be a \"host:port\" string");
  EXPECT_EQ(error_of("[alerts]\nwebhook_url = \"https://x\"\n"),
            "bad.toml:2:15: 'alerts.webhook_url' must be an http:// URL (https is not "
            "supported yet)");
  EXPECT_EQ(error_of("[[alerts.rule]]\nname = \"a\"\nkind = \"close_rate\"\n"
                     "[[alerts.rule]]\nname = \"a\"\nkind = \"headroom\"\n"),
            "bad.toml:4:1: alert rule name 'a' is used twice");
  EXPECT_EQ(error_of("[[alerts.rule]]\nname = \"a\"\nkind = \"loud\"\n"),
            "bad.toml:1:1: 'alerts.rule[0].kind' = \"loud\" must be one of close_rate, "
            "wait_timeouts, headroom, sink_failing");
}

TEST(Config, UserTimeoutIsDerivedFromKeepaliveUnlessSet) {
  // idle + interval x count: when keepalive would give up on a silent peer.
  EXPECT_EQ(ProxyConfig{}.keepalive.user_timeout, Millis(120'000));
  EXPECT_EQ(parse_config("", "t.toml").keepalive.user_timeout, Millis(120'000));
  EXPECT_EQ(parse_config("[keepalive]\nidle = 30\ninterval = 5\ncount = 3\n", "t.toml")
                .keepalive.user_timeout,
            Millis(45'000));
  EXPECT_EQ(parse_config("[keepalive]\nidle = 30\nuser_timeout = \"10s\"\n", "t.toml")
                .keepalive.user_timeout,
            Millis(10'000));
  EXPECT_EQ(parse_config("[keepalive]\nuser_timeout = 0\n", "t.toml").keepalive.user_timeout,
            Millis(0));
  EXPECT_EQ(parse_config("[keepalive]\nenabled = false\n", "t.toml").keepalive.user_timeout,
            Millis(0));
  EXPECT_EQ(keepalive_user_timeout(60, 10, 6), Millis(120'000));
}

TEST(Config, AuthKeys) {
  ProxyConfig defaults;
  EXPECT_FALSE(defaults.auth_allow_empty_password);
  EXPECT_FALSE(defaults.auth_trust_any_user);
  auto cfg = parse_config("[proxy]\nauth_allow_empty_password = true\nauth_trust_any_user = true\n",
                          "t.toml");
  EXPECT_TRUE(cfg.auth_allow_empty_password);
  EXPECT_TRUE(cfg.auth_trust_any_user);
  EXPECT_EQ(error_of("[proxy]\nauth_trust_any_user = \"yes\"\n"),
            "bad.toml:2:23: 'proxy.auth_trust_any_user' must be true or false");
}

TEST(Config, TrustWithoutUsersNeedsTheOptIn) {
  ProxyConfig cfg;
  cfg.source = "t.toml";
  cfg.auth_type = ClientAuth::trust;
  cfg.databases["app"] = DatabaseConfig{.name = "app"};
  try {
    validate(cfg);
    ADD_FAILURE() << "trust without [users] accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("proxy.auth_trust_any_user = true"), std::string::npos)
        << e.what();
  }
  cfg.auth_trust_any_user = true;
  EXPECT_NO_THROW(validate(cfg));
  cfg.auth_trust_any_user = false;
  cfg.users["app"] = UserConfig{.name = "app"};
  EXPECT_NO_THROW(validate(cfg));
}

TEST(Config, MaxUnauthenticatedClients) {
  EXPECT_EQ(ProxyConfig{}.max_unauthenticated_clients, 256);
  EXPECT_EQ(parse_config("[proxy]\nmax_unauthenticated_clients = 10\n", "t.toml")
                .max_unauthenticated_clients,
            10);
  EXPECT_EQ(error_of("[proxy]\nmax_unauthenticated_clients = 0\n"),
            "bad.toml:2:31: 'proxy.max_unauthenticated_clients' = 0 is out of range [1, 1000000]");
}

TEST(Config, InternalQueryTimeout) {
  EXPECT_EQ(Timeouts{}.internal_query, Millis(5'000));
  EXPECT_EQ(parse_config("[timeouts]\ninternal_query_timeout = \"750ms\"\n", "t.toml")
                .timeouts.internal_query,
            Millis(750));
  EXPECT_EQ(
      parse_config("[timeouts]\ninternal_query_timeout = 0\n", "t.toml").timeouts.internal_query,
      Millis(0));
}

TEST(Config, BackendUrlSeveralHosts) {
  ProxyConfig cfg;
  add_backend_url(cfg,
                  "postgres://app:pw@10.0.0.1:5432,10.0.0.2:5433,db3/orders"
                  "?target_session_attrs=read-write");
  const auto& db = cfg.databases.at("orders");
  ASSERT_EQ(db.all_hosts().size(), 3u);
  EXPECT_EQ(db.all_hosts()[0].str(), "10.0.0.1:5432");
  EXPECT_EQ(db.all_hosts()[1].str(), "10.0.0.2:5433");
  EXPECT_EQ(db.all_hosts()[2].str(), "db3:5432");  // a host without a port: 5432
  EXPECT_EQ(db.host, "10.0.0.1");                  // the first host, for what reads host/port
  EXPECT_EQ(db.session_attrs(), TargetSessionAttrs::read_write);
  // The default: read-write with several hosts, any with one.
  ProxyConfig c2;
  add_backend_url(c2, "postgres://app:pw@a:1,b:2/x");
  EXPECT_EQ(c2.databases.at("x").session_attrs(), TargetSessionAttrs::read_write);
  add_backend_url(c2, "postgres://app:pw@a:1/y?target_session_attrs=prefer-standby");
  EXPECT_EQ(c2.databases.at("y").session_attrs(), TargetSessionAttrs::prefer_standby);
  EXPECT_EQ(c2.databases.at("y").all_hosts().size(), 1u);
  add_backend_url(c2, "postgres://app:pw@a:1/z");
  EXPECT_EQ(c2.databases.at("z").session_attrs(), TargetSessionAttrs::any);
  EXPECT_THROW(add_backend_url(c2, "postgres://app:pw@a:1,,b:2/x"), ConfigError);
  EXPECT_THROW(add_backend_url(c2, "postgres://app:pw@a:1,b:99999/x"), ConfigError);
  try {
    add_backend_url(c2, "postgres://app:pw@a:1,b:2/x?target_session_attrs=primary");
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("target_session_attrs must be one of"), std::string::npos);
  }
}

TEST(Config, DatabaseHostsAndFailoverKnobs) {
  auto cfg = parse_config(R"(
[timeouts]
failover_wait_timeout = "12s"
host_check_interval = "2s"
host_check_fast_interval = "50ms"
host_check_timeout = "1s"
host_quarantine = "250ms"
host_quarantine_max = "4s"
dns_max_ttl = "3s"
[databases.app]
hosts = ["127.0.0.1:5432", "10.0.0.2:5433", "db3"]
target_session_attrs = "read-only"
[databases.one]
host = "h"
port = 6000
)",
                          "t.toml");
  const auto& db = cfg.databases.at("app");
  ASSERT_EQ(db.all_hosts().size(), 3u);
  EXPECT_EQ(db.all_hosts()[1].str(), "10.0.0.2:5433");
  EXPECT_EQ(db.all_hosts()[2].str(), "db3:5432");
  EXPECT_EQ(db.session_attrs(), TargetSessionAttrs::read_only);
  EXPECT_EQ(cfg.databases.at("one").all_hosts().size(), 1u);
  EXPECT_EQ(cfg.databases.at("one").all_hosts()[0].str(), "h:6000");
  EXPECT_EQ(cfg.databases.at("one").session_attrs(), TargetSessionAttrs::any);
  EXPECT_EQ(cfg.timeouts.failover_wait, Millis(12'000));
  EXPECT_EQ(cfg.timeouts.host_check_interval, Millis(2'000));
  EXPECT_EQ(cfg.timeouts.host_check_fast_interval, Millis(50));
  EXPECT_EQ(cfg.timeouts.host_check_timeout, Millis(1'000));
  EXPECT_EQ(cfg.timeouts.host_quarantine, Millis(250));
  EXPECT_EQ(cfg.timeouts.host_quarantine_max, Millis(4'000));
  EXPECT_EQ(cfg.timeouts.dns_max_ttl, Millis(3'000));
  // Defaults.
  ProxyConfig d;
  EXPECT_EQ(d.timeouts.failover_wait, Millis(30'000));
  EXPECT_EQ(d.timeouts.host_check_fast_interval, Millis(100));
  auto error = [](const char* toml) {
    try {
      parse_config(toml, "t.toml");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(error("[databases.a]\nhosts = []\n").find("non-empty array"), std::string::npos);
  EXPECT_NE(error("[databases.a]\nhosts = [\"h:0\"]\n").find("entries must be"), std::string::npos);
  EXPECT_NE(error("[databases.a]\nhosts = [\"h:1\"]\nport = 5\n").find("not both"),
            std::string::npos);
  EXPECT_NE(error("[databases.a]\ntarget_session_attrs = \"primary\"\n").find("must be one of"),
            std::string::npos);
}
