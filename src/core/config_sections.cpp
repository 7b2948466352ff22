// The observability sections of the config (where events go, the admin
// listener and console, drop forensics and alert rules) and [proxy]'s
// auth_query keys.
#include <set>

#include "toml_reader.hpp"

namespace pgw::detail {

namespace {

void read_sink(TableReader& r, const toml::node& where, SinkConfig& sink) {
  r.read("type", sink.type);
  std::string path, address, url;
  r.read("path", path);
  r.read("address", address);
  r.read("url", url);
  r.read("labels", sink.labels);
  r.read("queue_size", sink.queue_size, 1, 10'000'000);
  r.read("batch_size", sink.batch_size, 1, 100'000);
  r.read("flush_interval", sink.flush_interval);
  r.read("timeout", sink.timeout);
  r.reject_unknown();
  if (sink.timeout.count() <= 0)  // no time at all: every delivery would fail
    r.fail(*r.get("timeout"), fmt::format("'{}' must be more than 0", r.key_name("timeout")));
  auto need = [&](const std::string& value, const char* key) {
    if (value.empty()) r.fail(where, fmt::format("'{}' sink needs '{}'", r.key_name("type"), key));
    sink.target = value;
  };
  if (sink.type == "stdout") {
  } else if (sink.type == "file") {
    need(path, "path");
  } else if (sink.type == "syslog") {
    sink.target = address.empty() ? "unix:/dev/log" : address;
  } else if (sink.type == "loki" || sink.type == "otlp") {
    need(url, "url");
    if (!url.starts_with("http://"))
      r.fail(where, fmt::format("'{}' must be an http:// URL (https is not supported yet)",
                                r.key_name("url")));
  } else {
    r.fail(where, fmt::format("'{}' = \"{}\" must be one of stdout, file, syslog, loki, otlp",
                              r.key_name("type"), sink.type));
  }
}

}  // namespace

void read_auth_query(TableReader& r, AuthQueryConfig& out) {
  r.read("auth_user", out.user);
  r.read("auth_query", out.query);
  r.read("auth_dbname", out.dbname);
  r.read("auth_query_cache_ttl", out.cache_ttl);
  r.read("auth_query_negative_cache_ttl", out.negative_cache_ttl);
  if (const toml::node* q = r.get("auth_query"); q && out.query.find("$1") == std::string::npos)
    r.fail(*q, "'proxy.auth_query' must take the user name as its parameter $1");
}

void read_events(TableReader& r, EventsConfig& out) {
  r.read("recent", out.recent, 0, 1'000'000);
  r.read("pool_wait_threshold", out.pool_wait_threshold);
  r.each_table("sink", [&](TableReader& s, const toml::node& where) {
    SinkConfig sink;
    read_sink(s, where, sink);
    out.sinks.push_back(std::move(sink));
  });
}

void read_admin(TableReader& r, AdminConfig& out) {
  r.read("listen", out.listen);
  // The API has no authentication: ":PORT" means loopback, not every address.
  if (out.listen && r.get("listen")->value<std::string>().value_or("").starts_with(":"))
    out.listen->host = "127.0.0.1";
  r.read("console_database", out.console_database);
  r.read("admin_users", out.admin_users);
  r.read("stats_users", out.stats_users);
  r.read("headroom_interval", out.headroom_interval);
}

void read_forensics(TableReader& r, ForensicsConfig& out) {
  r.read("enabled", out.enabled);
  r.read("window", out.window);
  r.read("min_count", out.min_count, 2, 1'000'000);
  r.read("burst_window", out.burst_window);
  r.read("burst_min", out.burst_min, 2, 1'000'000);
  r.read("evaluate_every", out.evaluate_every);
}

void read_alerts(TableReader& r, AlertsConfig& out) {
  r.read("webhook_url", out.webhook_url);
  if (!out.webhook_url.empty() && !out.webhook_url.starts_with("http://"))
    r.fail(*r.get("webhook_url"),
           "'alerts.webhook_url' must be an http:// URL (https is not supported yet)");
  r.read("evaluate_every", out.evaluate_every);
  r.read("repeat_interval", out.repeat_interval);
  r.read("timeout", out.timeout);
  std::set<std::string> names;
  r.each_table("rule", [&](TableReader& a, const toml::node& where) {
    AlertRuleConfig rule;
    a.read("name", rule.name);
    a.read("kind", rule.kind);
    a.read("cause", rule.cause);
    a.read("side", rule.side);
    a.read("initiator", rule.initiator);
    a.read("threshold", rule.threshold, 0, 1'000'000'000);
    a.read("window", rule.window);
    a.reject_unknown();
    if (rule.name.empty()) a.fail(where, fmt::format("'{}' is required", a.key_name("name")));
    if (!names.insert(rule.name).second)
      a.fail(where, fmt::format("alert rule name '{}' is used twice", rule.name));
    static const std::set<std::string> kinds{"close_rate", "wait_timeouts", "headroom",
                                             "sink_failing"};
    if (!kinds.count(rule.kind))
      a.fail(where, fmt::format("'{}' = \"{}\" must be one of close_rate, wait_timeouts, headroom, "
                                "sink_failing",
                                a.key_name("kind"), rule.kind));
    out.rules.push_back(std::move(rule));
  });
}

}  // namespace pgw::detail
