#include "pgwarden/admin/api.hpp"

#include <fmt/format.h>

#include <charconv>
#include <ctime>
#include <map>

#include "pgwarden/core/version.hpp"
#include "pgwarden/proxy/session.hpp"

namespace pgw::admin {

namespace {

using json = nlohmann::json;

HttpResponse json_ok(const json& j) {
  return {200, "application/json", j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"};
}

HttpResponse bad_request(const std::string& message) {
  return {400, "application/json", json{{"error", message}}.dump() + "\n"};
}

std::string iso(std::chrono::system_clock::time_point tp) {
  return observe::format_ts(tp);
}

// Filters shared by /api/events and /api/drops.
struct EventQuery {
  std::optional<observe::SystemClock::time_point> since;
  size_t limit = 1000;
  std::string event, cause, side, initiator, pool;
};

std::optional<std::string> read_query(const HttpRequest& req, EventQuery& q) {
  auto get = [&](const char* k) -> const std::string* {
    auto it = req.query.find(k);
    return it == req.query.end() ? nullptr : &it->second;
  };
  if (auto* s = get("since")) {
    q.since = parse_rfc3339(*s);
    if (!q.since)
      return fmt::format("since={}: expected an RFC 3339 time like 2026-11-27T06:00:00Z", *s);
  }
  if (auto* l = get("limit")) {
    size_t v = 0;
    auto [p, ec] = std::from_chars(l->data(), l->data() + l->size(), v);
    if (ec != std::errc{} || p != l->data() + l->size() || v == 0)
      return fmt::format("limit={}: expected a positive integer", *l);
    q.limit = v;
  }
  for (auto [key, field] : {std::pair{"event", &q.event},
                            {"cause", &q.cause},
                            {"side", &q.side},
                            {"initiator", &q.initiator},
                            {"pool", &q.pool}})
    if (auto* v = get(key)) *field = *v;
  return std::nullopt;
}

bool is_drop(const observe::ConnectionEvent& e) {
  if (e.event == "server.connect_failed") return true;
  if (!e.event.ends_with(".close")) return false;
  return e.cause != "client_terminate" && e.cause != "cancel_request";
}

HttpResponse events_answer(observe::EventBus& bus, const HttpRequest& req, bool drops_only) {
  EventQuery q;
  if (auto problem = read_query(req, q)) return bad_request(*problem);
  auto all = bus.recent(std::numeric_limits<size_t>::max());
  std::vector<const observe::ConnectionEvent*> picked;
  for (auto it = all.rbegin(); it != all.rend() && picked.size() < q.limit; ++it) {
    const auto& e = *it;
    if (q.since && e.ts < *q.since) break;  // newest first: the rest are older
    if (drops_only && !is_drop(e)) continue;
    if (!q.event.empty() && e.event != q.event) continue;
    if (!q.cause.empty() && e.cause != q.cause) continue;
    if (!q.side.empty() && e.side != q.side) continue;
    if (!q.initiator.empty() && e.initiator != q.initiator) continue;
    if (!q.pool.empty() && e.pool != q.pool) continue;
    picked.push_back(&e);
  }
  // Oldest first, as a log reads; the serialised form is the event line.
  std::string body = "{\"events\":[";
  for (auto it = picked.rbegin(); it != picked.rend(); ++it) {
    if (it != picked.rbegin()) body += ',';
    body += observe::to_json(**it);
  }
  body += fmt::format("],\"count\":{}}}\n", picked.size());
  return {200, "application/json", body};
}

json pools_json(proxy::Proxy& px) {
  std::map<std::string, std::map<std::string, int>> clients;
  for (const auto& c : px.clients())
    if (!c.pool.empty()) clients[c.pool][proxy::to_string(c.state)]++;
  json out = json::array();
  for (const auto& st : px.pools().stats()) {
    const std::string key = st.database + "/" + st.user;
    json j{{"pool", key},
           {"database", st.database},
           {"user", st.user},
           {"mode", st.mode},
           {"size", st.size},
           {"servers", {{"active", st.active}, {"idle", st.idle}, {"opening", st.opening}}},
           {"clients", clients[key]},
           {"waiting", st.waiting},
           {"paused", px.pools().is_paused(st.database)},
           {"wait_timeouts", st.wait_timeouts},
           {"checkouts", st.acquired},
           {"max_wait_ms", st.max_wait_ms}};
    out.push_back(std::move(j));
  }
  return out;
}

// A replication connection's stream (docs/replication.md).
json replication_json(const proxy::ReplicationInfo& r) {
  const auto& st = r.stats;
  json j{{"mode", r.mode},
         {"phase", wire::to_string(st.phase)},
         {"backend", r.backend},
         {"backend_pid", r.backend_pid},
         {"bytes_from_server", st.bytes_from_server},
         {"bytes_from_client", st.bytes_from_client},
         {"messages_from_server", st.messages_from_server},
         {"messages_from_client", st.messages_from_client},
         {"xlog_messages", st.xlog_messages},
         {"keepalives", st.keepalives},
         {"status_updates", st.status_updates},
         {"lag_bytes", st.lag_bytes()}};
  if (st.last_server_message_ns)
    j["last_server_message_age_seconds"] =
        double(std::chrono::steady_clock::now().time_since_epoch().count() -
               st.last_server_message_ns) /
        1e9;
  auto lsn = [&](const char* k, uint64_t v) {
    if (v) j[k] = wire::format_lsn(v);
  };
  lsn("server_wal_end", st.server_wal_end);
  lsn("write_lsn", st.write_lsn);
  lsn("flush_lsn", st.flush_lsn);
  lsn("apply_lsn", st.apply_lsn);
  return j;
}

json clients_json(proxy::Proxy& px) {
  json out = json::array();
  for (const auto& c : px.clients()) {
    json j{{"conn_id", c.id},
           {"peer", c.peer},
           {"state", proxy::to_string(c.state)},
           {"connected_at", iso(c.connected_at)},
           {"last_request", iso(c.last_request)}};
    if (c.state != proxy::ClientState::authenticating) {
      j["database"] = c.database;
      j["user"] = c.user;
      j["pool"] = c.pool;
      j["application_name"] = c.application_name;
    }
    if (c.server_id) j["server_conn_id"] = c.server_id;
    if (!c.tls.empty()) j["tls"] = c.tls;
    if (c.replication) j["replication"] = replication_json(*c.replication);
    out.push_back(std::move(j));
  }
  return out;
}

json servers_json(proxy::Proxy& px) {
  json out = json::array();
  for (const auto& s : px.pools().servers()) {
    json j{{"conn_id", s.id},
           {"pool", s.pool},
           {"backend", s.backend},
           {"backend_pid", s.backend_pid},
           {"state", s.state},
           {"connected_at", iso(s.connected_at)},
           {"last_used", iso(s.last_used)}};
    if (s.client_id) j["client_conn_id"] = s.client_id;
    if (!s.tls.empty()) j["tls"] = s.tls;
    out.push_back(std::move(j));
  }
  return out;
}

json capacity_json(proxy::Proxy& px) {
  json out = json::array();
  for (const auto& c : px.capacities()) {
    json j{{"backend", c.backend}, {"up", c.up}};
    if (c.up && c.max_connections) {
      j["max_connections"] = c.max_connections;
      j["superuser_reserved_connections"] = c.reserved;
      j["backends"] = c.in_use;
      j["headroom"] = c.headroom();
    }
    if (!c.error.empty()) j["error"] = c.error;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

std::optional<observe::SystemClock::time_point> parse_rfc3339(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return std::nullopt;
  long micros = 0;
  if (*end == '.') {
    ++end;
    int digits = 0;
    while (*end >= '0' && *end <= '9') {
      if (digits < 6) {
        micros = micros * 10 + (*end - '0');
        ++digits;
      }
      ++end;
    }
    if (digits == 0) return std::nullopt;
    while (digits++ < 6) micros *= 10;
  }
  if (std::string_view(end) != "Z") return std::nullopt;
  const std::time_t secs = timegm(&tm);
  // Nanosecond time points end in 2262: later times mean "after everything".
  if (secs > 9'000'000'000LL) return observe::SystemClock::time_point::max();
  return observe::SystemClock::time_point(std::chrono::seconds(secs)) +
         std::chrono::microseconds(micros);
}

void install_api(HttpServer& server, ApiSources src) {
  auto s = std::make_shared<ApiSources>(std::move(src));
  server.route("GET", "/metrics", [s](const HttpRequest&) {
    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", s->metrics.exposition()};
  });
  server.route("GET", "/healthz", [s](const HttpRequest&) {
    return json_ok({{"status", "ok"}, {"version", kVersion}});
  });
  server.route("GET", "/api/pools",
               [s](const HttpRequest&) { return json_ok(pools_json(s->proxy)); });
  server.route("GET", "/api/clients",
               [s](const HttpRequest&) { return json_ok(clients_json(s->proxy)); });
  server.route("GET", "/api/servers", [s](const HttpRequest&) {
    return json_ok({{"servers", servers_json(s->proxy)}, {"capacity", capacity_json(s->proxy)}});
  });
  server.route("GET", "/api/events",
               [s](const HttpRequest& r) { return events_answer(s->bus, r, false); });
  server.route("GET", "/api/drops",
               [s](const HttpRequest& r) { return events_answer(s->bus, r, true); });
  server.route("GET", "/api/diagnosis", [s](const HttpRequest&) {
    json closes = json::array();
    for (const auto& [k, n] : s->bus.close_counts())
      closes.push_back(
          {{"side", k.side}, {"initiator", k.initiator}, {"cause", k.cause}, {"count", n}});
    json j{{"closes", closes}, {"capacity", capacity_json(s->proxy)}};
    j["findings"] = s->findings ? s->findings() : json::array();
    return json_ok(j);
  });
  server.route("GET", "/api/alerts", [s](const HttpRequest&) {
    return json_ok({{"alerts", s->alerts ? s->alerts() : json::array()}});
  });
}

}  // namespace pgw::admin
