#include "pgwarden/proxy/console.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

#include "pgwarden/core/version.hpp"
#include "pgwarden/proxy/proxy.hpp"
#include "pgwarden/proxy/session.hpp"
#include "pgwarden/wire/codec.hpp"

namespace pgw::proxy {

namespace {

using Row = std::vector<std::optional<std::string>>;
using wire::kInt8Oid;
using wire::kTextOid;

std::string num(int64_t v) {
  return std::to_string(v);
}

// PgBouncer's timestamp form: "2026-11-27 05:52:16 UTC".
std::string pg_time(std::chrono::system_clock::time_point tp) {
  std::time_t t = std::chrono::system_clock::to_time_t(tp);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", tm);
}

std::string ptr(uint64_t id) {
  return fmt::format("0x{:x}", id);
}

std::string result_set(const std::vector<wire::Column>& cols, const std::vector<Row>& rows,
                       const std::string& tag) {
  std::string out;
  wire::row_description(out, cols);
  for (const auto& r : rows) wire::data_row(out, r);
  wire::command_complete(out, tag);
  return out;
}

std::string error(const char* sqlstate, const std::string& message) {
  std::string out;
  wire::error_response(out, {"ERROR", sqlstate, message});
  return out;
}

std::vector<wire::Column> columns(std::initializer_list<std::pair<const char*, uint32_t>> list) {
  std::vector<wire::Column> cols;
  for (auto& [n, t] : list) cols.push_back({n, t});
  return cols;
}

std::pair<std::string, std::string> split_host_port(const std::string& hp) {
  auto colon = hp.rfind(':');
  if (colon == std::string::npos) return {hp, "0"};
  return {hp.substr(0, colon), hp.substr(colon + 1)};
}

// Words of a console command, upper-cased keyword first; identifiers keep
// their case (database names are case-sensitive), quotes removed.
std::vector<std::string> words(std::string_view sql) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (char c : sql) {
    if (c == '"') {
      quoted = !quoted;
      continue;
    }
    if (!quoted && (std::isspace(static_cast<unsigned char>(c)) || c == ';')) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
      continue;
    }
    cur.push_back(c);
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

int64_t us_between(std::chrono::system_clock::time_point a,
                   std::chrono::system_clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::microseconds>(b - a).count();
}

}  // namespace

Console::Console(Proxy& proxy, std::string user, bool may_control)
    : proxy_(proxy), user_(std::move(user)), may_control_(may_control) {}

ConsoleResult Console::execute(std::string_view sql) {
  auto w = words(sql);
  if (w.empty()) {
    std::string out;
    out.push_back('I');  // EmptyQueryResponse
    wire::put_u32(out, 4);
    return {out, {}, {}};
  }
  const std::string verb = upper(w[0]);
  if (verb == "SHOW") {
    if (w.size() != 2)
      return {error("42601", "usage: SHOW POOLS|CLIENTS|SERVERS|STATS|DATABASES|VERSION"), {}, {}};
    return {show(upper(w[1])), {}, {}};
  }
  if (verb == "PAUSE" || verb == "RESUME" || verb == "KILL" || verb == "RELOAD") {
    if (w.size() > 2) return {error("42601", fmt::format("usage: {} [database]", verb)), {}, {}};
    if (!may_control_)
      return {error("42501", fmt::format("pgwarden: user \"{}\" may only run SHOW commands; "
                                         "{} needs a user listed in admin.admin_users",
                                         user_, verb)),
              {},
              {}};
    return control(verb, w.size() == 2 ? w[1] : "");
  }
  return {
      error("42601",
            fmt::format("pgwarden console: unknown command \"{}\"; supported: SHOW "
                        "POOLS|CLIENTS|SERVERS|STATS|DATABASES|REPLICATION|VERSION, PAUSE [db], "
                        "RESUME [db], KILL db, RELOAD",
                        w[0])),
      {},
      {}};
}

std::string Console::show(std::string_view what) {
  if (what == "POOLS") return show_pools();
  if (what == "CLIENTS") return show_clients();
  if (what == "SERVERS") return show_servers();
  if (what == "STATS") return show_stats();
  if (what == "DATABASES") return show_databases();
  if (what == "REPLICATION") return show_replication();
  if (what == "VERSION")
    return result_set(columns({{"version", kTextOid}}), {{fmt::format("pgwarden {}", kVersion)}},
                      "SHOW");
  return error("42601", fmt::format("pgwarden console: SHOW {} is not supported; supported: "
                                    "POOLS, CLIENTS, SERVERS, STATS, DATABASES, REPLICATION, "
                                    "VERSION",
                                    what));
}

std::string Console::show_pools() {
  auto cols = columns({{"database", kTextOid},
                       {"user", kTextOid},
                       {"cl_active", kInt8Oid},
                       {"cl_waiting", kInt8Oid},
                       {"cl_active_cancel_req", kInt8Oid},
                       {"cl_waiting_cancel_req", kInt8Oid},
                       {"sv_active", kInt8Oid},
                       {"sv_active_cancel", kInt8Oid},
                       {"sv_being_canceled", kInt8Oid},
                       {"sv_idle", kInt8Oid},
                       {"sv_used", kInt8Oid},
                       {"sv_tested", kInt8Oid},
                       {"sv_login", kInt8Oid},
                       {"maxwait", kInt8Oid},
                       {"maxwait_us", kInt8Oid},
                       {"pool_mode", kTextOid}});
  struct ClientCounts {
    int active = 0, waiting = 0;
    int64_t max_wait_us = 0;
  };
  std::map<std::string, ClientCounts> by_pool;
  const auto now = std::chrono::system_clock::now();
  for (const auto& c : proxy_.clients()) {
    if (c.state == ClientState::authenticating || c.pool.empty()) continue;
    auto& cc = by_pool[c.pool];
    if (c.state == ClientState::waiting_for_server) {
      ++cc.waiting;
      cc.max_wait_us = std::max(cc.max_wait_us, us_between(c.wait_started, now));
    } else {
      ++cc.active;
    }
  }
  std::vector<Row> rows;
  for (const auto& st : proxy_.pools().stats()) {
    const auto& cc = by_pool[st.database + "/" + st.user];
    rows.push_back({st.database, st.user, num(cc.active), num(cc.waiting), "0", "0", num(st.active),
                    "0", "0", num(st.idle), "0", "0", num(st.opening),
                    num(cc.max_wait_us / 1'000'000), num(cc.max_wait_us % 1'000'000), st.mode});
  }
  return result_set(cols, rows, "SHOW");
}

namespace {
std::vector<wire::Column> connection_columns() {
  return columns({{"type", kTextOid},
                  {"user", kTextOid},
                  {"database", kTextOid},
                  {"state", kTextOid},
                  {"addr", kTextOid},
                  {"port", kInt8Oid},
                  {"local_addr", kTextOid},
                  {"local_port", kInt8Oid},
                  {"connect_time", kTextOid},
                  {"request_time", kTextOid},
                  {"wait", kInt8Oid},
                  {"wait_us", kInt8Oid},
                  {"close_needed", kInt8Oid},
                  {"ptr", kTextOid},
                  {"link", kTextOid},
                  {"remote_pid", kInt8Oid},
                  {"tls", kTextOid},
                  {"application_name", kTextOid}});
}
}  // namespace

std::string Console::show_clients() {
  std::vector<Row> rows;
  const auto now = std::chrono::system_clock::now();
  for (const auto& c : proxy_.clients()) {
    if (c.state == ClientState::authenticating) continue;
    const bool waiting = c.state == ClientState::waiting_for_server;
    const int64_t wait_us = waiting ? us_between(c.wait_started, now) : 0;
    auto [addr, port] = split_host_port(c.peer);
    auto [laddr, lport] = split_host_port(c.local);
    rows.push_back({"C", c.user, c.database, waiting ? "waiting" : "active", addr, port, laddr,
                    lport, pg_time(c.connected_at), pg_time(c.last_request),
                    num(wait_us / 1'000'000), num(wait_us % 1'000'000), "0", ptr(c.id),
                    c.server_id ? std::optional<std::string>(ptr(c.server_id)) : std::string(), "0",
                    c.tls, c.application_name});
  }
  return result_set(connection_columns(), rows, "SHOW");
}

std::string Console::show_replication() {
  auto cols = columns({{"ptr", kTextOid},
                       {"user", kTextOid},
                       {"database", kTextOid},
                       {"application_name", kTextOid},
                       {"replication", kTextOid},
                       {"phase", kTextOid},
                       {"backend", kTextOid},
                       {"remote_pid", kInt8Oid},
                       {"bytes_from_server", kInt8Oid},
                       {"bytes_from_client", kInt8Oid},
                       {"server_wal_end", kTextOid},
                       {"write_lsn", kTextOid},
                       {"flush_lsn", kTextOid},
                       {"apply_lsn", kTextOid},
                       {"lag_bytes", kInt8Oid},
                       {"last_message_age_ms", kInt8Oid}});
  std::vector<Row> rows;
  const int64_t now = SteadyClock::now().time_since_epoch().count();
  for (const auto& c : proxy_.clients()) {
    if (!c.replication) continue;
    const auto& r = *c.replication;
    const auto& st = r.stats;
    auto lsn = [](uint64_t v) { return v ? wire::format_lsn(v) : std::string(); };
    rows.push_back(
        {ptr(c.id), c.user, c.database, c.application_name, r.mode, wire::to_string(st.phase),
         r.backend, num(r.backend_pid), num(static_cast<int64_t>(st.bytes_from_server)),
         num(static_cast<int64_t>(st.bytes_from_client)), lsn(st.server_wal_end), lsn(st.write_lsn),
         lsn(st.flush_lsn), lsn(st.apply_lsn), num(static_cast<int64_t>(st.lag_bytes())),
         st.last_server_message_ns
             ? std::optional<std::string>(num((now - st.last_server_message_ns) / 1'000'000))
             : std::nullopt});
  }
  return result_set(cols, rows, "SHOW");
}

std::string Console::show_servers() {
  std::vector<Row> rows;
  for (const auto& s : proxy_.pools().servers()) {
    auto [addr, port] = split_host_port(s.backend);
    rows.push_back({"S", s.user, s.database, s.state, addr, port, s.local_addr, num(s.local_port),
                    pg_time(s.connected_at), pg_time(s.last_used), "0", "0", "0", ptr(s.id),
                    s.client_id ? std::optional<std::string>(ptr(s.client_id)) : std::string(),
                    num(s.backend_pid), s.tls, ""});
  }
  return result_set(connection_columns(), rows, "SHOW");
}

std::string Console::show_stats() {
  auto cols = columns({{"database", kTextOid},
                       {"total_xact_count", kInt8Oid},
                       {"total_query_count", kInt8Oid},
                       {"total_received", kInt8Oid},
                       {"total_sent", kInt8Oid},
                       {"total_xact_time", kInt8Oid},
                       {"total_query_time", kInt8Oid},
                       {"total_wait_time", kInt8Oid},
                       {"avg_xact_count", kInt8Oid},
                       {"avg_query_count", kInt8Oid},
                       {"avg_recv", kInt8Oid},
                       {"avg_sent", kInt8Oid},
                       {"avg_xact_time", kInt8Oid},
                       {"avg_query_time", kInt8Oid},
                       {"avg_wait_time", kInt8Oid}});
  struct Totals {
    uint64_t xact = 0, query = 0, received = 0, sent = 0, waits = 0;
    double xact_s = 0, query_s = 0, wait_s = 0;
  };
  std::map<std::string, Totals> by_db;
  for (auto& p : proxy_.pools().pools()) {
    auto& t = by_db[p->settings().database];
    const auto& m = p->metrics();
    auto x = m.transaction->snapshot(), q = m.query->snapshot(), w = m.wait->snapshot();
    t.xact += x.count;
    t.xact_s += x.sum;
    t.query += q.count;
    t.query_s += q.sum;
    t.waits += w.count;
    t.wait_s += w.sum;
    t.received += m.received->value();
    t.sent += m.sent->value();
  }
  // PgBouncer's avg_* columns: per-second rates (counts, bytes) and mean
  // durations in µs; pgwarden averages over its uptime.
  const double up = std::max(1.0, proxy_.uptime_seconds());
  auto per_s = [&](uint64_t v) { return num(static_cast<int64_t>(static_cast<double>(v) / up)); };
  auto mean_us = [](double sum_s, uint64_t n) {
    return num(n ? static_cast<int64_t>(sum_s * 1e6 / static_cast<double>(n)) : 0);
  };
  std::vector<Row> rows;
  for (auto& [db, t] : by_db) {
    rows.push_back({db, num(static_cast<int64_t>(t.xact)), num(static_cast<int64_t>(t.query)),
                    num(static_cast<int64_t>(t.received)), num(static_cast<int64_t>(t.sent)),
                    num(static_cast<int64_t>(t.xact_s * 1e6)),
                    num(static_cast<int64_t>(t.query_s * 1e6)),
                    num(static_cast<int64_t>(t.wait_s * 1e6)), per_s(t.xact), per_s(t.query),
                    per_s(t.received), per_s(t.sent), mean_us(t.xact_s, t.xact),
                    mean_us(t.query_s, t.query), mean_us(t.wait_s, t.waits)});
  }
  return result_set(cols, rows, "SHOW");
}

std::string Console::show_databases() {
  auto cols = columns({{"name", kTextOid},
                       {"host", kTextOid},
                       {"port", kInt8Oid},
                       {"database", kTextOid},
                       {"force_user", kTextOid},
                       {"pool_size", kInt8Oid},
                       {"min_pool_size", kInt8Oid},
                       {"reserve_pool", kInt8Oid},
                       {"pool_mode", kTextOid},
                       {"max_connections", kInt8Oid},
                       {"current_connections", kInt8Oid},
                       {"paused", kInt8Oid},
                       {"disabled", kInt8Oid}});
  const ProxyConfig& cfg = proxy_.config();
  std::map<std::string, int64_t> current;
  for (const auto& st : proxy_.pools().stats())
    current[st.database] += st.active + st.idle + st.opening;
  std::vector<Row> rows;
  for (const auto& [name, d] : cfg.databases) {
    rows.push_back({name, d.host, num(d.port), d.dbname,
                    d.user ? std::optional<std::string>(*d.user) : std::nullopt,
                    num(d.pool_size.value_or(cfg.default_pool_size)),
                    num(d.min_pool_size.value_or(cfg.min_pool_size)),
                    num(d.reserve_pool_size.value_or(cfg.reserve_pool_size)),
                    to_string(d.pool_mode.value_or(cfg.pool_mode)), num(d.max_db_connections),
                    num(current[name]), proxy_.pools().is_paused(name) ? "1" : "0", "0"});
  }
  return result_set(cols, rows, "SHOW");
}

ConsoleResult Console::control(const std::string& verb, const std::string& arg) {
  const ProxyConfig& cfg = proxy_.config();
  if (!arg.empty() && !cfg.databases.count(arg))
    return {error("3D000", fmt::format("no such database: {}", arg)), {}, {}};
  std::string done;
  wire::command_complete(done, verb);
  if (verb == "PAUSE") {
    auto pools = proxy_.pools().pause(arg, "admin_pause");
    return {{}, std::move(pools), verb};
  }
  if (verb == "RESUME") {
    if (!proxy_.pools().resume(arg))
      return {error("55000", fmt::format("all databases are paused: RESUME (without a database) "
                                         "first, then PAUSE the ones to keep paused; {} stays "
                                         "paused",
                                         arg)),
              {},
              {}};
    return {done, {}, {}};
  }
  if (verb == "KILL") {
    if (arg.empty())
      return {error("42601", "KILL needs a database: KILL db (then RESUME db to serve it again)"),
              {},
              {}};
    proxy_.pools().pause(arg, "admin_kill");
    for (auto& s : proxy_.sessions(arg))
      s->terminate("admin_kill", sqlstate::kAdminShutdown,
                   fmt::format("pgwarden: connection killed by an administrator (KILL {})", arg));
    return {done, {}, {}};
  }
  // RELOAD
  std::string problem = proxy_.reload();
  if (!problem.empty()) return {error("F0000", problem), {}, {}};
  return {done, {}, {}};
}

}  // namespace pgw::proxy
